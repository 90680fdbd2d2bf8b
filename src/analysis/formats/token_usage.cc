// API-proxy token-usage.jsonl: one line per upstream API call, with
// provider-native input counts.
#include <algorithm>
#include <optional>

#include "src/analysis/formats/formats.h"
#include "tokmeter/provider_usage.h"

namespace tokmeter::analysis::reader_internal {

bool SniffTokenUsage(std::string_view line) {
  if (Contains(Head(line, 128), "\"_schema\":\"token-usage")) return true;
  std::string_view h = Head(line, 8192);
  if (Contains(h, "\"event\":\"token_usage\"")) return true;
  // Counters and a provider, but not a tokmeter span or summary whose
  // "type" is not first (those carry the same field names).
  return Contains(h, "\"input_tokens\":") && Contains(h, "\"provider\":") &&
         Contains(h, "\"output_tokens\":") && !Contains(h, "\"type\":\"span\"") &&
         !Contains(h, "\"type\":\"turn_summary\"");
}

LineResult ParseTokenUsage(std::string_view line, ParseContext& ctx) {
  JsonCapture& cap = Capture();
  if (!cap.Parse(line, 1)) return LineResult::kBad;
  ParsedRecord& rec = ctx.out->emplace_back();
  rec.line = ctx.line;
  UsageEvent& ev = rec.ev;
  ev.format = SourceFormat::kTokenUsage;
  ev.kind = "llm";
  ev.requests = 1;
  int64_t input = 0, cache_write = 0;
  std::string_view path;
  bool time_ok = true;
  for (const JsonField& f : cap.fields()) {
    std::string_view p = f.path;
    if (p == "timestamp")
      time_ok = ReadTime(f, &ev.time_unix_ns);
    else if (p == "provider")
      ev.provider = ctx.Keep(f.text);
    else if (p == "model")
      ev.model = ctx.Keep(f.text);
    else if (p == "input_tokens")
      input = Count(f);
    else if (p == "output_tokens")
      ev.tokens.output = Count(f);
    else if (p == "cache_read_tokens")
      ev.tokens.cache_read = Count(f);
    else if (p == "cache_write_tokens")
      cache_write = Count(f);
    else if (p == "reasoning_tokens")
      ev.tokens.reasoning = Count(f);
    else if (p == "status")
      ev.status = f.i;
    else if (p == "duration_ms") {
      if (f.d >= 0 && f.d < 1e12) ev.duration_ns = int64_t(f.d * 1e6);
    } else if (p == "response_bytes")
      ev.response_bytes = Count(f);
    else if (p == "request_id") {
      ev.span_id = ctx.Keep(f.text);
      AddTag(ev, "request_id", ev.span_id, ctx);
    } else if (p == "path") {
      path = ctx.Keep(f.text);
      ev.name = path;
      AddTag(ev, "path", path, ctx);
    } else if (p == "streaming" && f.kind == JsonField::kBool) {
      AddTag(ev, "streaming", f.i ? "true" : "false", ctx);  // literals: outlive the line
    } else if (p == "x_initiator" && f.kind == JsonField::kString) {
      AddTag(ev, "initiator", ctx.Keep(f.text), ctx);
    }
  }
  if (!time_ok) {
    ctx.out->pop_back();
    return LineResult::kBad;
  }
  // input_tokens is provider-native: Anthropic excludes the cache, OpenAI /
  // Copilot / Gemini include the cache read (InputIncludesCache). Unknown
  // providers are judged by the API path (/messages is the Anthropic API).
  std::optional<bool> includes = InputIncludesCache(ev.provider);
  bool exclusive = includes.has_value() ? !*includes : Contains(path, "/messages");
  ev.tokens.input = exclusive ? input : std::max<int64_t>(0, input - ev.tokens.cache_read);
  // token-usage records have no TTL split: count writes as 5-minute, flagged.
  ev.tokens.cache_write_5m = cache_write;
  ev.ttl_unknown = cache_write > 0;
  if (ev.status == 429) ev.rate_limited = 1;
  ev.tokens.reasoning = std::min(ev.tokens.reasoning, ev.tokens.output);
  return LineResult::kOk;
}

}  // namespace tokmeter::analysis::reader_internal
