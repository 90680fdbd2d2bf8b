// src/analysis/blocks.h — 5-hour usage blocks, the windows Anthropic's plan
// limits are counted in: a block starts with the first message after the
// previous block ended, at that message's time floored to the hour (UTC), and
// lasts 5 hours; a message at or after the end starts the next block.
#ifndef TOKMETER_ANALYSIS_BLOCKS_H_
#define TOKMETER_ANALYSIS_BLOCKS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/analysis/store.h"

namespace tokmeter::analysis {

inline constexpr int64_t kBlockLengthNs = int64_t{5} * 3600 * 1'000'000'000;
inline constexpr int64_t kBlockAlignNs = int64_t{3600} * 1'000'000'000;

struct UsageBlock {
  int64_t start_ns = 0;  // the first event's time floored to the hour (UTC)
  int64_t end_ns = 0;    // start + kBlockLengthNs (exclusive)
  Agg agg;               // its events (agg.first_ns / last_ns: first and last)
  std::map<std::string, Agg> by_model;
};

// Cuts time-ordered records into blocks. Roll-ups and records without
// tokens or requests (tool spans, traces) are not usage and never start a
// block. Thread-compatible.
class BlockBuilder {
 public:
  explicit BlockBuilder(const EventStore& store) : store_(&store) {}
  // `r` must not be earlier than the previous record added.
  void Add(const StoredEvent& r);
  std::vector<UsageBlock> Take();

 private:
  void Close();
  const EventStore* store_;
  std::vector<UsageBlock> done_;
  std::optional<UsageBlock> open_;
  absl::flat_hash_map<uint32_t, Agg> models_;  // of the open block
};

// Burn rate and projection of a block as of `now_ns`.
struct BlockRates {
  // Active: now in [start, end). (The latest event is "now" by default, so
  // the block holding it is active then.)
  bool active = false;
  // Tokens per minute and USD per hour between the block's first and last
  // event; unset when they are the same instant.
  std::optional<double> tokens_per_minute, cost_per_hour;
  // Active blocks: what the block will hold at its end at this rate.
  std::optional<int64_t> projected_tokens;
  std::optional<double> projected_cost;
  int64_t remaining_minutes = 0;  // whole minutes from now to the end (active only)
};
BlockRates RatesOf(const UsageBlock& b, int64_t now_ns);

}  // namespace tokmeter::analysis

#endif  // TOKMETER_ANALYSIS_BLOCKS_H_
