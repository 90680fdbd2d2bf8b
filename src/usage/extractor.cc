#include "src/usage/extractor.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <string>

#include "src/usage/internal.h"

namespace tokmeter::usage_internal {
namespace json = boost::json;

namespace {

// Counts beyond kMaxTokenCount (tokmeter/buckets.h) are garbage: flagged
// and clamped.
constexpr int64_t kMaxCount = kMaxTokenCount;

const json::object* Obj(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr ? v->if_object() : nullptr;
}
const json::array* Arr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr ? v->if_array() : nullptr;
}
std::string_view Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return {};
  const json::string* s = v->if_string();
  return s != nullptr ? std::string_view(*s) : std::string_view();
}
void SetIfPresent(std::string& dst, std::string_view v) {
  if (!v.empty()) dst.assign(v.data(), v.size());
}

}  // namespace

ApiError ClassifyError(std::string type, std::string code, std::string message) {
  ApiError e;
  e.type = std::move(type);
  e.code = std::move(code);
  e.message = std::move(message);
  auto is = [&e](std::string_view s) { return e.type == s || e.code == s; };
  if (is("insufficient_quota") || is("credit_balance_exhausted") ||
      is("billing_hard_limit_reached") || is("billing_error")) {
    e.quota_exhausted = true;
  } else if (is("rate_limit_error") || is("rate_limit_exceeded") || is("RESOURCE_EXHAUSTED") ||
             is("429") || is("http_429")) {
    e.rate_limited = true;
    e.retryable = true;
  } else if (is("overloaded_error") || is("UNAVAILABLE") || is("http_529") || is("http_503")) {
    e.overloaded = true;
    e.retryable = true;
  } else if (is("api_error") || is("server_error") || is("INTERNAL") || is("timeout_error") ||
             is("http_500") || is("http_502") || is("http_504")) {
    e.retryable = true;
  }
  return e;
}

std::optional<ApiError> ErrorFromObject(const json::object& e) {
  std::string type(Str(e, "type"));
  std::string code;
  if (const json::value* c = e.if_contains("code")) {
    if (const json::string* s = c->if_string()) {
      code.assign(s->data(), s->size());
    } else if (c->is_int64()) {
      code = std::to_string(c->get_int64());
    } else if (c->is_uint64()) {
      code = std::to_string(c->get_uint64());
    }
  }
  std::string_view status = Str(e, "status");  // Gemini: "RESOURCE_EXHAUSTED"
  if (type.empty() && !status.empty()) type.assign(status);
  if (type.empty() && code.empty()) return std::nullopt;
  return ClassifyError(std::move(type), std::move(code), std::string(Str(e, "message")));
}

namespace {

// A JSON value as a token count: nullopt for null; `*bad` set for a value
// that is not an integer in range (a string, a bool, a fraction, an
// overflow), which is clamped or dropped.
std::optional<int64_t> CountOf(const json::value& v, bool* bad) {
  *bad = false;
  if (v.is_null()) return std::nullopt;
  if (v.is_int64()) {
    int64_t x = v.get_int64();
    if (x > kMaxCount || x < -kMaxCount) {
      *bad = true;
      return std::clamp(x, -kMaxCount, kMaxCount);
    }
    return x;
  }
  if (v.is_uint64()) {
    *bad = true;  // > INT64_MAX
    return kMaxCount;
  }
  if (v.is_double()) {
    double d = v.get_double();
    if (!std::isfinite(d) || d != std::trunc(d) || std::fabs(d) > static_cast<double>(kMaxCount)) {
      *bad = true;
      if (!std::isfinite(d)) return std::nullopt;
      d = std::clamp(d, -static_cast<double>(kMaxCount), static_cast<double>(kMaxCount));
    }
    return static_cast<int64_t>(d);
  }
  *bad = true;  // string, bool
  return std::nullopt;
}

}  // namespace

void Extractor::SetProvider(Provider p) {
  if (out_.provider == Provider::kUnknown) out_.provider = p;
}

void Extractor::Error(const json::object& e, std::string_view fallback_type) {
  std::optional<ApiError> err = ErrorFromObject(e);
  if (!err && !fallback_type.empty()) {
    err = ClassifyError(std::string(fallback_type), "", std::string(Str(e, "message")));
  }
  if (err) out_.error = std::move(err);
}

void Extractor::UsageObject(Provider api, const json::object& u, std::string& path) {
  const size_t base = path.size();
  for (const json::key_value_pair& kv : u) {
    path.resize(base);
    path.append(kv.key().data(), kv.key().size());
    const json::value& v = kv.value();
    if (const json::object* o = v.if_object()) {
      path.push_back('.');
      UsageObject(api, *o, path);
      continue;
    }
    if (const json::array* a = v.if_array()) {
      // Anthropic usage.iterations[]: each entry a usage object; the sums
      // replace those of an earlier event (counts are cumulative).
      if (api == Provider::kAnthropic && path == "iterations") out_.raw.iterations = {};
      for (size_t i = 0; i < a->size(); ++i) {
        if (const json::object* e = (*a)[i].if_object()) {
          path.resize(base);
          path.append(kv.key().data(), kv.key().size());
          path.append(".").append(std::to_string(i)).append(".");
          UsageObject(api, *e, path);
        }
      }
      continue;
    }
    if (const json::string* str = v.if_string();
        str != nullptr && api == Provider::kAnthropic && path == "service_tier") {
      out_.raw.service_tier.assign(str->data(), str->size());
      continue;
    }
    bool bad = false;
    std::optional<int64_t> count = CountOf(v, &bad);
    if (api == Provider::kAnthropic && path == "output_tokens" && count && out_.raw.output_tokens &&
        *count < *out_.raw.output_tokens) {
      Anomaly(kAnomalyNonMonotonic);  // stream counts are cumulative
    }
    if (SetUsageField(api, path, count, out_.raw) && bad) Anomaly(kAnomalyNotInteger);
  }
  path.resize(base);
}

void Extractor::Usage(Provider api, const json::object& u) {
  out_.found = true;
  std::string path;
  UsageObject(api, u, path);
}

void Extractor::GeminiChunk(const json::object& o) {
  SetProvider(Provider::kGemini);
  SetIfPresent(out_.model, Str(o, "modelVersion"));
  SetIfPresent(out_.response_id, Str(o, "responseId"));
  if (const json::array* cands = Arr(o, "candidates")) {
    for (const json::value& c : *cands) {
      if (const json::object* co = c.if_object()) {
        std::string_view fr = Str(*co, "finishReason");
        if (!fr.empty()) {
          out_.stop_reason.assign(fr);
          complete_ = true;
        }
      }
    }
  }
  if (const json::object* u = Obj(o, "usageMetadata")) Usage(Provider::kGemini, *u);
  if (const json::object* e = Obj(o, "error")) Error(*e, "");
}

void Extractor::HandleValue(const json::value& v, std::string_view event) {
  if (const json::object* o = v.if_object()) {
    HandleObject(*o, event);
  } else if (const json::array* a = v.if_array()) {
    // Gemini streamGenerateContent without alt=sse: a JSON array of chunks.
    for (const json::value& e : *a) {
      if (const json::object* o = e.if_object()) HandleObject(*o, event);
    }
  }
}

void Extractor::HandleObject(const json::object& o, std::string_view event) {
  std::string_view type = Str(o, "type");
  if (type.empty()) type = event;

  if (type == "message_start") {
    SetProvider(Provider::kAnthropic);
    if (const json::object* m = Obj(o, "message")) {
      SetIfPresent(out_.response_id, Str(*m, "id"));
      SetIfPresent(out_.model, Str(*m, "model"));
      if (const json::object* u = Obj(*m, "usage")) Usage(Provider::kAnthropic, *u);
    }
    return;
  }
  if (type == "message_delta") {
    SetProvider(Provider::kAnthropic);
    if (const json::object* d = Obj(o, "delta"))
      SetIfPresent(out_.stop_reason, Str(*d, "stop_reason"));
    if (const json::object* u = Obj(o, "usage")) Usage(Provider::kAnthropic, *u);
    return;
  }
  if (type == "message_stop") {
    SetProvider(Provider::kAnthropic);
    complete_ = true;
    return;
  }
  if (type == "message") {  // a whole Anthropic Messages body
    SetProvider(Provider::kAnthropic);
    SetIfPresent(out_.response_id, Str(o, "id"));
    SetIfPresent(out_.model, Str(o, "model"));
    SetIfPresent(out_.stop_reason, Str(o, "stop_reason"));
    if (const json::object* u = Obj(o, "usage")) Usage(Provider::kAnthropic, *u);
    complete_ = true;
    return;
  }
  if (type == "error") {
    // Anthropic {"type":"error","error":{...},"request_id":...}; Responses
    // stream {"type":"error","code":...,"message":...}.
    if (const json::object* e = Obj(o, "error")) {
      Error(*e, "error");
    } else {
      Error(o, "");
    }
    SetIfPresent(out_.request_id, Str(o, "request_id"));
    return;
  }
  if (type.starts_with("response.")) {
    SetProvider(Provider::kOpenAIResponses);
    if (const json::object* r = Obj(o, "response")) {
      SetIfPresent(out_.response_id, Str(*r, "id"));
      SetIfPresent(out_.model, Str(*r, "model"));
      SetIfPresent(out_.stop_reason, Str(*r, "status"));
      if (const json::object* u = Obj(*r, "usage")) Usage(Provider::kOpenAIResponses, *u);
      if (const json::object* e = Obj(*r, "error")) Error(*e, "");
    }
    if (type == "response.completed" || type == "response.incomplete" ||
        type == "response.failed" || type == "response.done") {
      complete_ = true;
    }
    return;
  }

  std::string_view object = Str(o, "object");
  if (object == "response") {  // a whole Responses body
    SetProvider(Provider::kOpenAIResponses);
    SetIfPresent(out_.response_id, Str(o, "id"));
    SetIfPresent(out_.model, Str(o, "model"));
    SetIfPresent(out_.stop_reason, Str(o, "status"));
    if (const json::object* u = Obj(o, "usage")) Usage(Provider::kOpenAIResponses, *u);
    if (const json::object* e = Obj(o, "error")) Error(*e, "");
    complete_ = true;
    return;
  }
  if (o.contains("usageMetadata") || o.contains("candidates") || o.contains("modelVersion")) {
    GeminiChunk(o);
    return;
  }
  if (object.starts_with("chat.completion") || o.contains("choices")) {
    SetProvider(Provider::kOpenAIChat);
    SetIfPresent(out_.response_id, Str(o, "id"));
    SetIfPresent(out_.model, Str(o, "model"));
    if (const json::array* ch = Arr(o, "choices")) {
      for (const json::value& c : *ch) {
        if (const json::object* co = c.if_object())
          SetIfPresent(out_.stop_reason, Str(*co, "finish_reason"));
      }
    }
    if (const json::object* u = Obj(o, "usage")) Usage(Provider::kOpenAIChat, *u);
    if (object == "chat.completion") complete_ = true;
    return;
  }
  if (const json::object* e = Obj(o, "error")) {
    Error(*e, "");
    SetIfPresent(out_.request_id, Str(o, "request_id"));
    return;
  }
  if (const json::object* u = Obj(o, "usage")) {
    // A bare usage-carrying object: tell the API apart by its field names.
    Provider p = out_.provider != Provider::kUnknown ? out_.provider : hint_;
    if (u->contains("prompt_tokens") || u->contains("completion_tokens")) {
      p = Provider::kOpenAIChat;
    } else if (u->contains("input_tokens_details") || u->contains("output_tokens_details") ||
               u->contains("total_tokens")) {
      p = u->contains("cache_read_input_tokens") ? Provider::kAnthropic
                                                 : Provider::kOpenAIResponses;
    } else if (u->contains("cache_creation_input_tokens") ||
               u->contains("cache_read_input_tokens") || u->contains("cache_creation")) {
      p = Provider::kAnthropic;
    }
    SetIfPresent(out_.response_id, Str(o, "id"));
    SetIfPresent(out_.model, Str(o, "model"));
    switch (p) {
      case Provider::kOpenAIChat:
        SetProvider(p);
        Usage(Provider::kOpenAIChat, *u);
        break;
      case Provider::kOpenAIResponses:
        SetProvider(p);
        Usage(Provider::kOpenAIResponses, *u);
        break;
      case Provider::kGemini:
      case Provider::kAnthropic:
      case Provider::kUnknown:
        // Input without any cache field maps the same either way; Anthropic
        // reading keeps the cache fields if there are any.
        if (p == Provider::kAnthropic) SetProvider(p);
        Usage(Provider::kAnthropic, *u);
        break;
    }
  }
}

const ParsedUsage& Extractor::Normalize(bool streaming) {
  ParsedUsage& out = out_;
  Provider p = out.provider != Provider::kUnknown ? out.provider : hint_;
  if (p == Provider::kUnknown) p = GuessProvider(out.raw);
  NormalizedUsage n = NormalizeUsage(p, out.raw);
  out.usage = n.buckets;
  out.ttl_unknown = n.ttl_unknown;
  out.anomaly_flags = parse_flags_ | n.anomaly_flags;
  out.anomalies = parse_anomalies_ + n.anomalies;
  out.streaming = streaming;
  out.partial = streaming && !complete_;
  return out;
}

}  // namespace tokmeter::usage_internal
