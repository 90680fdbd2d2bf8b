// OTLP JSON (what the OpenTelemetry Collector's file exporter writes): one
// ExportTraceServiceRequest per line; spans with GenAI semantic-convention
// attributes become events.
#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "src/analysis/formats/formats.h"

namespace tokmeter::analysis::reader_internal {

namespace {

// request per line, GenAI semantic-convention attributes.

}  // namespace

bool SniffOtlp(std::string_view line) { return Contains(Head(line, 64), "\"resourceSpans\""); }

namespace {

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
  ParsedRecord rec;
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

}  // namespace

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

}  // namespace tokmeter::analysis::reader_internal
