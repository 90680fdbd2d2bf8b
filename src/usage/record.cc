// RecordUsage: one provider call onto a span.
#include "tokmeter/span.h"
#include "tokmeter/usage.h"

namespace tokmeter {

void RecordUsage(Span& span, const ParsedUsage& u) noexcept {
  if (!span.recording()) return;
  span.AddUsage(u.usage);
  if (u.found) {
    // Zero counts are still counts: make input and output appear.
    span.Add(Counter::kInputTokens, 0).Add(Counter::kOutputTokens, 0);
  }
  span.Add(Counter::kRequests, 1);
  bool rate_limited = u.error ? u.error->rate_limited : u.rate_limit.status == 429;
  if (rate_limited) span.Add(Counter::kRateLimited, 1);
  if (u.error || u.rate_limit.status >= 400) span.Add(Counter::kErrors, 1);
  span.Tag("provider", ProviderName(u.provider));
  if (!u.model.empty()) span.Tag("model", std::string_view(u.model));
  if (!u.request_id.empty()) span.Tag("request_id", std::string_view(u.request_id));
  if (u.rate_limit.status != 0) span.Tag("status", u.rate_limit.status);
  span.Tag("streaming", u.streaming);
  if (u.partial) span.Tag("partial", true);
  if (u.error) {
    span.Tag("error_type", std::string_view(u.error->type.empty() ? u.error->code : u.error->type));
  }
}

}  // namespace tokmeter
