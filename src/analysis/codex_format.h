// src/analysis/codex_format.h — Codex CLI session logs
// (~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl): the line parser and the
// per-thread counting rules the reader's emit stage applies in input order.
// Internal to the analysis library; the rules are described for users in
// docs/READERS.md ("Codex").
#ifndef TOKMETER_ANALYSIS_CODEX_FORMAT_H_
#define TOKMETER_ANALYSIS_CODEX_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/analysis/reader_internal.h"

namespace tokmeter::analysis::reader_internal {

// session_meta, turn_context, event_msg, response_item or compacted near the
// start of the line.
bool SniffCodex(std::string_view line);
// session_meta → kCodexSession, turn_context → kCodexContext, token_count
// with info → kCodexTokens; other Codex lines produce nothing.
LineResult ParseCodex(std::string_view line, ParseContext& ctx);

// Where the Codex rules hand what they decide (the reader's emit stage).
class CodexOutput {
 public:
  // A counted request of input `input`; `ev`'s views are valid for the call.
  virtual void Deliver(int input, UsageEvent& ev) = 0;
  // A token_count line of `input` that was not counted because it repeats
  // usage already counted (a re-sent count, a forked thread's replay).
  virtual void Duplicate(int input) = 0;

 protected:
  ~CodexOutput() = default;
};

// The counting rules, one thread (one log file) at a time:
//  * a request counts once, when the thread's cumulative `total_token_usage`
//    moves, by the amount it moved; an event whose totals did not move (a
//    count re-sent on a rate-limit update, a compaction estimate) counts
//    nothing;
//  * a forked thread (session_meta `forked_from_id`) starts with a copy of
//    its parent's history; those copied counts are the parent's usage. When
//    the parent's log was read too (before or after), a copied count is one
//    whose totals equal one of the parent's totals at or before the fork,
//    in order; otherwise the copy is the burst of lines written at the fork
//    instant (each within kReplayGapNs of the line before). The thread's own
//    counts continue from the last copied totals. Forked threads are counted
//    after every input has been read, so the parent's log can come later.
//  * the model is the latest turn_context's; before any, the parent's model
//    at the fork; else "gpt-5" tagged model_fallback=true.
// Not thread-safe: the emit stage calls it from one thread at a time.
class CodexThreads {
 public:
  // Copied lines are written back to back; a thread's own first count
  // follows a model round trip.
  static constexpr int64_t kReplayGapNs = 1'000'000'000;

  // One Codex record of input `input` (absolute line number set), in input
  // order.
  void Add(int input, const Record& r, CodexOutput& out);
  // Counts the forked threads (after the last input).
  void Finish(CodexOutput& out);

 private:
  struct Item {  // a record of a forked thread, kept until Finish
    RecordType type;
    int64_t time = 0, line = 0;
    bool has_last = false, has_total = false;
    CodexUsage last, total;
    std::string model;  // kCodexContext
  };
  struct Thread {
    bool started = false;  // its own session_meta was read
    std::string session, project, parent, model;
    bool subagent = false;
    bool forked = false;
    int64_t fork_ns = 0;
    bool counted = false;  // a request was counted
    bool has_prev = false;
    CodexUsage prev;  // the totals last seen
    std::vector<Item> items;
  };
  // What a thread's log says over time: its totals and models, for the
  // threads forked from it.
  struct History {
    std::vector<std::pair<int64_t, CodexUsage>> totals;   // (time, totals), as written
    std::vector<std::pair<int64_t, std::string>> models;  // (time, model)
  };

  Thread& At(int input);
  void Session(Thread& t, const Record& r);
  void Apply(int input, Thread& t, const Item& item, CodexOutput& out);
  void Count(int input, Thread& t, const Item& item, CodexOutput& out);
  void Replay(int input, Thread& t, CodexOutput& out);

  std::vector<Thread> threads_;  // by input index
  absl::flat_hash_map<std::string, History> history_;
};

}  // namespace tokmeter::analysis::reader_internal

#endif  // TOKMETER_ANALYSIS_CODEX_FORMAT_H_
