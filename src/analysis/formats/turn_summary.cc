// turn_summary lines of agent runtimes: one line per conversation turn with
// tokens_in / tokens_out, tool calls, rate limits and retries.
#include "src/analysis/formats/formats.h"

namespace tokmeter::analysis::reader_internal {

bool SniffTurnSummary(std::string_view line) {
  return line.size() < 65536 && Contains(line, "\"kind\":\"turn_summary\"");
}

LineResult ParseTurnSummary(std::string_view line, ParseContext& ctx) {
  JsonCapture& cap = Capture();
  if (!cap.Parse(line, 2)) return LineResult::kBad;
  ParsedRecord rec;
  rec.line = ctx.line;
  UsageEvent& ev = rec.ev;
  ev.format = SourceFormat::kTurnSummary;
  ev.kind = "turn_summary";
  ev.cache_reported = false;  // unless the line has cache fields
  bool has_requests = false;
  for (const JsonField& f : cap.fields()) {
    std::string_view p = f.path;
    if (p.size() > 5 && p.compare(0, 5, "tags.") == 0) {
      if (f.kind == JsonField::kNull) continue;
      std::string_view k = p.substr(5);
      if (k == "cron_job_id" || k == "job_id")
        AddTag(ev, "job", ctx.Keep(f.text), ctx);
      else if (k == "agentId")
        AddTag(ev, "agent", ctx.Keep(f.text), ctx);
      else
        AddTag(ev, k, ctx.Keep(f.text), ctx);
      continue;
    }
    if (p == "ts" || p == "timestamp") {
      if (!ReadTime(f, &ev.time_unix_ns)) return LineResult::kBad;
    } else if (p == "sessionKey") {
      ev.trace_id = ctx.Keep(f.text);
      AddTag(ev, "session", ev.trace_id, ctx);
    } else if (p == "channel")
      AddTag(ev, "channel", ctx.Keep(f.text), ctx);
    else if (p == "model")
      ev.model = ctx.Keep(f.text);
    else if (p == "provider")
      ev.provider = ctx.Keep(f.text);
    else if (p == "tokens_in")
      ev.tokens.input = Count(f);
    else if (p == "tokens_out")
      ev.tokens.output = Count(f);
    else if (p == "cache_read_tokens") {
      ev.tokens.cache_read = Count(f);
      ev.cache_reported = true;
    } else if (p == "cache_write_tokens") {
      ev.tokens.cache_write_5m = Count(f);
      ev.ttl_unknown = Count(f) > 0;
    } else if (p == "tool_calls" || p == "tool_calls_total")
      ev.tool_calls = Count(f);
    else if (p == "requests" || p == "requests_total") {
      ev.requests = Count(f);
      has_requests = true;
    } else if (p == "rate_limits" || p == "rate_limit_count")
      ev.rate_limited = Count(f);
    else if (p == "retry_count")
      ev.retries = Count(f);
    else if (p == "retry_wait_ms" || p == "retry_wait_ms_total")
      ev.retry_wait_ms = Count(f);
    else if (p == "duration_ms" || p == "turn_duration_ms") {
      if (f.d >= 0 && f.d < 1e12) ev.duration_ns = int64_t(f.d * 1e6);
    }
  }
  // "openai-codex/gpt-5.2": the part before '/' names the provider.
  if (ev.provider.empty()) {
    size_t slash = ev.model.find('/');
    if (slash != std::string_view::npos) ev.provider = ev.model.substr(0, slash);
  }
  (void)has_requests;
  ctx.out->push_back(std::move(rec));
  return LineResult::kOk;
}

}  // namespace tokmeter::analysis::reader_internal
