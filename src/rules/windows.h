// src/rules/windows.h — the rules over time windows: spike and retry_storm.
//
// Both sum observations into time buckets keyed by their start, so the sums
// do not depend on the order observations arrive in (files read one after
// the other, spans closing out of order); only the live alert's moment does.
#ifndef TOKMETER_RULES_WINDOWS_H_
#define TOKMETER_RULES_WINDOWS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "src/rules/rule.h"
#include "src/rules/sketch.h"

namespace tokmeter::rules {

// The baseline a window is judged against (thresholds.h, spike).
struct Baseline {
  int windows = 0;  // baseline windows (active, not spikes)
  double p50 = 0, p95 = 0;
  // The tokens that make a window a spike; INT64_MAX when there is too little
  // baseline to judge.
  int64_t threshold = INT64_MAX;
};
// The baseline of these trailing window totals.
Baseline MakeBaseline(std::vector<int64_t> trailing);

// What a window-based view shows: one window, its top contributors and its
// baseline.
struct WindowView {
  int64_t start_ns = 0, width_ns = 0;
  int64_t tokens = 0, requests = 0, rate_limited = 0;
  bool spike = false;
  Baseline baseline;
  // Largest first: sessions, jobs, models by tokens; tools by calls.
  std::vector<std::pair<std::string, int64_t>> top[4];
};

// Spike windows close together: one episode.
struct SpikeEpisode {
  int64_t start_ns = 0, end_ns = 0;
  int64_t tokens = 0, peak_tokens = 0, requests = 0, rate_limited = 0;
  int windows = 0;
  Baseline baseline;  // the first spike window's
  // Largest first: sessions, jobs, models by tokens; tools by calls.
  std::vector<std::pair<std::string, int64_t>> top[4];
};
inline constexpr const char* kTopNames[4] = {"session", "job", "tool", "model"};

class SpikeRule {
 public:
  explicit SpikeRule(const RuleOptions& o);
  void Observe(const Observation& o, const AlertFn* alert);
  void Forget(int64_t before_ns);
  void AppendFindings(std::vector<Finding>* out) const;
  std::vector<SpikeEpisode> Episodes() const;
  // Every window with tokens in [from, to), judged against its baseline, in
  // time order (the `spikes` view).
  std::vector<WindowView> Windows(int64_t from_ns, int64_t to_ns) const;
  // The window holding `t` (empty if none).
  WindowView At(int64_t t_ns) const;

 private:
  struct Window {
    int64_t tokens = 0, requests = 0, rate_limited = 0;
    bool interactive = false;  // some of it is not background work
    TopSketch top[4];          // kTopNames: tokens by session, job, model; calls by tool
    // Live judgement: the threshold when the window first got tokens, and
    // whether it crossed it.
    int64_t live_threshold = -1;
    bool live_spike = false;
  };
  struct Judged {
    int64_t index;
    const Window* w;
    Baseline base;
    bool spike;
  };
  // Every window in order with its baseline (spikes kept out of later
  // baselines).
  std::vector<Judged> Judge() const;
  Baseline LiveBaseline(int64_t index, bool interactive) const;
  // Adds `share` of the observation's sums to the window `index`.
  void Add(int64_t index, const Observation& o, double share, const AlertFn* alert);
  WindowView View(const Judged& j) const;
  SpikeEpisode MakeEpisode(const std::vector<const Judged*>& windows) const;
  Finding MakeFinding(const SpikeEpisode& e) const;

  int64_t width_;
  int baseline_windows_;
  absl::btree_map<int64_t, Window> windows_;  // by start / width
  int64_t last_live_spike_ = INT64_MIN;       // index of the last live spike window
};

class StormRule {
 public:
  explicit StormRule(const RuleOptions& o);
  void Observe(const Observation& o, const AlertFn* alert);
  void Forget(int64_t before_ns);
  void AppendFindings(std::vector<Finding>* out) const;
  // 429s in the window ending at `t` (inclusive of its minute).
  int64_t RecentRateLimited(int64_t t_ns) const;

 private:
  struct Minute {
    int64_t rate_limited = 0, retries = 0, retry_wait_ms = 0;
    TopSketch sessions, jobs;  // 429s by session and by job
    TopSketch calls;           // 429s by fingerprint (identical retried requests)
  };
  Finding MakeFinding(int64_t first_minute, int64_t last_minute) const;
  int64_t SumBefore(int64_t minute) const;  // 429s in the window ending at `minute`

  int64_t width_;
  int64_t span_;                              // minutes per window
  absl::btree_map<int64_t, Minute> minutes_;  // by start / kStormBucketNs
  int64_t live_episode_end_ = INT64_MIN;      // last minute of the live episode
};

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_WINDOWS_H_
