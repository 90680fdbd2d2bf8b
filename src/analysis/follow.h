// src/analysis/follow.h — following growing usage files, like `tail -F`:
// each Poll reads what was appended since the last one and produces the
// events the batch reader (reader.h) would produce for those bytes.
#ifndef TOKMETER_ANALYSIS_FOLLOW_H_
#define TOKMETER_ANALYSIS_FOLLOW_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "src/analysis/reader.h"

namespace tokmeter::analysis {

struct FollowOptions {
  // Path tags and the time range, as for ReadInputs (`threads` is not used:
  // one thread reads).
  ReadOptions read;
  // true: what the files hold at the first Poll is read (and delivered)
  // first. false: that content is read only for the state later lines need
  // (tokmeter trace tags, Codex threads' ids, models and totals, Claude Code
  // messages already written) and nothing of it is delivered or counted;
  // only what is appended later is. Files that appear after the first Poll
  // are read from their start either way.
  bool from_start = true;
  // Claude Code: a message not yet followed by another of its agent is
  // delivered once its file has not grown for this many Polls.
  int settle_polls = 1;
  // Descriptors kept open for files found in directories (the most
  // recently grown ones); named files always keep theirs.
  int max_open_files = 256;
};

// Follows files and directories (recursively; new files are picked up on a
// later Poll). Poll reads, for each file, the bytes appended since the last
// Poll and parses its complete lines only: an unfinished last line is kept
// until its '\n' arrives (or the file ends: deleted, replaced or
// truncated, when it is read as the batch reader reads a last line).
// Rotation (a new file at the path: the old one's remaining bytes are read
// first), truncation (read again from the start), copytruncate (a copy that
// appears in a followed directory is not read twice) and deletion are
// handled. Formats with rules across lines release their events as the
// files grow (docs/READERS.md "Following files"). Memory is per-file state
// (offsets, an unfinished line, bounded format state), never the lines
// already read. Not thread-safe; Poll never blocks on a file.
class Follower {
 public:
  Follower(std::vector<std::string> paths, FollowOptions options);
  ~Follower();
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  // One pass over every path: calls `fn` (from this thread) with each new
  // event. When nothing changed it only stats the files (and the
  // directories). A path that does not exist (yet) is not an error; a
  // problem with one path (permission denied, unreadable data) is a
  // warning (TakeWarnings), reported once, and the others are read.
  absl::Status Poll(const EventFn& fn);

  // Delivers what the formats hold back (Claude Code messages waiting for
  // their agent's next message or for their file to settle). Unfinished
  // lines stay unread.
  void ReleaseHeld(const EventFn& fn);

  // One summary per file read (a file replaced at its path, or truncated,
  // starts a new one with the same path), in the order they were found;
  // UsageEvent::input_index indexes it. Counts cover what was delivered
  // (with from_start = false, not what the files held at the start; line
  // numbers stay the files' own).
  std::vector<InputSummary> Summaries() const;

  // Problems found since the last call, each naming its path.
  std::vector<std::string> TakeWarnings();

  struct Stats {
    int64_t files = 0;           // files followed now
    int64_t open_files = 0;      // descriptors open
    int64_t buffered_bytes = 0;  // unfinished lines (and records) kept
    int64_t polls = 0;
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tokmeter::analysis

#endif  // TOKMETER_ANALYSIS_FOLLOW_H_
