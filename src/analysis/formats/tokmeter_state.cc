// The rules of tokmeter's own records across lines, for JSONL and protobuf
// files alike: a trace record gives its tags to the later spans of that
// trace (the latest one wins); drops records count what the writer lost.
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/analysis/formats/formats.h"

namespace tokmeter::analysis::reader_internal {
namespace {

class TokmeterState final : public FormatState {
 public:
  // generation: 0 keeps every trace (ReadInputs); otherwise (following)
  // the tags of at most 2 * generation traces are kept: when `traces_`
  // reaches `generation` entries it becomes `old_` (the one before is
  // forgotten), and a trace found in `old_` moves back. A trace used in
  // the last `generation` insertions is never forgotten.
  explicit TokmeterState(size_t generation) : generation_(generation) {}

  void Add(int input, ParsedRecord& r, EmitSink& out) override {
    switch (r.type) {
      case ParsedRecordType::kTrace: {
        last_ = nullptr;  // the map may rehash: forget the cached lookup
        EmitSink::Tags& tags = Slot(r.ev.trace_id);
        tags.clear();
        for (int i = 0; i < r.ev.num_tags; ++i) {
          tags.emplace_back(std::string(r.ev.tags[i].first), std::string(r.ev.tags[i].second));
        }
        return;
      }
      case ParsedRecordType::kDrops:
        out.Dropped(input, r.count);
        return;
      case ParsedRecordType::kEvent: {
        out.UsageSeen(input);
        const EmitSink::Tags* tags = nullptr;
        if (!r.ev.trace_id.empty()) {
          // Consecutive spans mostly share a trace: one compare, not a lookup.
          if (last_ == nullptr || r.ev.trace_id != last_->first) last_ = Find(r.ev.trace_id);
          if (last_ != nullptr) tags = &last_->second;
        }
        out.Deliver(input, r.ev, tags);
        return;
      }
      default:
        return;
    }
  }

 private:
  using TraceTags = absl::flat_hash_map<std::string, EmitSink::Tags>;

  const TraceTags::value_type* Find(std::string_view id) {
    absl::string_view key(id.data(), id.size());
    auto it = traces_.find(key);
    if (it != traces_.end()) return &*it;
    if (generation_ == 0) return nullptr;
    auto old = old_.find(key);
    if (old == old_.end()) return nullptr;
    EmitSink::Tags tags = std::move(old->second);
    old_.erase(old);
    EmitSink::Tags& slot = Slot(id);
    slot = std::move(tags);
    return &*traces_.find(key);
  }

  EmitSink::Tags& Slot(std::string_view id) {
    absl::string_view key(id.data(), id.size());
    if (generation_ != 0 && traces_.size() >= generation_ && !traces_.contains(key)) {
      old_ = std::move(traces_);
      traces_ = TraceTags();
    }
    if (generation_ != 0) old_.erase(key);
    return traces_[std::string(id)];
  }

  const size_t generation_;
  TraceTags traces_;
  TraceTags old_;                                // following: the previous generation
  const TraceTags::value_type* last_ = nullptr;  // the last lookup's hit, if any
};

}  // namespace

std::unique_ptr<FormatState> NewTokmeterState(bool following) {
  return std::make_unique<TokmeterState>(following ? 8192 : 0);
}

}  // namespace tokmeter::analysis::reader_internal
