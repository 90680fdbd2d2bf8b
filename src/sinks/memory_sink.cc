// The memory sink: owning copies of records (tokmeter/record.h), for tests
// and embedding.
#include <string>

#include "absl/strings/str_cat.h"
#include "tokmeter/sinks.h"

namespace tokmeter {

absl::Status MemorySink::Write(const Batch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  ++batches_;
  for (const SpanRecord& s : batch.spans) spans_.push_back(ToOwned(s));
  for (const RollupRecord& r : batch.rollups) {
    rollups_.push_back(ToOwned(r));
  }
  for (const DropRecord& d : batch.drops) drops_.push_back(d);
  return absl::OkStatus();
}

std::vector<OwnedSpan> MemorySink::spans() const {
  std::lock_guard<std::mutex> lock(mu_);
  return spans_;
}
std::vector<OwnedRollup> MemorySink::rollups() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rollups_;
}
std::vector<DropRecord> MemorySink::drops() const {
  std::lock_guard<std::mutex> lock(mu_);
  return drops_;
}
uint64_t MemorySink::total_dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = 0;
  for (const auto& d : drops_) n += d.dropped;
  return n;
}
size_t MemorySink::batches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batches_;
}

}  // namespace tokmeter
