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
  void Add(int input, ParsedRecord& r, EmitSink& out) override {
    switch (r.type) {
      case ParsedRecordType::kTrace: {
        last_ = nullptr;  // the map may rehash: forget the cached lookup
        EmitSink::Tags& tags = traces_[std::string(r.ev.trace_id)];
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
          if (last_ == nullptr || r.ev.trace_id != last_->first) {
            auto it = traces_.find(absl::string_view(r.ev.trace_id.data(), r.ev.trace_id.size()));
            last_ = it != traces_.end() ? &*it : nullptr;
          }
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
  TraceTags traces_;
  const TraceTags::value_type* last_ = nullptr;  // the last lookup's hit, if any
};

}  // namespace

std::unique_ptr<FormatState> NewTokmeterState() { return std::make_unique<TokmeterState>(); }

}  // namespace tokmeter::analysis::reader_internal
