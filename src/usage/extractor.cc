#include "src/usage/extractor.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <string>

#include "src/usage/internal.h"

namespace tokmeter::usage_internal {
namespace json = boost::json;

namespace {

// Counts beyond this are treated as garbage (and keep every sum in range).
constexpr int64_t kMaxCount = int64_t{1} << 50;

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

std::optional<int64_t> Extractor::Count(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (v->is_int64()) {
    int64_t x = v->get_int64();
    if (x > kMaxCount || x < -kMaxCount) {
      Anomaly(kAnomalyNotInteger);
      return std::clamp(x, -kMaxCount, kMaxCount);
    }
    return x;
  }
  if (v->is_uint64()) {
    Anomaly(kAnomalyNotInteger);  // > INT64_MAX
    return kMaxCount;
  }
  if (v->is_double()) {
    double d = v->get_double();
    if (!std::isfinite(d) || d != std::trunc(d) || std::fabs(d) > static_cast<double>(kMaxCount)) {
      Anomaly(kAnomalyNotInteger);
      if (!std::isfinite(d)) return std::nullopt;
      d = std::clamp(d, -static_cast<double>(kMaxCount), static_cast<double>(kMaxCount));
    }
    return static_cast<int64_t>(d);
  }
  Anomaly(kAnomalyNotInteger);  // string, bool, object, array
  return std::nullopt;
}

void Extractor::Assign(std::optional<int64_t>& dst, std::optional<int64_t> v, bool monotonic) {
  if (!v) return;
  if (monotonic && dst && *v < *dst) Anomaly(kAnomalyNonMonotonic);
  dst = v;
}

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

void Extractor::AnthropicUsage(const json::object& u) {
  RawUsage& r = out_.raw;
  out_.found = true;
  Assign(r.input_tokens, Count(u, "input_tokens"));
  Assign(r.output_tokens, Count(u, "output_tokens"), /*monotonic=*/true);
  Assign(r.cache_creation_input_tokens, Count(u, "cache_creation_input_tokens"));
  Assign(r.cache_read_input_tokens, Count(u, "cache_read_input_tokens"));
  if (const json::object* cc = Obj(u, "cache_creation")) {
    Assign(r.ephemeral_5m_input_tokens, Count(*cc, "ephemeral_5m_input_tokens"));
    Assign(r.ephemeral_1h_input_tokens, Count(*cc, "ephemeral_1h_input_tokens"));
  }
  if (const json::object* d = Obj(u, "output_tokens_details")) {
    Assign(r.thinking_tokens, Count(*d, "thinking_tokens"));
  }
  if (const json::object* s = Obj(u, "server_tool_use")) {
    Assign(r.web_search_requests, Count(*s, "web_search_requests"));
    Assign(r.web_fetch_requests, Count(*s, "web_fetch_requests"));
  }
  SetIfPresent(r.service_tier, Str(u, "service_tier"));
}

void Extractor::ChatUsage(const json::object& u) {
  RawUsage& r = out_.raw;
  out_.found = true;
  Assign(r.prompt_tokens, Count(u, "prompt_tokens"));
  Assign(r.completion_tokens, Count(u, "completion_tokens"));
  Assign(r.total_tokens, Count(u, "total_tokens"));
  if (const json::object* d = Obj(u, "prompt_tokens_details")) {
    Assign(r.cached_tokens, Count(*d, "cached_tokens"));
  }
  if (const json::object* d = Obj(u, "completion_tokens_details")) {
    Assign(r.reasoning_tokens, Count(*d, "reasoning_tokens"));
  }
}

void Extractor::ResponsesUsage(const json::object& u) {
  RawUsage& r = out_.raw;
  out_.found = true;
  Assign(r.input_tokens, Count(u, "input_tokens"));
  Assign(r.output_tokens, Count(u, "output_tokens"));
  Assign(r.total_tokens, Count(u, "total_tokens"));
  if (const json::object* d = Obj(u, "input_tokens_details")) {
    Assign(r.cached_tokens, Count(*d, "cached_tokens"));
  }
  if (const json::object* d = Obj(u, "output_tokens_details")) {
    Assign(r.reasoning_tokens, Count(*d, "reasoning_tokens"));
  }
}

void Extractor::GeminiUsage(const json::object& u) {
  RawUsage& r = out_.raw;
  out_.found = true;
  Assign(r.prompt_token_count, Count(u, "promptTokenCount"));
  Assign(r.cached_content_token_count, Count(u, "cachedContentTokenCount"));
  Assign(r.candidates_token_count, Count(u, "candidatesTokenCount"));
  Assign(r.thoughts_token_count, Count(u, "thoughtsTokenCount"));
  Assign(r.tool_use_prompt_token_count, Count(u, "toolUsePromptTokenCount"));
  Assign(r.total_token_count, Count(u, "totalTokenCount"));
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
  if (const json::object* u = Obj(o, "usageMetadata")) GeminiUsage(*u);
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
      if (const json::object* u = Obj(*m, "usage")) AnthropicUsage(*u);
    }
    return;
  }
  if (type == "message_delta") {
    SetProvider(Provider::kAnthropic);
    if (const json::object* d = Obj(o, "delta"))
      SetIfPresent(out_.stop_reason, Str(*d, "stop_reason"));
    if (const json::object* u = Obj(o, "usage")) AnthropicUsage(*u);
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
    if (const json::object* u = Obj(o, "usage")) AnthropicUsage(*u);
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
      if (const json::object* u = Obj(*r, "usage")) ResponsesUsage(*u);
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
    if (const json::object* u = Obj(o, "usage")) ResponsesUsage(*u);
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
    if (const json::object* u = Obj(o, "usage")) ChatUsage(*u);
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
        ChatUsage(*u);
        break;
      case Provider::kOpenAIResponses:
        SetProvider(p);
        ResponsesUsage(*u);
        break;
      case Provider::kGemini:
      case Provider::kAnthropic:
      case Provider::kUnknown:
        // Input without any cache field maps the same either way; Anthropic
        // reading keeps the cache fields if there are any.
        if (p == Provider::kAnthropic) SetProvider(p);
        AnthropicUsage(*u);
        break;
    }
  }
}

const ParsedUsage& Extractor::Normalize(bool streaming) {
  ParsedUsage& out = out_;
  const RawUsage& r = out.raw;
  uint32_t flags = parse_flags_;
  int n = parse_anomalies_;
  auto flag = [&](UsageAnomaly a) {
    flags |= a;
    ++n;
  };
  auto get = [&](const std::optional<int64_t>& v) -> int64_t {
    if (!v) return 0;
    if (*v < 0) {
      flag(kAnomalyNegative);
      return 0;
    }
    return *v;
  };
  Provider p = out.provider != Provider::kUnknown ? out.provider : hint_;
  if (p == Provider::kUnknown) {
    if (r.prompt_tokens || r.completion_tokens) {
      p = Provider::kOpenAIChat;
    } else if (r.prompt_token_count || r.candidates_token_count) {
      p = Provider::kGemini;
    } else if (r.cached_tokens || r.reasoning_tokens) {
      p = Provider::kOpenAIResponses;
    } else {
      p = Provider::kAnthropic;
    }
  }
  Usage u;
  out.ttl_unknown = false;
  // An inclusive prompt count and its cached part -> (uncached, cached).
  auto inclusive = [&](int64_t prompt, int64_t cached) {
    if (cached > prompt) {
      flag(kAnomalyCachedOverPrompt);
      cached = prompt;
    }
    u.input_tokens = prompt - cached;
    u.cache_read_tokens = cached;
  };
  switch (p) {
    case Provider::kAnthropic:
    case Provider::kUnknown: {
      u.input_tokens = get(r.input_tokens);
      u.cache_read_tokens = get(r.cache_read_input_tokens);
      int64_t creation = get(r.cache_creation_input_tokens);
      if (r.ephemeral_5m_input_tokens || r.ephemeral_1h_input_tokens) {
        u.cache_write_5m_tokens = get(r.ephemeral_5m_input_tokens);
        u.cache_write_1h_tokens = get(r.ephemeral_1h_input_tokens);
        if (r.cache_creation_input_tokens &&
            creation != u.cache_write_5m_tokens + u.cache_write_1h_tokens) {
          flag(kAnomalyCacheWriteMismatch);  // the split wins, as in ccusage
        }
      } else {
        u.cache_write_5m_tokens = creation;
        out.ttl_unknown = creation > 0;
      }
      u.output_tokens = get(r.output_tokens);
      u.reasoning_tokens = get(r.thinking_tokens);
      break;
    }
    case Provider::kOpenAIChat: {
      inclusive(get(r.prompt_tokens), get(r.cached_tokens));
      u.output_tokens = get(r.completion_tokens);
      u.reasoning_tokens = get(r.reasoning_tokens);
      if (r.total_tokens && r.prompt_tokens && r.completion_tokens &&
          *r.total_tokens != *r.prompt_tokens + *r.completion_tokens) {
        flag(kAnomalyTotalMismatch);
      }
      break;
    }
    case Provider::kOpenAIResponses: {
      inclusive(get(r.input_tokens), get(r.cached_tokens));
      u.output_tokens = get(r.output_tokens);
      u.reasoning_tokens = get(r.reasoning_tokens);
      if (r.total_tokens && r.input_tokens && r.output_tokens &&
          *r.total_tokens != *r.input_tokens + *r.output_tokens) {
        flag(kAnomalyTotalMismatch);
      }
      break;
    }
    case Provider::kGemini: {
      int64_t prompt = get(r.prompt_token_count);
      inclusive(prompt, get(r.cached_content_token_count));
      // Tool results fed back are input outside promptTokenCount (they are
      // a separate term of totalTokenCount).
      int64_t tool = get(r.tool_use_prompt_token_count);
      u.input_tokens += tool;
      int64_t candidates = get(r.candidates_token_count);
      int64_t thoughts = get(r.thoughts_token_count);
      u.output_tokens = candidates + thoughts;  // thoughts are outside candidates
      u.reasoning_tokens = thoughts;
      if (r.total_token_count && *r.total_token_count != prompt + tool + candidates + thoughts) {
        flag(kAnomalyTotalMismatch);
      }
      break;
    }
  }
  if (u.reasoning_tokens > u.output_tokens) {
    flag(kAnomalyReasoningOverOutput);
    u.reasoning_tokens = u.output_tokens;
  }
  out.usage = u;
  out.anomaly_flags = flags;
  out.anomalies = n;
  out.streaming = streaming;
  out.partial = streaming && !complete_;
  return out;
}

}  // namespace tokmeter::usage_internal
