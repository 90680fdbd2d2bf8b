// The provider usage mappings (tokmeter/provider_usage.h).
#include "tokmeter/provider_usage.h"

#include <charconv>

namespace tokmeter {
namespace {

void Put(std::optional<int64_t>& dst, std::optional<int64_t> v) {
  if (v) dst = v;
}

// "iterations.<n>.<rest>" -> n, rest; false for other paths.
bool IterationField(std::string_view path, unsigned* index, std::string_view* rest) {
  constexpr std::string_view kPrefix = "iterations.";
  if (!path.starts_with(kPrefix)) return false;
  path.remove_prefix(kPrefix.size());
  size_t dot = path.find('.');
  if (dot == 0 || dot == std::string_view::npos) return false;
  auto [end, ec] = std::from_chars(path.data(), path.data() + dot, *index);
  if (ec != std::errc() || end != path.data() + dot) return false;
  *rest = path.substr(dot + 1);
  return true;
}

bool SetAnthropicIteration(unsigned index, std::string_view field, std::optional<int64_t> v,
                           RawUsage& r) {
  RawUsage::Iterations& it = r.iterations;
  int64_t* dst = nullptr;
  if (field == "input_tokens") {
    dst = &it.input_tokens;
  } else if (field == "output_tokens") {
    dst = &it.output_tokens;
  } else if (field == "cache_creation_input_tokens") {
    dst = &it.cache_creation_input_tokens;
  } else if (field == "cache_read_input_tokens") {
    dst = &it.cache_read_input_tokens;
  } else if (field == "cache_creation.ephemeral_5m_input_tokens") {
    dst = &it.ephemeral_5m_input_tokens;
    it.has_split = true;
  } else if (field == "cache_creation.ephemeral_1h_input_tokens") {
    dst = &it.ephemeral_1h_input_tokens;
    it.has_split = true;
  } else {
    return false;
  }
  if (v) *dst += ClampTokenCount(*v);
  if (index < 1'000'000 && int(index) >= it.count) it.count = int(index) + 1;
  return true;
}

bool SetAnthropic(std::string_view p, std::optional<int64_t> v, RawUsage& r) {
  std::string_view rest;
  unsigned index = 0;
  if (IterationField(p, &index, &rest)) return SetAnthropicIteration(index, rest, v, r);
  if (p == "input_tokens") {
    Put(r.input_tokens, v);
  } else if (p == "output_tokens") {
    Put(r.output_tokens, v);
  } else if (p == "cache_creation_input_tokens") {
    Put(r.cache_creation_input_tokens, v);
  } else if (p == "cache_read_input_tokens") {
    Put(r.cache_read_input_tokens, v);
  } else if (p == "cache_creation.ephemeral_5m_input_tokens") {
    Put(r.ephemeral_5m_input_tokens, v);
  } else if (p == "cache_creation.ephemeral_1h_input_tokens") {
    Put(r.ephemeral_1h_input_tokens, v);
  } else if (p == "output_tokens_details.thinking_tokens") {
    Put(r.thinking_tokens, v);
  } else if (p == "server_tool_use.web_search_requests") {
    Put(r.web_search_requests, v);
  } else if (p == "server_tool_use.web_fetch_requests") {
    Put(r.web_fetch_requests, v);
  } else {
    return false;
  }
  return true;
}

// Chat and Responses differ in the names of the prompt and output counts.
bool SetOpenAI(std::string_view p, std::optional<int64_t> v, RawUsage& r, bool chat) {
  const std::string_view in = chat ? "prompt_tokens" : "input_tokens";
  const std::string_view out = chat ? "completion_tokens" : "output_tokens";
  if (p == in) {
    Put(chat ? r.prompt_tokens : r.input_tokens, v);
  } else if (p == out) {
    Put(chat ? r.completion_tokens : r.output_tokens, v);
  } else if (p == "total_tokens") {
    Put(r.total_tokens, v);
  } else if (p.size() > in.size() + 9 && p.starts_with(in) &&
             p.substr(in.size()).starts_with("_details.")) {
    std::string_view d = p.substr(in.size() + 9);
    if (d == "cached_tokens") {
      Put(r.cached_tokens, v);
    } else if (d == "cache_write_tokens") {
      Put(r.cache_write_tokens, v);
    } else {
      return false;
    }
  } else if (p.size() > out.size() + 9 && p.starts_with(out) &&
             p.substr(out.size()).starts_with("_details.") &&
             p.substr(out.size() + 9) == "reasoning_tokens") {
    Put(r.reasoning_tokens, v);
  } else {
    return false;
  }
  return true;
}

bool SetGemini(std::string_view p, std::optional<int64_t> v, RawUsage& r) {
  if (p == "promptTokenCount") {
    Put(r.prompt_token_count, v);
  } else if (p == "cachedContentTokenCount") {
    Put(r.cached_content_token_count, v);
  } else if (p == "candidatesTokenCount") {
    Put(r.candidates_token_count, v);
  } else if (p == "thoughtsTokenCount") {
    Put(r.thoughts_token_count, v);
  } else if (p == "toolUsePromptTokenCount") {
    Put(r.tool_use_prompt_token_count, v);
  } else if (p == "totalTokenCount") {
    Put(r.total_token_count, v);
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::string_view ProviderName(Provider p) {
  switch (p) {
    case Provider::kAnthropic:
      return "anthropic";
    case Provider::kOpenAIChat:
    case Provider::kOpenAIResponses:
      return "openai";
    case Provider::kGemini:
      return "gemini";
    case Provider::kUnknown:
      break;
  }
  return "unknown";
}

std::string_view ProviderApiName(Provider p) {
  switch (p) {
    case Provider::kAnthropic:
      return "messages";
    case Provider::kOpenAIChat:
      return "chat.completions";
    case Provider::kOpenAIResponses:
      return "responses";
    case Provider::kGemini:
      return "generateContent";
    case Provider::kUnknown:
      break;
  }
  return "unknown";
}

std::optional<bool> InputIncludesCache(std::string_view name) {
  if (name == "anthropic") return false;
  if (name == "openai" || name == "copilot" || name == "gemini" || name == "google") return true;
  return std::nullopt;
}

bool SetUsageField(Provider api, std::string_view path, std::optional<int64_t> value,
                   RawUsage& raw) {
  switch (api) {
    case Provider::kAnthropic:
    case Provider::kUnknown:
      return SetAnthropic(path, value, raw);
    case Provider::kOpenAIChat:
      return SetOpenAI(path, value, raw, /*chat=*/true);
    case Provider::kOpenAIResponses:
      return SetOpenAI(path, value, raw, /*chat=*/false);
    case Provider::kGemini:
      return SetGemini(path, value, raw);
  }
  return false;
}

Provider GuessProvider(const RawUsage& r) {
  if (r.prompt_tokens || r.completion_tokens) return Provider::kOpenAIChat;
  if (r.prompt_token_count || r.candidates_token_count) return Provider::kGemini;
  if (r.cached_tokens || r.reasoning_tokens || r.cache_write_tokens) {
    return Provider::kOpenAIResponses;
  }
  return Provider::kAnthropic;
}

NormalizedUsage NormalizeUsage(Provider api, const RawUsage& r) {
  NormalizedUsage out;
  TokenBuckets& u = out.buckets;
  auto flag = [&](UsageAnomaly a) {
    out.anomaly_flags |= a;
    ++out.anomalies;
  };
  auto get = [&](const std::optional<int64_t>& v) -> int64_t {
    if (!v) return 0;
    if (*v < 0) {
      flag(kAnomalyNegative);
      return 0;
    }
    if (*v > kMaxTokenCount) {
      flag(kAnomalyNotInteger);
      return kMaxTokenCount;
    }
    return *v;
  };
  // An inclusive prompt count and its cached and written parts.
  auto inclusive = [&](int64_t prompt, int64_t cached, int64_t written) {
    if (cached + written > prompt) {
      flag(kAnomalyCachedOverPrompt);
      cached = cached < prompt ? cached : prompt;
      written = prompt - cached;
    }
    u.input = prompt - cached - written;
    u.cache_read = cached;
    u.cache_write_5m = written;  // OpenAI cache writes: one class, priced as cache_write_5m
  };
  switch (api) {
    case Provider::kAnthropic:
    case Provider::kUnknown: {
      const RawUsage::Iterations& it = r.iterations;
      if (it.count > 0) {
        // The billed usage is the sum over the iterations; the top level
        // holds only the last one's input and output.
        u.input = ClampTokenCount(it.input_tokens);
        u.cache_read = ClampTokenCount(it.cache_read_input_tokens);
        u.output = ClampTokenCount(it.output_tokens);
        if (it.has_split) {
          u.cache_write_5m = ClampTokenCount(it.ephemeral_5m_input_tokens);
          u.cache_write_1h = ClampTokenCount(it.ephemeral_1h_input_tokens);
        } else {
          u.cache_write_5m = ClampTokenCount(it.cache_creation_input_tokens);
          out.ttl_unknown = u.cache_write_5m > 0;
        }
        u.reasoning = get(r.thinking_tokens);
        break;
      }
      u.input = get(r.input_tokens);
      u.cache_read = get(r.cache_read_input_tokens);
      const int64_t creation = get(r.cache_creation_input_tokens);
      if (r.ephemeral_5m_input_tokens || r.ephemeral_1h_input_tokens) {
        u.cache_write_5m = get(r.ephemeral_5m_input_tokens);
        u.cache_write_1h = get(r.ephemeral_1h_input_tokens);
        if (r.cache_creation_input_tokens && creation != u.cache_write()) {
          flag(kAnomalyCacheWriteMismatch);  // the split wins
        }
      } else {
        u.cache_write_5m = creation;
        out.ttl_unknown = creation > 0;
      }
      u.output = get(r.output_tokens);
      u.reasoning = get(r.thinking_tokens);
      break;
    }
    case Provider::kOpenAIChat:
    case Provider::kOpenAIResponses: {
      const bool chat = api == Provider::kOpenAIChat;
      const std::optional<int64_t>& prompt = chat ? r.prompt_tokens : r.input_tokens;
      const std::optional<int64_t>& output = chat ? r.completion_tokens : r.output_tokens;
      inclusive(get(prompt), get(r.cached_tokens), get(r.cache_write_tokens));
      u.output = get(output);
      u.reasoning = get(r.reasoning_tokens);
      if (r.total_tokens && prompt && output && *r.total_tokens != *prompt + *output) {
        flag(kAnomalyTotalMismatch);
      }
      break;
    }
    case Provider::kGemini: {
      const int64_t prompt = get(r.prompt_token_count);
      inclusive(prompt, get(r.cached_content_token_count), 0);
      // Tool results fed back are input outside promptTokenCount (a separate
      // term of totalTokenCount).
      const int64_t tool = get(r.tool_use_prompt_token_count);
      u.input += tool;
      const int64_t candidates = get(r.candidates_token_count);
      const int64_t thoughts = get(r.thoughts_token_count);
      u.output = candidates + thoughts;  // thoughts are outside candidates
      u.reasoning = thoughts;
      if (r.total_token_count && *r.total_token_count != prompt + tool + candidates + thoughts) {
        flag(kAnomalyTotalMismatch);
      }
      break;
    }
  }
  if (u.reasoning > u.output) {
    flag(kAnomalyReasoningOverOutput);
    u.reasoning = u.output;
  }
  return out;
}

}  // namespace tokmeter
