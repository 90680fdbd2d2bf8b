// tokmeter/usage.h — token usage read straight from provider responses and
// SSE streams (Anthropic Messages, OpenAI Chat Completions and Responses,
// Gemini generateContent), normalized to disjoint buckets.
//
//   tokmeter::UsageStreamParser parser;             // provider sniffed from the events
//   for (std::string_view chunk : body_chunks) parser.Feed(chunk);
//   tokmeter::ParsedUsage u = parser.Finish();      // u.partial if the stream was cut
//   tokmeter::ApplyHttpResponse(u, status, headers);  // request id, rate limits
//   tokmeter::RecordUsage(tokmeter::Current(), u);  // counters and tags on the span
//
// The mapping into buckets is tokmeter/provider_usage.h's (one mapping for
// the parsers and the transcript readers). Streams: Anthropic message_delta
// usage is cumulative (replaced, never added); OpenAI sends usage once, in
// the last chunk (Chat, with include_usage) or the terminal event
// (Responses); Gemini's last chunk holds the final counts. Impossible values
// are clamped and counted in `anomalies`, never thrown.
#ifndef TOKMETER_USAGE_H_
#define TOKMETER_USAGE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tokmeter/counters.h"
#include "tokmeter/provider_usage.h"

namespace tokmeter {

class Span;

// A provider error: from an error body, an SSE `error` event, a Responses
// `response.failed` event, or the HTTP status alone.
struct ApiError {
  std::string type;  // "rate_limit_error", "overloaded_error", "tokens", "RESOURCE_EXHAUSTED",
                     // "http_429"...
  std::string code;  // OpenAI `code` ("rate_limit_exceeded", "insufficient_quota"), Gemini `code`
  std::string message;
  bool rate_limited = false;     // a rate limit: retry after the reset
  bool overloaded = false;       // provider overload (Anthropic 529 / overloaded_error, 503)
  bool quota_exhausted = false;  // insufficient_quota / credit exhausted: do not retry
  bool retryable = false;
};

// One rate-limit window from the response headers (e.g. "requests",
// "tokens", "input-tokens", "output-tokens", "project-tokens").
struct RateLimitWindow {
  std::string name;
  std::optional<int64_t> limit;
  std::optional<int64_t> remaining;
  // Time until the window is full again, and when that is. Anthropic sends
  // the time (RFC 3339), OpenAI the duration ("6m0s"); the other is derived
  // from the response time.
  std::optional<int64_t> reset_after_ms;
  std::optional<int64_t> reset_unix_ms;
};

// Rate-limit information from an HTTP response's status and headers.
struct RateLimitInfo {
  int status = 0;                         // HTTP status, 0 if unknown
  std::optional<int64_t> retry_after_ms;  // retry-after (seconds or HTTP date) / retry-after-ms
  std::vector<RateLimitWindow> windows;
  // The window with this name, or null.
  const RateLimitWindow* window(std::string_view name) const;
  bool empty() const { return status == 0 && !retry_after_ms && windows.empty(); }
};

// What a response said about usage, normalized.
struct ParsedUsage {
  Provider provider = Provider::kUnknown;
  bool streaming = false;
  bool found = false;    // a usage object was seen
  bool partial = false;  // a stream that ended before its terminal event (usage is what was known)
  bool ttl_unknown = false;  // a cache write without the 5m/1h split: counted as 5m
  TokenBuckets usage;        // disjoint buckets
  RawUsage raw;
  std::string model;
  std::string response_id;  // msg_… / chatcmpl-… / resp_… / Gemini responseId
  std::string request_id;   // request-id / x-request-id header, or the error body's request_id
  std::string stop_reason;  // stop_reason / finish_reason / status / finishReason, last seen
  std::optional<ApiError> error;
  RateLimitInfo rate_limit;    // filled by ApplyHttpResponse
  uint32_t anomaly_flags = 0;  // UsageAnomaly bits
  int anomalies = 0;           // how many values were impossible (and clamped)
  // Stream statistics.
  int64_t events = 0;        // SSE events dispatched
  int64_t bytes = 0;         // bytes fed
  int64_t bad_payloads = 0;  // data payloads that were not JSON (a cut last line included)
  bool has_anomaly(UsageAnomaly a) const { return (anomaly_flags & a) != 0; }
};

// Parses a whole (non-streaming) response body: a Messages / Chat /
// Responses / generateContent object, a Gemini JSON array of chunks, one
// stream event object, or an error body. `hint` is used only when the body
// does not say which API it came from. InvalidArgument if `body` is not JSON;
// a JSON body without usage gives found == false.
absl::StatusOr<ParsedUsage> ParseUsageBody(std::string_view body,
                                           Provider hint = Provider::kUnknown);

// Incremental SSE usage parser: feed bytes as they arrive, split anywhere.
// Understands LF and CRLF line ends, comments, multi-line data, `ping`,
// `error` events and `data: [DONE]`. Payloads that cannot carry usage (e.g.
// content_block_delta) are skipped without JSON parsing.
// Not thread-safe; one parser per stream.
class UsageStreamParser {
 public:
  explicit UsageStreamParser(Provider hint = Provider::kUnknown);
  ~UsageStreamParser();
  UsageStreamParser(UsageStreamParser&&) noexcept;
  UsageStreamParser& operator=(UsageStreamParser&&) noexcept;

  // Consumes the next bytes of the stream. Never fails: bad payloads are
  // counted in ParsedUsage::bad_payloads.
  void Feed(std::string_view bytes);
  // Ends the stream: a last event without its blank line is still used;
  // `partial` is set unless the terminal event (message_stop, [DONE],
  // response.completed/incomplete/failed, a Gemini finishReason) was seen.
  // Later Feed calls are ignored.
  const ParsedUsage& Finish();
  // What is known so far (normalized; `partial` reflects the state now).
  const ParsedUsage& result();
  // True once the terminal event was seen.
  bool complete() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience: parses a whole SSE stream held in memory.
ParsedUsage ParseUsageStream(std::string_view sse, Provider hint = Provider::kUnknown);

using HeaderView = std::pair<std::string_view, std::string_view>;

// Rate-limit information from status and headers (names case-insensitive):
// anthropic-ratelimit-*-{limit,remaining,reset} (RFC 3339),
// x-ratelimit-{limit,remaining,reset}-* (Go durations such as 6m0s, 1.2s,
// 20ms), retry-after (seconds or HTTP date), retry-after-ms. `now` is the
// response time, used to convert between reset times and durations.
RateLimitInfo ParseRateLimit(int status, std::span<const HeaderView> headers,
                             absl::Time now = absl::Now());

// Adds what the HTTP response says to `u`: status and rate limits, the
// request id header (request-id / x-request-id) when `u` has none, and an
// ApiError from the status alone (429, 529, 5xx, 4xx) when no error body was
// parsed.
void ApplyHttpResponse(ParsedUsage& u, int status, std::span<const HeaderView> headers,
                       absl::Time now = absl::Now());

// Classifies an error body ({"type":"error","error":{...}}, OpenAI
// {"error":{...}}, Gemini {"error":{"status":...}}); nullopt if it is not one.
std::optional<ApiError> ParseErrorBody(std::string_view body);

// Parses a Go duration ("6m0s", "1.2s", "20ms", "1h2m", "500us", "0") into
// milliseconds, rounded up; nullopt on bad input.
std::optional<int64_t> ParseGoDurationMs(std::string_view s);
// Parses `retry-after`: delay seconds (fractions allowed) or an HTTP date
// (RFC 9110 IMF-fixdate) relative to `now`. Milliseconds, never negative.
std::optional<int64_t> ParseRetryAfterMs(std::string_view s, absl::Time now);

// Records one provider call on `span`: the usage buckets (input = uncached,
// cache_read, cache_write = 5m + 1h, cache_write_1h, output, reasoning),
// requests = 1, rate_limited (a rate-limit error or 429), errors (any
// error), and the tags provider, model, request_id, status, streaming (and
// partial / error_type when set).
void RecordUsage(Span& span, const ParsedUsage& u) noexcept;

}  // namespace tokmeter

#endif  // TOKMETER_USAGE_H_
