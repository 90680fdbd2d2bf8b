// The line formats tokmeter reads and their registry (reader_internal.h).
// Each parser turns one line into Records; the stateful parts (trace tags,
// Codex model and totals, Claude Code dedup) are applied later, in input
// order, by reader.cc.
#include <algorithm>
#include <array>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <simdjson.h>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/analysis/codex_format.h"
#include "src/analysis/json_capture.h"
#include "src/analysis/reader.h"
#include "src/analysis/reader_internal.h"
#include "src/model/jsonl_schema.h"
#include "tokmeter/counters.h"
#include "tokmeter/provider_usage.h"

namespace tokmeter::analysis::reader_internal {

int64_t Count(const JsonField& f) {
  if (f.kind != JsonField::kInt && f.kind != JsonField::kDouble) return 0;
  return std::clamp<int64_t>(f.i, 0, kMaxTokenCount);
}

JsonCapture& Capture() {
  thread_local JsonCapture capture;
  return capture;
}

bool LooksLikeObject(std::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i < line.size() && line[i] == '{' && line.back() == '}';
}

bool ReadTime(const JsonField& f, int64_t* unix_ns) {
  if (f.kind == JsonField::kNull || (f.kind == JsonField::kString && f.text.empty())) return true;
  return f.kind == JsonField::kString && ParseTime(f.text, unix_ns);
}

namespace {

// `value` must outlive the chunk (a view into it, ctx.Keep()'s copy, or a
// literal): a JsonField's text may live in the parser's buffers.
void AddTag(UsageEvent& ev, std::string_view key, std::string_view value, ParseContext& ctx) {
  ev.SetTag(ctx.Keep(key), value);
}

// ---------------------------------------------------------------------------
// tokmeter JSONL (docs/FORMAT.md).

bool SniffTokmeter(std::string_view line) {
  std::string_view h = Head(line, 64);
  return Contains(h, "\"type\":\"span\"") || Contains(h, "\"type\":\"trace\"") ||
         Contains(h, "\"type\":\"turn_summary\"") || Contains(h, "\"type\":\"drops\"");
}

// Applies one well-known counter field of tokmeter JSONL (kCounterNames,
// tokmeter/counters.h; switched on the length first: this runs for every
// field of every line); false if `key` is not one.
bool ApplyTokmeterCounter(std::string_view key, const JsonField& f, UsageEvent& ev,
                          int64_t* write_total, int64_t* write_1h) {
  int64_t v = Count(f);
  switch (key.size()) {
    case 6:
      if (key == CounterName(Counter::kErrors)) {
        ev.errors = v;
        return true;
      }
      return false;
    case 7:
      if (key == CounterName(Counter::kRetries)) {
        ev.retries = v;
        return true;
      }
      return false;
    case 8:
      if (key == CounterName(Counter::kRequests)) {
        ev.requests = v;
        return true;
      }
      return false;
    case 10:
      if (key == CounterName(Counter::kToolCalls)) {
        ev.tool_calls = v;
        return true;
      }
      return false;
    case 12:
      if (key == CounterName(Counter::kInputTokens)) {
        ev.tokens.input = v;
        return true;
      }
      if (key == CounterName(Counter::kRateLimited)) {
        ev.rate_limited = v;
        return true;
      }
      return false;
    case 13:
      if (key == CounterName(Counter::kOutputTokens)) {
        ev.tokens.output = v;
        return true;
      }
      if (key == CounterName(Counter::kRetryWaitMs)) {
        ev.retry_wait_ms = v;
        return true;
      }
      return false;
    case 14:
      if (key == CounterName(Counter::kResponseBytes)) {
        ev.response_bytes = v;
        return true;
      }
      return false;
    case 16:
      if (key == CounterName(Counter::kReasoningTokens)) {
        ev.tokens.reasoning = v;
        return true;
      }
      return false;
    case 17:
      if (key == CounterName(Counter::kCacheReadTokens)) {
        ev.tokens.cache_read = v;
        return true;
      }
      return false;
    case 18:
      if (key == CounterName(Counter::kCacheWriteTokens)) {
        *write_total = v;
        return true;
      }
      return false;
    case 21:
      if (key == CounterName(Counter::kCacheWrite1hTokens)) {
        *write_1h = v;
        return true;
      }
      return false;
  }
  return false;
}

// simdjson On-Demand over one tokmeter line: the reader's hot path (tokmeter
// JSONL is what tokmeter itself writes, at millions of lines per file).
// Collects the top-level scalars into `fields` and the scalars of the "tags"
// object into `tags`, as JsonFields; nested objects and arrays other than
// "tags" are skipped. false when the line is not one well-formed JSON object.
// String views point into the line when it has no escapes, else into the
// parser's buffer (valid until the next line: callers Keep() what they use).
namespace sj = simdjson::ondemand;

struct TokmeterScan {
  sj::parser parser;
  std::string padded;  // the line copied with padding when the chunk lacks it
  std::vector<JsonField> fields, tags;
};
TokmeterScan& Scan() {
  thread_local TokmeterScan scan;
  return scan;
}

// Whether a key or string token needs unescaping. Tokens are short and
// there are ~20 per line: 8 bytes at a time (SWAR) beats a memchr call each.
bool HasBackslash(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    w ^= kOnes * uint8_t('\\');  // a zero byte where there was a backslash
    if ((w - kOnes) & ~w & kHigh) return true;
  }
  for (; n > 0; --n, ++p) {
    if (*p == '\\') return true;
  }
  return false;
}

// A JSON number token (RFC 8259 grammar, checked here: simdjson leaves
// scalars it is not asked to decode unchecked) as a JsonField.
bool ParseJsonNumber(std::string_view t, JsonField* f) {
  size_t i = 0;
  const size_t n = t.size();
  if (i < n && t[i] == '-') ++i;
  if (i >= n || !absl::ascii_isdigit(static_cast<unsigned char>(t[i]))) return false;
  if (t[i] == '0') {
    ++i;
  } else {
    while (i < n && absl::ascii_isdigit(static_cast<unsigned char>(t[i]))) ++i;
  }
  bool integral = true;
  if (i < n && t[i] == '.') {
    integral = false;
    ++i;
    if (i >= n || !absl::ascii_isdigit(static_cast<unsigned char>(t[i]))) return false;
    while (i < n && absl::ascii_isdigit(static_cast<unsigned char>(t[i]))) ++i;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    integral = false;
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= n || !absl::ascii_isdigit(static_cast<unsigned char>(t[i]))) return false;
    while (i < n && absl::ascii_isdigit(static_cast<unsigned char>(t[i]))) ++i;
  }
  if (i != n) return false;
  f->text = t;
  if (integral) {
    int64_t v = 0;
    auto r = std::from_chars(t.data(), t.data() + n, v);
    if (r.ec == std::errc()) {
      f->kind = JsonField::kInt;
      f->i = v;
      f->d = double(v);
      return true;
    }
    // Beyond int64: kept as a number, clamped (as for unsigned 64-bit values).
  }
  double d = 0;
  auto r = std::from_chars(t.data(), t.data() + n, d);
  if (r.ec == std::errc::result_out_of_range) {
    d = std::strtod(std::string(t).c_str(), nullptr);  // ±HUGE_VAL or 0, as JSON parsers do
  } else if (r.ec != std::errc()) {
    return false;
  }
  f->kind = integral ? JsonField::kInt : JsonField::kDouble;
  f->d = d;
  f->i = !std::isfinite(d) ? (d > 0   ? std::numeric_limits<int64_t>::max()
                              : d < 0 ? std::numeric_limits<int64_t>::min()
                                      : 0)
         : d >= 9.2e18     ? std::numeric_limits<int64_t>::max()
         : d <= -9.2e18    ? std::numeric_limits<int64_t>::min()
                           : int64_t(d);
  return true;
}

// One scalar as a JsonField (path left empty), decoded from its token;
// *scalar = false for objects and arrays (left to simdjson to skip). false
// on malformed JSON.
bool ReadScalar(sj::value v, JsonField* f, bool* scalar) {
  std::string_view raw = v.raw_json_token();  // the token and any whitespace after it
  while (!raw.empty() &&
         (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\r' || raw.back() == '\n')) {
    raw.remove_suffix(1);
  }
  if (raw.empty()) return false;
  *scalar = true;
  switch (raw[0]) {
    case '"':
      if (raw.size() < 2 || raw.back() != '"') return false;
      raw = raw.substr(1, raw.size() - 2);
      if (!HasBackslash(raw)) {
        f->text = raw;  // no escapes: the bytes themselves (UTF-8 checked by simdjson)
      } else if (v.get_string().get(f->text)) {
        return false;
      }
      f->kind = JsonField::kString;
      return true;
    case '{':
    case '[':
      *scalar = false;
      return true;
    case 't':
    case 'f':
      if (raw != "true" && raw != "false") return false;
      f->kind = JsonField::kBool;
      f->text = raw;
      f->i = raw[0] == 't';
      f->d = double(f->i);
      return true;
    case 'n':
      if (raw != "null") return false;
      f->kind = JsonField::kNull;
      f->text = {};
      return true;
    default:
      return ParseJsonNumber(raw, f);
  }
}

// The key of `field`: a view into the line when it has no escapes, else
// unescaped into the parser's buffer. Its end is found from the value's
// start (`"key" : value`), so the key is not scanned byte by byte.
bool FieldKey(sj::field& field, std::string_view value_token, std::string_view* key) {
  const char* k = field.key().raw();  // just after the opening quote
  const char* e = value_token.data();
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (e > k && ws(e[-1])) --e;
  if (e > k && e[-1] == ':') --e;
  while (e > k && ws(e[-1])) --e;
  if (e > k && e[-1] == '"') {
    --e;
    std::string_view raw(k, size_t(e - k));
    if (!HasBackslash(raw)) {
      *key = raw;
      return true;
    }
  }
  return !field.unescaped_key().get(*key);
}

bool ScanObject(sj::object obj, std::vector<JsonField>* out, std::vector<JsonField>* tags) {
  for (auto result : obj) {
    sj::field field;
    if (std::move(result).get(field)) return false;
    sj::value v = field.value();
    std::string_view key;
    if (!FieldKey(field, v.raw_json_token(), &key)) return false;
    JsonField f;
    bool scalar = false;
    if (!ReadScalar(v, &f, &scalar)) return false;
    if (scalar) {
      f.path = key;
      out->push_back(f);
    } else if (tags != nullptr && key == "tags") {
      sj::object inner;
      if (v.get_object().get(inner)) continue;  // "tags": [...] is ignored
      if (!ScanObject(inner, tags, nullptr)) return false;
    }
  }
  return true;
}

bool ScanTokmeterLine(std::string_view line, const ParseContext& ctx, TokmeterScan& scan) {
  scan.fields.clear();
  scan.tags.clear();
  if (!LooksLikeObject(line)) return false;
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: use the chunk's
  // own bytes when they are there, else a padded copy.
  const char* data = line.data();
  size_t cap = line.size() + simdjson::SIMDJSON_PADDING;
  if (ctx.readable_end == nullptr || ctx.readable_end - line.data() < ptrdiff_t(cap)) {
    scan.padded.assign(line);
    scan.padded.append(simdjson::SIMDJSON_PADDING, ' ');
    data = scan.padded.data();
  }
  sj::document doc;
  if (scan.parser.iterate(data, line.size(), cap).get(doc)) return false;
  sj::object obj;
  if (doc.get_object().get(obj)) return false;
  if (!ScanObject(obj, &scan.fields, &scan.tags)) return false;
  // Nothing after the object: LooksLikeObject saw '}' last, so the object
  // that just ended must end there too.
  const char* after = nullptr;
  if (!doc.current_location().get(after)) return false;  // not at the end yet
  return true;
}

// The non-counter fields of a tokmeter line, found by length then text.
enum class TokmeterField : uint8_t {
  kOther,
  kType,
  kTimestamp,
  kStart,
  kDurationMs,
  kTraceId,
  kSpanId,
  kParentId,
  kKind,
  kName,
  kProvider,
  kModel,
  kStatus,
  kFingerprint,
  kDropped,
  kScope,
  kTagField,  // tool, path, request_id, streaming: become tags of those names
};
TokmeterField TokmeterFieldOf(std::string_view k) {
  namespace jsonl = model::jsonl;
  using F = TokmeterField;
  switch (k.size()) {
    case 4:
      if (k == jsonl::kType) return F::kType;
      if (k == jsonl::kKind) return F::kKind;
      if (k == jsonl::kName) return F::kName;
      break;
    case 5:
      if (k == jsonl::kStart) return F::kStart;
      if (k == "model") return F::kModel;
      if (k == jsonl::kScope) return F::kScope;
      break;
    case 6:
      if (k == "status") return F::kStatus;
      break;
    case 7:
      if (k == jsonl::kSpanId) return F::kSpanId;
      if (k == jsonl::kDropped) return F::kDropped;
      break;
    case 8:
      if (k == jsonl::kTraceId) return F::kTraceId;
      if (k == "provider") return F::kProvider;
      break;
    case 9:
      if (k == jsonl::kTimestamp) return F::kTimestamp;
      if (k == jsonl::kParentId) return F::kParentId;
      break;
    case 11:
      if (k == jsonl::kDurationMs) return F::kDurationMs;
      if (k == jsonl::kFingerprint) return F::kFingerprint;
      break;
    default:
      break;
  }
  // The other top-level tags (tool, path, request_id, streaming) become
  // tags of those names; model, provider and status are fields of the event.
  return jsonl::IsTopLevelTag(k) ? F::kTagField : F::kOther;
}

LineResult ParseTokmeter(std::string_view line, ParseContext& ctx) {
  TokmeterScan& scan = Scan();
  if (!ScanTokmeterLine(line, ctx, scan)) return LineResult::kBad;
  Record& rec = ctx.out->emplace_back();
  rec.line = ctx.line;
  UsageEvent& ev = rec.ev;
  ev.format = SourceFormat::kTokmeterJsonl;
  std::string_view type;
  int64_t start_ns = 0, write_total = 0, write_1h = 0;
  std::string_view start;  // parsed only when there is no duration_ms
  bool has_duration = false, time_ok = true;
  double duration_ms = 0;
  for (const JsonField& f : scan.fields) {
    std::string_view p = f.path;
    if (ApplyTokmeterCounter(p, f, ev, &write_total, &write_1h)) continue;
    switch (TokmeterFieldOf(p)) {
      case TokmeterField::kType:
        type = f.text;
        break;
      case TokmeterField::kTimestamp:
        time_ok = ReadTime(f, &ev.time_unix_ns);
        break;
      case TokmeterField::kStart:
        start = f.text;
        break;
      case TokmeterField::kDurationMs:
        has_duration = f.kind != JsonField::kNull;
        duration_ms = f.d;
        break;
      case TokmeterField::kTraceId:
        ev.trace_id = ctx.Keep(f.text);
        break;
      case TokmeterField::kSpanId:
        ev.span_id = ctx.Keep(f.text);
        break;
      case TokmeterField::kParentId:
        ev.parent_id = ctx.Keep(f.text);
        break;
      case TokmeterField::kKind:
        ev.kind = ctx.Keep(f.text);
        break;
      case TokmeterField::kName:
        ev.name = ctx.Keep(f.text);
        break;
      case TokmeterField::kProvider:
        ev.provider = ctx.Keep(f.text);
        break;
      case TokmeterField::kModel:
        ev.model = ctx.Keep(f.text);
        break;
      case TokmeterField::kStatus:
        ev.status = f.i;
        break;
      case TokmeterField::kFingerprint:
        ev.fingerprint = ParseHex64(f.text);
        break;
      case TokmeterField::kDropped:
        rec.count = Count(f);
        break;
      case TokmeterField::kScope:
        AddTag(ev, "scope", ctx.Keep(f.text), ctx);
        break;
      case TokmeterField::kTagField:  // tool, path, request_id, streaming
        if (f.kind != JsonField::kNull) AddTag(ev, p, ctx.Keep(f.text), ctx);
        break;
      case TokmeterField::kOther:
        break;
    }
  }
  if (!time_ok) {
    ctx.out->pop_back();
    return LineResult::kBad;
  }
  // After the fields, as the writer puts "tags" after them: a span tag wins.
  for (const JsonField& f : scan.tags) {
    if (f.kind != JsonField::kNull) AddTag(ev, f.path, ctx.Keep(f.text), ctx);
  }
  ev.tokens.cache_write_1h = std::min(write_1h, write_total);
  ev.tokens.cache_write_5m = write_total - ev.tokens.cache_write_1h;
  ev.tokens.CapReasoning();
  if (has_duration && duration_ms >= 0 && duration_ms < 1e12) {
    ev.duration_ns = int64_t(duration_ms * 1e6);
  } else if (!start.empty() && ParseTime(start, &start_ns) && ev.time_unix_ns >= start_ns) {
    ev.duration_ns = ev.time_unix_ns - start_ns;
  }
  if (type == model::jsonl::kTypeSpan) {
    rec.type = RecordType::kEvent;
  } else if (type == model::jsonl::kTypeTurnSummary) {
    // Rollups duplicate span lines: a distinct kind keeps them out of totals.
    rec.type = RecordType::kEvent;
    if (!ev.kind.empty()) AddTag(ev, "turn_kind", ev.kind, ctx);
    ev.kind = kTurnSummaryRollupKind;
  } else if (type == model::jsonl::kTypeTrace) {
    rec.type = RecordType::kTrace;
    if (ev.trace_id.empty()) {
      ctx.out->pop_back();
      return LineResult::kBad;
    }
  } else if (type == model::jsonl::kTypeDrops) {
    rec.type = RecordType::kDrops;
  } else {
    ctx.out->pop_back();
    return LineResult::kOk;  // unknown type: ignored (docs/FORMAT.md)
  }
  return LineResult::kOk;
}

// ---------------------------------------------------------------------------
// gh-aw api-proxy token-usage.jsonl (FORMATS.md §f, seed 001).

bool SniffTokenUsage(std::string_view line) {
  if (Contains(Head(line, 128), "\"_schema\":\"token-usage")) return true;
  std::string_view h = Head(line, 8192);
  return Contains(h, "\"event\":\"token_usage\"") ||
         (Contains(h, "\"input_tokens\":") && Contains(h, "\"provider\":") &&
          Contains(h, "\"output_tokens\":"));
}

LineResult ParseTokenUsage(std::string_view line, ParseContext& ctx) {
  JsonCapture& cap = Capture();
  if (!cap.Parse(line, 1)) return LineResult::kBad;
  Record& rec = ctx.out->emplace_back();
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

// ---------------------------------------------------------------------------
// seed 000 turn_summary lines.

bool SniffTurnSummary(std::string_view line) {
  return line.size() < 65536 && Contains(line, "\"kind\":\"turn_summary\"");
}

LineResult ParseTurnSummary(std::string_view line, ParseContext& ctx) {
  JsonCapture& cap = Capture();
  if (!cap.Parse(line, 2)) return LineResult::kBad;
  Record rec;
  rec.line = ctx.line;
  UsageEvent& ev = rec.ev;
  ev.format = SourceFormat::kTurnSummary;
  ev.kind = "turn_summary";
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
    else if (p == "cache_read_tokens")
      ev.tokens.cache_read = Count(f);
    else if (p == "cache_write_tokens") {
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

// ---------------------------------------------------------------------------
// Claude Code transcripts (FORMATS.md §e).

bool SniffClaude(std::string_view line) {
  std::string_view h = Head(line, 512);
  return Contains(h, "\"parentUuid\":") || Contains(h, "\"sessionId\":\"") ||
         Contains(h, "\"type\":\"summary\"") || Contains(h, "\"type\":\"file-history-snapshot\"") ||
         Contains(h, "\"leafUuid\":");
}

// A raw `"usage":{` cannot occur inside a JSON string (its quotes would be
// escaped), so lines without it carry no usage.
bool HasNeedle(std::string_view line) { return Contains(line, "\"usage\":{"); }

struct ClaudeFields {
  std::string_view type, timestamp, session, cwd, request_id, agent, msg_id, model, error,
      outer_session, outer_cwd, outer_agent;
  bool sidechain = false, api_error = false;
  int64_t error_status = 0;
  RawUsage usage;  // message.usage, as the Anthropic API reports it
  bool has_usage = false;
  std::string_view speed;
};

void ClaudeField(std::string_view p, const JsonField& f, ClaudeFields& c) {
  // p is relative to the (possibly nested, for progress lines) transcript line.
  if (p.compare(0, 8, "message.") == 0) {
    std::string_view m = p.substr(8);
    if (m.compare(0, 6, "usage.") == 0) {
      std::string_view u = m.substr(6);
      c.has_usage = true;
      if (u == "speed") {
        c.speed = f.text;
      } else if (f.kind != JsonField::kNull) {  // null counts as absent (0)
        SetUsageField(Provider::kAnthropic, u, Count(f), c.usage);
      }
    } else if (m == "id") {
      c.msg_id = f.text;
    } else if (m == "model") {
      c.model = f.text;
    }
    return;
  }
  if (p == "timestamp")
    c.timestamp = f.text;
  else if (p == "sessionId")
    c.session = f.text;
  else if (p == "cwd")
    c.cwd = f.text;
  else if (p == "requestId")
    c.request_id = f.text;
  else if (p == "agentId")
    c.agent = f.text;
  else if (p == "isSidechain")
    c.sidechain = f.kind == JsonField::kBool && f.i;
  else if (p == "isApiErrorMessage")
    c.api_error = f.kind == JsonField::kBool && f.i;
  else if (p == "apiErrorStatus")
    c.error_status = f.i;
  else if (p == "error")
    c.error = f.text;
  else if (p == "type")
    c.type = f.text;
}

LineResult ParseClaude(std::string_view line, ParseContext& ctx) {
  bool has_usage = HasNeedle(line);
  if (!has_usage) {
    // Synthetic API-error lines may have no usage at all; they are short.
    bool error_line = line.size() < 16384 && Contains(line, "\"isApiErrorMessage\":true");
    if (!error_line) return LooksLikeObject(line) ? LineResult::kOk : LineResult::kBad;
  }
  // The message's content blocks (thinking, text, tool input: most of the
  // bytes) carry nothing we read. Replace that array by null and parse the
  // rest: the first `"content":[` is a real key (see above) and only header
  // fields precede it. The array is still checked to be balanced.
  thread_local std::string rebuilt;
  std::string_view text = line;
  size_t cpos = FastFind(line, "\"content\":[");
  if (cpos != std::string_view::npos) {
    size_t open = cpos + 10;
    size_t end = SkipBalanced(line, open);
    if (end == std::string_view::npos) return LineResult::kBad;
    rebuilt.assign(line.data(), open);
    rebuilt.append("null");
    rebuilt.append(line.data() + end, line.size() - end);
    text = rebuilt;
  }
  JsonCapture& cap = Capture();
  // Arrays too: message.usage.iterations[] holds the billed usage of
  // compacting requests.
  if (!cap.Parse(text, 6, /*capture_arrays=*/true)) return LineResult::kBad;
  ClaudeFields c;
  bool progress = false;
  for (const JsonField& f : cap.fields()) {
    if (f.path == "type" && f.text == "progress") progress = true;
  }
  for (const JsonField& f : cap.fields()) {
    std::string_view p = f.path;
    if (progress) {
      // progress lines: data.message is a nested transcript line.
      if (p.compare(0, 13, "data.message.") == 0) {
        ClaudeField(p.substr(13), f, c);
      } else if (p == "sessionId") {
        c.outer_session = f.text;
      } else if (p == "cwd") {
        c.outer_cwd = f.text;
      } else if (p == "data.agentId") {
        c.outer_agent = f.text;
      } else if (p == "timestamp" && c.timestamp.empty()) {
        c.timestamp = f.text;
      }
      continue;
    }
    ClaudeField(p, f, c);
  }
  if (progress) {
    if (c.session.empty()) c.session = c.outer_session;
    if (c.cwd.empty()) c.cwd = c.outer_cwd;
    if (c.agent.empty()) c.agent = c.outer_agent;
    c.sidechain = true;  // a subagent's message, also kept in subagents/*.jsonl
  } else if (!c.type.empty() && c.type != "assistant") {
    return LineResult::kOk;  // usage only counts on assistant lines
  }
  if (!c.has_usage && !c.api_error) return LineResult::kOk;
  Arena& a = *ctx.arena;
  Record rec;
  rec.type = RecordType::kClaude;
  rec.line = ctx.line;
  UsageEvent& ev = rec.ev;
  ev.format = SourceFormat::kClaudeCode;
  ev.kind = "llm";
  ev.requests = 1;
  if (!c.timestamp.empty() && !ParseTime(c.timestamp, &ev.time_unix_ns)) return LineResult::kBad;
  ev.model = a.Copy(c.model);
  if (SvStartsWith(c.model, "claude")) ev.provider = "anthropic";
  ev.trace_id = a.Copy(c.session);
  ev.span_id = a.Copy(c.msg_id);
  if (!c.session.empty()) ev.SetTag("session", ev.trace_id);
  if (!c.cwd.empty()) ev.SetTag("project", a.Copy(c.cwd));
  if (!c.agent.empty()) ev.SetTag("agent", a.Copy(c.agent));
  if (!c.request_id.empty()) ev.SetTag("request_id", a.Copy(c.request_id));
  if (c.sidechain) ev.SetTag("sidechain", "true");
  if (c.api_error) {
    // Locally generated error line: no tokens were billed.
    ev.errors = 1;
    if (c.error_status == 429 || c.error == "rate_limit") ev.rate_limited = 1;
    if (c.error_status > 0) ev.status = c.error_status;
  } else {
    NormalizedUsage n = NormalizeUsage(Provider::kAnthropic, c.usage);
    ev.tokens = n.buckets;
    ev.ttl_unknown = n.ttl_unknown;
    if (c.speed == "fast") ev.SetTag("speed", "fast");
  }
  rec.dedup_key = ev.span_id;
  rec.sidechain = c.sidechain;
  ctx.out->push_back(std::move(rec));
  return LineResult::kOk;
}

// ---------------------------------------------------------------------------
// OTLP JSON (OpenTelemetry Collector file exporter): one ExportTraceService
// request per line, GenAI semantic-convention attributes.

bool SniffOtlp(std::string_view line) { return Contains(Head(line, 64), "\"resourceSpans\""); }

namespace bj = boost::json;

std::string_view Sv(const bj::string& s) { return {s.data(), s.size()}; }

// An AnyValue as text (ints are strings in OTLP JSON); false if not scalar.
bool AnyValueText(const bj::value& v, std::string* out, int64_t* num) {
  const bj::object* o = v.if_object();
  if (!o) return false;
  *num = 0;
  if (auto* s = o->if_contains("stringValue"); s && s->is_string()) {
    *out = std::string(Sv(s->get_string()));
    int64_t n;
    if (ParseInt(*out, &n)) *num = n;
    return true;
  }
  if (auto* s = o->if_contains("intValue")) {
    if (s->is_string()) {
      *out = std::string(Sv(s->get_string()));
      if (!ParseInt(*out, num)) *num = 0;
      return true;
    }
    if (s->is_int64()) {
      *num = s->get_int64();
      *out = absl::StrCat(*num);
      return true;
    }
    if (s->is_uint64()) {
      *num = int64_t(std::min<uint64_t>(s->get_uint64(), uint64_t(kMaxTokenCount)));
      *out = absl::StrCat(*num);
      return true;
    }
    return false;
  }
  if (auto* s = o->if_contains("boolValue"); s && s->is_bool()) {
    *out = s->get_bool() ? "true" : "false";
    *num = s->get_bool();
    return true;
  }
  if (auto* s = o->if_contains("doubleValue"); s && s->is_number()) {
    double d = s->to_number<double>();
    *out = absl::StrCat(d);
    *num = std::isfinite(d) && std::abs(d) < 9e15 ? int64_t(d) : 0;
    return true;
  }
  return false;
}

int64_t NanosField(const bj::object& o, std::string_view key) {
  const bj::value* v = o.if_contains(key);
  if (!v) return 0;
  int64_t n = 0;
  if (v->is_string()) {
    if (!ParseInt(Sv(v->get_string()), &n)) n = 0;
  } else if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64()) {
    n = int64_t(std::min<uint64_t>(v->get_uint64(), uint64_t(std::numeric_limits<int64_t>::max())));
  }
  return n;
}

void OtlpSpan(const bj::object& span, const std::vector<std::pair<std::string, std::string>>& res,
              ParseContext& ctx) {
  Arena& a = *ctx.arena;
  Record rec;
  rec.line = ctx.line;
  UsageEvent& ev = rec.ev;
  ev.format = SourceFormat::kOtlpJson;
  for (const auto& [k, v] : res) ev.SetTag(a.Copy(k), a.Copy(v));
  auto str = [&](std::string_view key) -> std::string_view {
    const bj::value* v = span.if_contains(key);
    return v && v->is_string() ? a.Copy(Sv(v->get_string())) : std::string_view();
  };
  ev.trace_id = str("traceId");
  ev.span_id = str("spanId");
  ev.parent_id = str("parentSpanId");
  ev.name = str("name");
  int64_t start = NanosField(span, "startTimeUnixNano");
  int64_t end = NanosField(span, "endTimeUnixNano");
  ev.time_unix_ns = end ? end : start;
  if (start > 0 && end >= start) ev.duration_ns = end - start;
  if (const bj::value* st = span.if_contains("status"); st && st->is_object()) {
    const bj::value* code = st->get_object().if_contains("code");
    if (code && ((code->is_int64() && code->get_int64() == 2) ||
                 (code->is_string() && code->get_string() == "STATUS_CODE_ERROR"))) {
      ev.errors = 1;
    }
  }
  bool genai = false;
  int64_t input = 0, cache_read = 0, cache_write = 0;
  std::string_view operation;
  const bj::value* attrs = span.if_contains("attributes");
  if (attrs && attrs->is_array()) {
    for (const bj::value& kv : attrs->get_array()) {
      const bj::object* o = kv.if_object();
      if (!o) continue;
      const bj::value* key = o->if_contains("key");
      const bj::value* val = o->if_contains("value");
      if (!key || !key->is_string() || !val) continue;
      std::string_view k = Sv(key->get_string());
      std::string text;
      int64_t n = 0;
      if (!AnyValueText(*val, &text, &n)) continue;
      int64_t c = ClampTokenCount(n);
      if (SvStartsWith(k, "gen_ai.")) genai = true;
      if (k == "gen_ai.usage.input_tokens")
        input = c;
      else if (k == "gen_ai.usage.output_tokens")
        ev.tokens.output = c;
      else if (k == "gen_ai.usage.cache_read.input_tokens" ||
               k == "gen_ai.usage.cache_read_input_tokens")
        cache_read = c;
      else if (k == "gen_ai.usage.cache_creation.input_tokens" ||
               k == "gen_ai.usage.cache_creation_input_tokens")
        cache_write = c;
      else if (k == "gen_ai.usage.reasoning.output_tokens" || k == "gen_ai.usage.reasoning_tokens")
        ev.tokens.reasoning = c;
      else if (k == "gen_ai.response.model")
        ev.model = a.Copy(text);
      else if (k == "gen_ai.request.model") {
        if (ev.model.empty()) ev.model = a.Copy(text);
      } else if (k == "gen_ai.provider.name" || k == "gen_ai.system")
        ev.provider = a.Copy(text);
      else if (k == "gen_ai.conversation.id")
        ev.SetTag("session", a.Copy(text));
      else if (k == "gen_ai.agent.id")
        ev.SetTag("agent", a.Copy(text));
      else if (k == "gen_ai.agent.name") {
        if (ev.tag("agent").empty()) ev.SetTag("agent", a.Copy(text));
      } else if (k == "gen_ai.tool.name")
        ev.SetTag("tool", a.Copy(text));
      else if (k == "gen_ai.operation.name")
        operation = a.Copy(text);
      else if (k == "http.response.status_code")
        ev.status = n;
      else if (SvStartsWith(k, "tokmeter.") && k.size() > 9) {
        std::string_view tk = k.substr(9);
        // tokmeter's own counters travel as tokmeter.<counter> attributes.
        if (tk == "requests")
          ev.requests = c;
        else if (tk == "tool_calls")
          ev.tool_calls = c;
        else if (tk == "retries")
          ev.retries = c;
        else if (tk == "retry_wait_ms")
          ev.retry_wait_ms = c;
        else if (tk == "rate_limited")
          ev.rate_limited = c;
        else if (tk == "errors")
          ev.errors = c;
        else if (tk == "cache_write_1h_tokens")
          ev.tokens.cache_write_1h = c;
        else if (tk == "fingerprint")
          ev.fingerprint = ParseHex64(text);
        else if (tk == "kind")
          ev.kind = a.Copy(text);
        else
          ev.SetTag(a.Copy(tk), a.Copy(text));
        genai = true;
      }
    }
  }
  if (!genai) return;  // not an LLM/agent span
  // GenAI convention: input_tokens includes cached input (read and creation).
  ev.tokens.input = std::max<int64_t>(0, input - cache_read - cache_write);
  ev.tokens.cache_read = cache_read;
  ev.tokens.cache_write_1h = std::min(ev.tokens.cache_write_1h, cache_write);
  ev.tokens.cache_write_5m = cache_write - ev.tokens.cache_write_1h;
  ev.tokens.reasoning = std::min(ev.tokens.reasoning, ev.tokens.output);
  if (ev.kind.empty()) {
    if (operation == "execute_tool")
      ev.kind = "tool";
    else if (operation == "chat" || operation == "text_completion" ||
             operation == "generate_content")
      ev.kind = "llm";
    else if (!operation.empty())
      ev.kind = operation;
    else
      ev.kind = "llm";
  }
  if (ev.kind == "llm" && ev.requests == 0) ev.requests = 1;
  if (ev.kind == "tool" && ev.tool_calls == 0) ev.tool_calls = 1;
  if (ev.status == 429) ev.rate_limited = std::max<int64_t>(ev.rate_limited, 1);
  ctx.out->push_back(std::move(rec));
}

LineResult ParseOtlp(std::string_view line, ParseContext& ctx) {
  thread_local std::unique_ptr<unsigned char[]> scratch(new unsigned char[64 * 1024]);
  bj::monotonic_resource mr(scratch.get(), 64 * 1024);
  bj::error_code ec;
  bj::value doc = bj::parse(bj::string_view(line.data(), line.size()), ec, &mr);
  if (ec || !doc.is_object()) return LineResult::kBad;
  const bj::value* rs = doc.get_object().if_contains("resourceSpans");
  if (!rs || !rs->is_array()) return LineResult::kBad;
  for (const bj::value& r : rs->get_array()) {
    if (!r.is_object()) continue;
    std::vector<std::pair<std::string, std::string>> res_tags;
    if (const bj::value* res = r.get_object().if_contains("resource"); res && res->is_object()) {
      if (const bj::value* at = res->get_object().if_contains("attributes"); at && at->is_array()) {
        for (const bj::value& kv : at->get_array()) {
          const bj::object* o = kv.if_object();
          if (!o) continue;
          const bj::value* key = o->if_contains("key");
          const bj::value* val = o->if_contains("value");
          std::string text;
          int64_t n;
          if (!key || !key->is_string() || !val || !AnyValueText(*val, &text, &n)) continue;
          std::string_view k = Sv(key->get_string());
          if (k == "service.name")
            res_tags.emplace_back("service", text);
          else if (SvStartsWith(k, "tokmeter.") && k.size() > 9)
            res_tags.emplace_back(std::string(k.substr(9)), text);
        }
      }
    }
    const bj::value* ss = r.get_object().if_contains("scopeSpans");
    if (!ss || !ss->is_array()) continue;
    for (const bj::value& s : ss->get_array()) {
      if (!s.is_object()) continue;
      const bj::value* spans = s.get_object().if_contains("spans");
      if (!spans || !spans->is_array()) continue;
      for (const bj::value& sp : spans->get_array()) {
        if (sp.is_object()) OtlpSpan(sp.get_object(), res_tags, ctx);
      }
    }
  }
  return LineResult::kOk;
}

const std::vector<LineFormat>* BuildLineFormats() {
  // Order matters: the first format whose sniff accepts a line parses it.
  return new std::vector<LineFormat>{
      {SourceFormat::kTokmeterJsonl, SniffTokmeter, ParseTokmeter},
      {SourceFormat::kClaudeCode, SniffClaude, ParseClaude},
      {SourceFormat::kCodex, SniffCodex, ParseCodex},
      {SourceFormat::kTurnSummary, SniffTurnSummary, ParseTurnSummary},
      {SourceFormat::kOtlpJson, SniffOtlp, ParseOtlp},
      {SourceFormat::kTokenUsage, SniffTokenUsage, ParseTokenUsage},
  };
}

}  // namespace

const std::vector<LineFormat>& LineFormats() {
  static const std::vector<LineFormat>* formats = BuildLineFormats();
  return *formats;
}

FileFormat TokmeterProtoFileFormat();  // tokmeter_proto_format.cc

const std::vector<FileFormat>& FileFormats() {
  // Whole-file formats, tried on the first bytes of every input before line
  // parsing. The tokmeter protobuf reader registers here.
  static const std::vector<FileFormat>* formats =
      new std::vector<FileFormat>{TokmeterProtoFileFormat()};
  return *formats;
}

bool WantedInDirectory(std::string_view name) {
  for (std::string_view z : {".gz", ".zst"}) {
    if (SvEndsWith(name, z)) name.remove_suffix(z.size());
  }
  return SvEndsWith(name, ".jsonl") || SvEndsWith(name, ".ndjson") || SvEndsWith(name, ".json") ||
         SvEndsWith(name, ".log");
}

LineResult ParseLine(std::string_view line, ParseContext& ctx, int hint, int* format_index) {
  const std::vector<LineFormat>& formats = LineFormats();
  if (hint >= 0 && hint < int(formats.size()) && formats[hint].sniff(line)) {
    *format_index = hint;
    return formats[hint].parse(line, ctx);
  }
  for (int i = 0; i < int(formats.size()); ++i) {
    if (i == hint) continue;
    if (formats[i].sniff(line)) {
      *format_index = i;
      return formats[i].parse(line, ctx);
    }
  }
  // Transcripts have line types nobody listed, and tokmeter JSONL readers
  // must ignore unknown types: inside a Claude Code, Codex or tokmeter file an
  // unrecognised JSON object is one of those, not a bad line.
  if (hint >= 0 && hint < int(formats.size()) &&
      (formats[hint].format == SourceFormat::kClaudeCode ||
       formats[hint].format == SourceFormat::kCodex ||
       formats[hint].format == SourceFormat::kTokmeterJsonl)) {
    *format_index = hint;
    return formats[hint].parse(line, ctx);
  }
  // Claude Code lines whose markers are not near the start.
  if (HasNeedle(line) && Contains(line, "\"message\":{")) {
    for (int i = 0; i < int(formats.size()); ++i) {
      if (formats[i].format == SourceFormat::kClaudeCode) {
        *format_index = i;
        return formats[i].parse(line, ctx);
      }
    }
  }
  return LineResult::kBad;
}

// ---------------------------------------------------------------------------

namespace {
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}
bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}
}  // namespace

bool ParseTime(std::string_view s, int64_t* unix_ns) {
  // YYYY-MM-DD[T ]HH:MM:SS[.frac](Z|±HH:MM)
  int y, mo, d, h, mi, se;
  if (s.size() < 19 || !Digits(s, 0, 4, &y) || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &se)) {
    return false;
  }
  // Years are bounded so that nanoseconds since 1970 fit in int64 (to 2262).
  if (y < 1900 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
      se > 60) {
    return false;
  }
  size_t i = 19;
  int64_t frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 9) {
        frac = frac * 10 + (s[i] - '0');
        ++digits;
      }
      ++i;
    }
    if (digits == 0) return false;
    while (digits < 9) {
      frac *= 10;
      ++digits;
    }
  }
  int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!Digits(s, i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !Digits(s, i + 4, 2, &om)) {
      return false;
    }
    offset_s = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    i += 6;
  }  // no zone: UTC
  if (i != s.size()) return false;
  int64_t days = DaysFromCivil(y, unsigned(mo), unsigned(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_s;
  *unix_ns = secs * 1000000000 + frac;
  return true;
}

bool ParseInt(std::string_view s, int64_t* out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

std::vector<std::string_view> SplitPath(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find('/', i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
namespace {
// The same filter 32 bytes at a time; chosen at run time when the CPU has AVX2.
__attribute__((target("avx2"))) size_t FastFindAvx2(const char* h, size_t last, size_t i,
                                                    std::string_view needle) {
  const size_t n = needle.size();
  const __m256i first = _mm256_set1_epi8(needle[0]);
  const __m256i lastc = _mm256_set1_epi8(needle[n - 1]);
  for (; i + 31 <= last; i += 32) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i));
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i + n - 1));
    unsigned mask = unsigned(_mm256_movemask_epi8(
        _mm256_and_si256(_mm256_cmpeq_epi8(a, first), _mm256_cmpeq_epi8(b, lastc))));
    while (mask) {
      int bit = __builtin_ctz(mask);
      if (std::memcmp(h + i + bit + 1, needle.data() + 1, n - 2) == 0) return i + size_t(bit);
      mask &= mask - 1;
    }
  }
  return i | (size_t(1) << 63);  // not found below i: continue from i
}
const bool kHasAvx2 = __builtin_cpu_supports("avx2");
}  // namespace
#define TOKMETER_HAVE_AVX2_FIND 1
#endif

size_t FastFind(std::string_view hay, std::string_view needle, size_t from) {
  constexpr size_t npos = std::string_view::npos;
  const size_t n = needle.size();
  if (n == 0) return from <= hay.size() ? from : npos;
  if (hay.size() < n || from > hay.size() - n) return npos;
  const char* h = hay.data();
  const size_t last = hay.size() - n;  // last possible start
  size_t i = from;
#if defined(TOKMETER_HAVE_AVX2_FIND)
  if (n >= 2 && kHasAvx2 && last - i >= 64) {
    size_t r = FastFindAvx2(h, last, i, needle);
    if (!(r >> 63)) return r;
    i = r & ~(size_t(1) << 63);
  }
#endif
#if defined(__SSE2__)
  if (n >= 2) {
    const __m128i first = _mm_set1_epi8(needle[0]);
    const __m128i lastc = _mm_set1_epi8(needle[n - 1]);
    for (; i + 15 <= last; i += 16) {
      __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i));
      __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i + n - 1));
      unsigned mask = unsigned(
          _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, lastc))));
      while (mask) {
        int bit = __builtin_ctz(mask);
        if (std::memcmp(h + i + bit + 1, needle.data() + 1, n - 2) == 0) return i + size_t(bit);
        mask &= mask - 1;
      }
    }
  }
#endif
  for (; i <= last; ++i) {
    if (h[i] == needle[0] && std::memcmp(h + i, needle.data(), n) == 0) return i;
  }
  return npos;
}

size_t SkipBalanced(std::string_view s, size_t open) {
  constexpr size_t npos = std::string_view::npos;
  const char* d = s.data();
  const size_t n = s.size();
  int depth = 0;
  size_t i = open;
  while (i < n) {
    char c = d[i];
    if (c == '"') {
      size_t j = i + 1;
      for (;;) {
        const void* q = j < n ? std::memchr(d + j, '"', n - j) : nullptr;
        if (!q) return npos;
        size_t k = size_t(static_cast<const char*>(q) - d);
        size_t b = k;
        while (b > i + 1 && d[b - 1] == '\\') --b;
        if (((k - b) & 1) == 0) {
          i = k + 1;
          break;
        }
        j = k + 1;
      }
      continue;
    }
    if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
      if (depth < 0) return npos;
    }
    ++i;
  }
  return npos;
}

uint64_t ParseHex64(std::string_view s) {
  // A table, not branches: fingerprints are random hex, and a per-digit
  // digit-or-letter branch mispredicts half the time.
  static constexpr auto kValue = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (int c = '0'; c <= '9'; ++c) t[c] = int8_t(c - '0');
    for (int c = 'a'; c <= 'f'; ++c) t[c] = int8_t(c - 'a' + 10);
    for (int c = 'A'; c <= 'F'; ++c) t[c] = int8_t(c - 'A' + 10);
    return t;
  }();
  if (s.empty() || s.size() > 16) return 0;
  uint64_t v = 0;
  int bad = 0;
  for (char c : s) {
    const int8_t d = kValue[static_cast<unsigned char>(c)];
    bad |= d;  // negative (the sign bit) iff some digit is not hex
    v = (v << 4) | uint64_t(uint8_t(d) & 15);
  }
  return bad < 0 ? 0 : v;
}

}  // namespace tokmeter::analysis::reader_internal
