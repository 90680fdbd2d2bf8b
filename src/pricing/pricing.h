// src/pricing/pricing.h — model prices (data/pricing.json) and the cost of an event.
//
// Table format (data/pricing.json, and --pricing FILE): one JSON object
//   {"format": "tokmeter-pricing/1", "currency": "USD", "unit": "per million tokens",
//    "models": [
//      {"id": "claude-sonnet-4-5", "provider": "anthropic",
//       "aliases": ["claude-sonnet-4.5", "claude-sonnet-4-5-20250929"],
//       "input": 3, "output": 15, "cache_read": 0.3,
//       "cache_write_5m": 3.75, "cache_write_1h": 6,
//       "long_context": {"threshold": 200000, "input": 6, "output": 22.5,
//                        "cache_read": 0.6, "cache_write_5m": 7.5, "cache_write_1h": 12}},
//      ...]}
// Prices are USD per million tokens. `id`, `input` and `output` are required;
// a missing cache_read / cache_write_5m / cache_write_1h costs like input (no
// discount, no surcharge); `long_context` is optional (its missing rates are
// the base rates). Other top-level keys ("as_of", "notes") are ignored.
//
// Name matching (Find), after normalizing the logged name — lower case; any
// "vendor/" prefix (OpenRouter, "openai-codex/") dropped; Bedrock region and
// vendor prefixes ("us.", "anthropic.") and version suffixes ("-v1", "-v1:0")
// dropped; Vertex "@date" read as "-date"; "." read as "-"; a "-fast" suffix
// dropped — an id or alias equal to the name wins; otherwise the longest id or
// alias that is a prefix of the name at a '-' boundary, unless the leftover
// starts with a number that is not a date (8 digits, or YYYY-MM-DD): so
// "claude-opus-4-1-20250805" never prices as "claude-opus-4".
#ifndef TOKMETER_PRICING_PRICING_H_
#define TOKMETER_PRICING_PRICING_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "src/model/usage_event.h"
#include "tokmeter/buckets.h"

namespace tokmeter {

// USD per million tokens, per token class.
struct Rates {
  double input = 0;
  double output = 0;
  double cache_read = 0;
  double cache_write_5m = 0;
  double cache_write_1h = 0;
};

struct ModelPrice {
  std::string id;        // canonical model id, e.g. "claude-sonnet-4-5"
  std::string provider;  // anthropic | openai | google
  Rates base;
  // Long-context tier: when one request's prompt (input + cache read + cache
  // write) exceeds `long_context_threshold` tokens, every token of that
  // request is billed at `long_context`.
  int64_t long_context_threshold = 0;  // 0 = no tier
  Rates long_context;
  // Requests made in fast mode (Claude Code `usage.speed: "fast"`, tag
  // speed=fast, or a `-fast` model suffix) cost this many times the rates
  // above. 2 when the table does not say (ccusage's default).
  double fast_multiplier = 2;
};

// Thread-safety: const methods are thread-safe.
class PriceTable {
 public:
  // The table shipped in data/pricing.json (compiled in).
  static const PriceTable& Builtin();
  // A user table in the same JSON format; InvalidArgument names the file and
  // the entry that is wrong.
  static absl::StatusOr<PriceTable> LoadFile(const std::string& path);
  static absl::StatusOr<PriceTable> Parse(std::string_view json, std::string_view origin);

  // The price of a model name as logs spell it: dated ids, Bedrock/Vertex/
  // OpenRouter spellings, `-fast` suffixes. nullptr
  // when unknown, and for "<synthetic>".
  const ModelPrice* Find(std::string_view model) const;
  // Cost of one event in USD; nullopt when the model is unpriced (never 0
  // for an unknown model). Events with no tokens cost 0 even when unpriced.
  // Fast-mode events are multiplied by the model's fast_multiplier.
  // The long-context tier applies per request, so it is only applied to
  // events with requests <= 1 (a turn summary is not one request).
  std::optional<double> Cost(const UsageEvent& e) const;
  std::optional<double> Cost(std::string_view model, const TokenBuckets& t) const;

  const std::vector<ModelPrice>& models() const { return models_; }

 private:
  std::vector<ModelPrice> models_;
  std::vector<std::pair<std::string, size_t>> aliases_;  // normalized id/alias -> index
  struct Cache;
  std::shared_ptr<Cache> cache_;  // logged name -> result of Find (thread-safe)
};

}  // namespace tokmeter

#endif  // TOKMETER_PRICING_PRICING_H_
