// tokmeter/buckets.h — token usage in disjoint buckets, the figures derived
// from them, and the bound on one count: the definitions every part of
// tokmeter (capture, usage parsers, readers, rules, reports) uses.
#ifndef TOKMETER_BUCKETS_H_
#define TOKMETER_BUCKETS_H_

#include <cstdint>
#include <string_view>

namespace tokmeter {

// Upper bound for one token count read from outside (a provider response, a
// log line, a protobuf record): about 10^12, far above any real request, and
// low enough that no sum of counts can overflow int64.
inline constexpr int64_t kMaxTokenCount = int64_t{1} << 40;
// `v` clamped to [0, kMaxTokenCount].
constexpr int64_t ClampTokenCount(int64_t v) {
  return v < 0 ? 0 : v > kMaxTokenCount ? kMaxTokenCount : v;
}

// Token usage in disjoint buckets. Providers report overlapping fields
// (OpenAI's prompt_tokens includes the cached part, Anthropic's input_tokens
// does not); every reader and parser maps them into these buckets, so the
// prompt a model saw is input + cache_read + cache_write and nothing is
// counted twice. Plain value type.
struct TokenBuckets {
  int64_t input = 0;           // uncached input
  int64_t cache_read = 0;      // read from the prompt cache
  int64_t cache_write_5m = 0;  // written to the cache with the 5-minute TTL, or TTL unknown
  int64_t cache_write_1h = 0;  // written with the 1-hour TTL
  int64_t output = 0;          // all output, reasoning included
  int64_t reasoning = 0;       // the part of output spent reasoning (never added to a total)

  int64_t cache_write() const { return cache_write_5m + cache_write_1h; }
  // input + cache_read + cache_write: the prompt the model saw.
  int64_t prompt() const { return input + cache_read + cache_write(); }
  // Everything that counts toward a provider's token quota, cached tokens
  // included: prompt + output.
  int64_t total() const { return prompt() + output; }
  void Add(const TokenBuckets& o) {
    input += o.input;
    cache_read += o.cache_read;
    cache_write_5m += o.cache_write_5m;
    cache_write_1h += o.cache_write_1h;
    output += o.output;
    reasoning += o.reasoning;
  }
  // Reasoning is a part of output: a source that says more is capped (a
  // malformed or hostile count must not make output minus reasoning < 0).
  void CapReasoning() { reasoning = reasoning < output ? reasoning : output; }
  friend bool operator==(const TokenBuckets&, const TokenBuckets&) = default;
};

// Calls fn(name, value) for each bucket under the name reports and the
// Python API give it, in this order: input_tokens, output_tokens,
// cache_read_tokens, cache_write_tokens (the whole write),
// cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens.
template <typename Fn>
void ForEachNamedBucket(const TokenBuckets& t, Fn&& fn) {
  fn(std::string_view("input_tokens"), t.input);
  fn(std::string_view("output_tokens"), t.output);
  fn(std::string_view("cache_read_tokens"), t.cache_read);
  fn(std::string_view("cache_write_tokens"), t.cache_write());
  fn(std::string_view("cache_write_5m_tokens"), t.cache_write_5m);
  fn(std::string_view("cache_write_1h_tokens"), t.cache_write_1h);
  fn(std::string_view("reasoning_tokens"), t.reasoning);
}

// The derived figures. Each is 0 when its denominator is 0.
//
// Cache hit rate: cache_read / (cache_read + input) — the share of the
// non-written prompt that came from the cache.
inline double CacheHitRate(const TokenBuckets& t) {
  const double den = double(t.cache_read + t.input);
  return den > 0 ? double(t.cache_read) / den : 0.0;
}
// Prompt cache share: cache_read / (input + cache_read + cache_write) — the
// share of the whole prompt read from the cache (e.g. 4.23M of 4.59M =
// 92.3 %: cheap, but still counted by the quota).
inline double PromptCacheShare(const TokenBuckets& t) {
  const double den = double(t.prompt());
  return den > 0 ? double(t.cache_read) / den : 0.0;
}
// Input/output ratio: (input + cache_read + cache_write) / output.
inline double InputOutputRatio(const TokenBuckets& t) {
  const double den = double(t.output);
  return den > 0 ? double(t.prompt()) / den : 0.0;
}

}  // namespace tokmeter

#endif  // TOKMETER_BUCKETS_H_
