// tokmeter JSONL (docs/FORMAT.md): span, trace, turn_summary and drops
// lines, parsed in place with simdjson On-Demand (the high-volume format).
// The stateful rules (a trace's tags applied to its later spans, drops) are
// TokmeterState's (tokmeter_state.cc), shared with the protobuf files.
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "src/analysis/formats/formats.h"
#include "src/model/jsonl_schema.h"
#include "tokmeter/counters.h"

namespace tokmeter::analysis::reader_internal {

bool SniffTokmeter(std::string_view line) {
  std::string_view h = Head(line, 64);
  return Contains(h, "\"type\":\"span\"") || Contains(h, "\"type\":\"trace\"") ||
         Contains(h, "\"type\":\"turn_summary\"") || Contains(h, "\"type\":\"drops\"") ||
         Contains(h, "\"type\":\"alert\"");
}

// Applies one well-known counter field of tokmeter JSONL (kCounterNames,
// tokmeter/counters.h; switched on the length first: this runs for every
// field of every line); false if `key` is not one.
namespace {

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
// on malformed JSON. `escapes`: the line holds a backslash somewhere (when
// it does not, no token needs unescaping and none is searched).
bool ReadScalar(sj::value v, JsonField* f, bool* scalar, bool escapes) {
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
      if (!escapes || !HasBackslash(raw)) {
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
bool FieldKey(sj::field& field, std::string_view value_token, std::string_view* key, bool escapes) {
  const char* k = field.key().raw();  // just after the opening quote
  const char* e = value_token.data();
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (e > k && ws(e[-1])) --e;
  if (e > k && e[-1] == ':') --e;
  while (e > k && ws(e[-1])) --e;
  if (e > k && e[-1] == '"') {
    --e;
    std::string_view raw(k, size_t(e - k));
    if (!escapes || !HasBackslash(raw)) {
      *key = raw;
      return true;
    }
  }
  return !field.unescaped_key().get(*key);
}

bool ScanObject(sj::object obj, std::vector<JsonField>* out, std::vector<JsonField>* tags,
                bool escapes) {
  for (auto result : obj) {
    sj::field field;
    if (std::move(result).get(field)) return false;
    sj::value v = field.value();
    std::string_view key;
    if (!FieldKey(field, v.raw_json_token(), &key, escapes)) return false;
    JsonField f;
    bool scalar = false;
    if (!ReadScalar(v, &f, &scalar, escapes)) return false;
    if (scalar) {
      f.path = key;
      out->push_back(f);
    } else if (tags != nullptr && key == "tags") {
      sj::object inner;
      if (v.get_object().get(inner)) continue;  // "tags": [...] is ignored
      if (!ScanObject(inner, tags, nullptr, escapes)) return false;
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
  // One search of the line for a backslash (memchr: vectorized) instead of
  // one per key and string token: lines tokmeter writes rarely hold one.
  const bool escapes = std::memchr(line.data(), '\\', line.size()) != nullptr;
  if (!ScanObject(obj, &scan.fields, &scan.tags, escapes)) return false;
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

}  // namespace

LineResult ParseTokmeter(std::string_view line, ParseContext& ctx) {
  TokmeterScan& scan = Scan();
  if (!ScanTokmeterLine(line, ctx, scan)) return LineResult::kBad;
  ParsedRecord& rec = ctx.out->emplace_back();
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
  if (type == model::jsonl::kTypeAlert) {
    ctx.out->pop_back();
    return LineResult::kOk;  // the monitor's alert: neither usage nor a bad line
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
    rec.type = ParsedRecordType::kEvent;
  } else if (type == model::jsonl::kTypeTurnSummary) {
    // Rollups duplicate span lines: a distinct kind keeps them out of totals.
    rec.type = ParsedRecordType::kEvent;
    if (!ev.kind.empty()) AddTag(ev, "turn_kind", ev.kind, ctx);
    ev.kind = kTurnSummaryRollupKind;
  } else if (type == model::jsonl::kTypeTrace) {
    rec.type = ParsedRecordType::kTrace;
    if (ev.trace_id.empty()) {
      ctx.out->pop_back();
      return LineResult::kBad;
    }
  } else if (type == model::jsonl::kTypeDrops) {
    rec.type = ParsedRecordType::kDrops;
  } else {
    ctx.out->pop_back();
    return LineResult::kOk;  // unknown type: ignored (docs/FORMAT.md)
  }
  return LineResult::kOk;
}

}  // namespace tokmeter::analysis::reader_internal
