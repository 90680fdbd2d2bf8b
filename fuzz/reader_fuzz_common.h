// Shared driver for the reader fuzzers: runs ReadWith over in-memory inputs
// (a format-specific first line, so the sniffer's hint is that format, then
// the fuzzer's bytes) and checks the invariants every event must hold.
// Invariants: never crash, no read of freed memory (every string view of an
// event is touched), buckets non-negative, reasoning <= output, summaries
// consistent.
#ifndef TOKMETER_FUZZ_READER_FUZZ_COMMON_H_
#define TOKMETER_FUZZ_READER_FUZZ_COMMON_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/buckets_check.h"
#include "src/analysis/reader.h"
#include "src/analysis/reader_internal.h"
#include "src/pricing/pricing.h"

namespace tokmeter::analysis::fuzz {

inline size_t Touch(std::string_view s) {
  size_t h = s.size();
  for (char c : s) h = h * 31 + static_cast<unsigned char>(c);
  return h;
}

inline void CheckEvent(const UsageEvent& e) {
  tokmeter::fuzz::CheckBuckets(e.tokens);
  if (e.num_tags < 0 || e.num_tags > UsageEvent::kMaxTags) std::abort();
  volatile size_t h = Touch(e.kind) + Touch(e.name) + Touch(e.provider) + Touch(e.model) +
                      Touch(e.trace_id) + Touch(e.span_id) + Touch(e.parent_id);
  for (int i = 0; i < e.num_tags; ++i) h = h + Touch(e.tags[i].first) + Touch(e.tags[i].second);
  (void)h;
  (void)PriceTable::Builtin().Cost(e);
}

// Reads `prefix + data` as one input and `data` again as a second input (so
// cross-input state — Claude Code dedup, trace tags — is exercised).
inline int RunReader(std::string_view prefix, const uint8_t* data, size_t size) {
  std::string first(prefix);
  first.append(reinterpret_cast<const char*>(data), size);
  std::string second(reinterpret_cast<const char*>(data), size);
  ReadOptions o;
  o.threads = 1;
  o.path_tags = "{a}/*";
  auto open =
      [&](const std::string& name) -> absl::StatusOr<std::unique_ptr<reader_internal::ByteSource>> {
    const std::string& buf = name == "dir/one.jsonl" ? first : second;
    // Compressed inputs are detected by magic bytes, as for files.
    return reader_internal::MaybeDecompress(buf.substr(0, 4), reader_internal::MemorySource(buf),
                                            name);
  };
  auto r = reader_internal::ReadWith({"dir/one.jsonl", "dir/two.jsonl"}, open, o, CheckEvent);
  if (r.ok()) {
    for (const InputSummary& s : r->inputs) {
      if (s.skipped_lines < 0 || s.records < 0 || s.duplicates < 0 ||
          s.first_bad_lines.size() > 5 || s.lines < 0) {
        std::abort();
      }
      for (int64_t l : s.first_bad_lines) {
        if (l < 1 || l > s.lines + 1) std::abort();
      }
    }
  }
  return 0;
}

}  // namespace tokmeter::analysis::fuzz

#endif  // TOKMETER_FUZZ_READER_FUZZ_COMMON_H_
