// The rules of tokmeter's own records across lines, for JSONL and protobuf
// files alike: a trace record gives its tags to the later spans of that
// trace (the latest one wins); drops records count what the writer lost.
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/analysis/formats/formats.h"

namespace tokmeter::analysis::reader_internal {
namespace {

using TagView = std::pair<std::string_view, std::string_view>;

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
        Pack(r.ev, Slot(r.ev.trace_id));
        return;
      }
      case ParsedRecordType::kDrops:
        out.Dropped(input, r.count);
        return;
      case ParsedRecordType::kEvent: {
        out.UsageSeen(input);
        if (r.ev.trace_id.empty()) {
          out.Deliver(input, r.ev);
          return;
        }
        // Consecutive spans mostly share a trace: one compare, not a lookup
        // (and its tags unpacked once).
        if (last_ == nullptr || r.ev.trace_id != last_->first) {
          last_ = Find(r.ev.trace_id);
          Unpack(last_ == nullptr ? std::string_view() : last_->second, &views_);
        }
        out.Deliver(input, r.ev, views_);
        return;
      }
      default:
        return;
    }
  }

 private:
  // A trace's tags in one allocation (there is an entry per trace): each
  // key and value as its 4-byte length and its bytes.
  using TraceTags = absl::flat_hash_map<std::string, std::string>;

  static void Pack(const UsageEvent& ev, std::string& out) {
    out.clear();
    auto put = [&](std::string_view text) {
      const uint32_t n = uint32_t(text.size());
      out.append(reinterpret_cast<const char*>(&n), sizeof n).append(text);
    };
    for (int i = 0; i < ev.num_tags; ++i) {
      put(ev.tags[i].first);
      put(ev.tags[i].second);
    }
    out.shrink_to_fit();
  }

  static void Unpack(std::string_view packed, std::vector<TagView>* out) {
    out->clear();
    auto get = [&] {
      uint32_t n;
      std::memcpy(&n, packed.data(), sizeof n);
      std::string_view text = packed.substr(sizeof n, n);
      packed.remove_prefix(sizeof n + n);
      return text;
    };
    while (!packed.empty()) {
      std::string_view k = get();
      out->emplace_back(k, get());
    }
  }

  const TraceTags::value_type* Find(std::string_view id) {
    absl::string_view key(id.data(), id.size());
    auto it = traces_.find(key);
    if (it != traces_.end()) return &*it;
    if (generation_ == 0) return nullptr;
    auto old = old_.find(key);
    if (old == old_.end()) return nullptr;
    std::string tags = std::move(old->second);
    old_.erase(old);
    Slot(id) = std::move(tags);
    return &*traces_.find(key);
  }

  std::string& Slot(std::string_view id) {
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
  std::vector<TagView> views_;                   // its tags, unpacked
};

}  // namespace

std::unique_ptr<FormatState> NewTokmeterState(bool following) {
  return std::make_unique<TokmeterState>(following ? 8192 : 0);
}

}  // namespace tokmeter::analysis::reader_internal
