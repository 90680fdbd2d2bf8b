// src/analysis/reader.h — reading usage logs: files, directories, stdin,
// .gz/.zst, every supported format sniffed per line.
#ifndef TOKMETER_ANALYSIS_READER_H_
#define TOKMETER_ANALYSIS_READER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/analysis/event.h"

namespace tokmeter::analysis {

struct ReadOptions {
  // e.g. "runs/{workflow}/{run}/*": path components captured as tags.
  std::string path_tags;
  // Events outside [since, until) are skipped (Unix ns; 0 = unbounded).
  int64_t since_unix_ns = 0;
  int64_t until_unix_ns = 0;
  // Reader threads (0 = hardware concurrency).
  int threads = 0;
};

// What was read from one input file (a directory expands into its files).
struct InputSummary {
  std::string path;
  std::string format;  // SourceFormatName of the first format seen, "empty", or "unknown"
  int64_t bytes = 0;
  int64_t lines = 0;
  int64_t records = 0;                   // events produced (after dedup)
  int64_t skipped_lines = 0;             // malformed lines skipped
  std::vector<int64_t> first_bad_lines;  // up to 5 line numbers
  int64_t duplicates = 0;       // lines dropped as duplicates (Claude Code snapshots and copies;
                                // Codex counts re-sent unchanged, and forked threads' copies of
                                // their parent's counts)
  int64_t dropped_records = 0;  // tokmeter `drops` lines: records the writer lost
  bool empty = false;
};

struct ReadResult {
  std::vector<InputSummary> inputs;
};

// Roll-ups (tokmeter `turn_summary` lines): see kTurnSummaryRollupKind.
using ::tokmeter::kTurnSummaryRollupKind;
inline bool IsRollup(const UsageEvent& e) { return e.kind == kTurnSummaryRollupKind; }

using EventFn = std::function<void(const UsageEvent&)>;

// Reads every input (file, directory recursively, "-" = stdin) and calls `fn`
// with each event. `fn` is called from one thread at a time. Fails (with a
// message naming the path) only when an input cannot be opened; bad lines are
// skipped and counted in the summary.
//
// Order: events of line formats arrive in input order (inputs as given,
// directory entries sorted by path), lines in file order. Then the events
// formats hold back until every input was read, format by format: Claude
// Code (deduplicated across all inputs: one event per message.id, the
// snapshot with the largest total, attribution from a non-sidechain copy
// when there is one; sorted by time) and forked Codex threads (counted once
// their parent's log may have been read; in input order). Tags: path tags,
// then trace tags, then the line's own tags (later ones win). Blank lines
// are ignored; a last line without '\n' is read like any other (bad if it
// does not parse). With since/until set, events without a timestamp are
// skipped. Details: docs/READERS.md.
absl::StatusOr<ReadResult> ReadInputs(const std::vector<std::string>& inputs,
                                      const ReadOptions& options, const EventFn& fn);

}  // namespace tokmeter::analysis

#endif  // TOKMETER_ANALYSIS_READER_H_
