// The memory sink: owning copies of records, for tests and embedding.
#include <string>

#include "absl/strings/str_cat.h"
#include "tokmeter/sinks.h"

namespace tokmeter {
namespace {
OwnedTag ToOwnedTag(const Tag& t) {
  return OwnedTag{std::string(t.key), t.type, std::string(t.str), t.num};
}

std::string TagText(const std::vector<OwnedTag>& tags, std::string_view key) {
  for (const auto& t : tags) {
    if (t.key != key) continue;
    switch (t.type) {
      case TagType::kString:
        return t.str;
      case TagType::kInt:
        return absl::StrCat(t.num);
      case TagType::kBool:
        return t.num ? "true" : "false";
    }
  }
  return "";
}
}  // namespace

std::string OwnedSpan::tag(std::string_view key) const { return TagText(tags, key); }
std::string OwnedSpan::trace_tag(std::string_view key) const { return TagText(trace_tags, key); }

OwnedSpan ToOwned(const SpanRecord& s) {
  OwnedSpan o;
  o.trace_id = s.trace_id;
  o.span_id = s.span_id;
  o.parent_id = s.parent_id;
  o.start_unix_ns = s.start_unix_ns;
  o.end_unix_ns = s.end_unix_ns;
  o.kind = std::string(s.kind);
  o.name = std::string(s.name);
  o.thread_id = s.thread_id;
  o.is_trace_root = s.is_trace_root;
  o.has_fingerprint = s.has_fingerprint;
  o.fingerprint = s.fingerprint;
  o.counters = s.counters;
  for (const auto& c : s.user_counters) o.user_counters.emplace_back(std::string(c.name), c.value);
  for (const auto& t : s.tags) o.tags.push_back(ToOwnedTag(t));
  for (const auto& t : s.trace_tags) o.trace_tags.push_back(ToOwnedTag(t));
  return o;
}

absl::Status MemorySink::Write(const Batch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  ++batches_;
  for (const SpanRecord& s : batch.spans) spans_.push_back(ToOwned(s));
  for (const RollupRecord& r : batch.rollups) {
    rollups_.push_back(OwnedRollup{r.trace_id, r.span_id, std::string(r.scope), std::string(r.kind),
                                   std::string(r.name), r.start_unix_ns, r.end_unix_ns, r.spans,
                                   r.totals});
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
