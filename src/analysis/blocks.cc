// 5-hour usage blocks (blocks.h).
#include "src/analysis/blocks.h"

#include <cmath>

namespace tokmeter::analysis {
namespace {

int64_t FloorTo(int64_t t, int64_t unit) { return t - (((t % unit) + unit) % unit); }

}  // namespace

void BlockBuilder::Add(const StoredEvent& r) {
  if (r.rollup || (r.tokens.total() == 0 && r.requests == 0)) return;
  // A message at or after the block's end starts a new block (the window is
  // [start, start + 5 h)); so does one after a gap of 5 h or more, which is
  // always past the end.
  if (open_ && r.time_ns >= open_->end_ns) Close();
  if (!open_) {
    open_.emplace();
    open_->start_ns = FloorTo(r.time_ns, kBlockAlignNs);
    open_->end_ns = open_->start_ns + kBlockLengthNs;
  }
  open_->agg.Add(r);
  models_[r.dim(Dim::kModel)].Add(r);
}

void BlockBuilder::Close() {
  if (!open_) return;
  for (const auto& [model, agg] : models_) open_->by_model[store_->str(model)] = agg;
  models_.clear();
  done_.push_back(std::move(*open_));
  open_.reset();
}

std::vector<UsageBlock> BlockBuilder::Take() {
  Close();
  return std::move(done_);
}

BlockRates RatesOf(const UsageBlock& b, int64_t now_ns) {
  BlockRates r;
  r.active = now_ns >= b.start_ns && now_ns < b.end_ns;
  const double minutes = double(b.agg.last_ns - b.agg.first_ns) / 60e9;
  if (minutes > 0) {
    r.tokens_per_minute = double(b.agg.total()) / minutes;
    if (b.agg.HasCost()) r.cost_per_hour = b.agg.cost_usd / minutes * 60;
  }
  if (r.active) {
    r.remaining_minutes = (b.end_ns - now_ns) / 60'000'000'000;
    const double left = double(b.end_ns - now_ns) / 60e9;
    const double tpm = r.tokens_per_minute.value_or(0);
    r.projected_tokens = b.agg.total() + int64_t(std::llround(tpm * left));
    if (b.agg.HasCost())
      r.projected_cost = b.agg.cost_usd + r.cost_per_hour.value_or(0) / 60 * left;
  }
  return r;
}

}  // namespace tokmeter::analysis
