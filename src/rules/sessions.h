// src/rules/sessions.h — the rules that follow one session's records in
// order: loop (the same call repeated; near-identical requests or turns),
// context_bloat, output_ratio_rise and cache_miss_streak.
//
// State is per session (or per run when the source names no session), a few
// hundred bytes each, and a session nobody has written to for a while is
// closed: its open episodes become findings and its state is dropped.
#ifndef TOKMETER_RULES_SESSIONS_H_
#define TOKMETER_RULES_SESSIONS_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/rules/rule.h"

namespace tokmeter::rules {

class SessionRules {
 public:
  explicit SessionRules(const RuleOptions& o);
  void Observe(const Observation& o, const AlertFn* alert);
  // Closes sessions with no record since `before_ns` (live use).
  void Forget(int64_t before_ns);
  void AppendFindings(std::vector<Finding>* out) const;
  size_t sessions() const { return threads_.size(); }

 private:
  // A run of something in one session, from its first record to its last.
  struct Run {
    int64_t count = 0;
    int64_t first_ns = 0, last_ns = 0;
    int64_t tokens_before = 0;  // the session's tokens before the run started
    int64_t tokens_end = 0;     // the session's tokens at its last record
    bool open = false;          // the rule fired: an episode is going on
  };
  struct Call {  // one distinct call (fingerprint, or tool + args)
    uint64_t key = 0;
    std::string what;  // "tool read_file", "llm plan"
    Run run;
    int64_t calls_before = 0;    // the session's calls of its kind before the run started
    bool tool = false;           // a tool call (else a model request)
    uint32_t step = UINT32_MAX;  // a tool call: the session's `requests` when last counted
    uint64_t used = 0;           // Thread::call_clock when last used (least recently used goes)
  };
  // The last prompts of a session, in place: at most kBloatMaxSteps, plus
  // the one pushed before the oldest is dropped. (A std::deque allocates
  // ~600 bytes each: over a million sessions' worth of memory.)
  class Steps {
   public:
    bool empty() const { return n_ == 0; }
    size_t size() const { return n_; }
    int64_t front() const { return v_[0]; }
    int64_t back() const { return v_[n_ - 1]; }
    int64_t operator[](size_t i) const { return v_[i]; }
    const int64_t* begin() const { return v_.data(); }
    const int64_t* end() const { return v_.data() + n_; }
    void clear() { n_ = 0; }
    void push_back(int64_t x) { v_[n_++] = x; }
    void pop_front() {
      std::copy(v_.begin() + 1, v_.begin() + n_, v_.begin());
      --n_;
    }

   private:
    std::array<int64_t, thresholds::kBloatMaxSteps + 1> v_{};
    uint8_t n_ = 0;
  };
  struct Thread {
    std::string name;
    Dim dim = Dim::kSession;
    std::string workflow;
    int64_t last_ns = 0;
    uint64_t touched = 0;  // idle_.observed() when last seen
    int64_t tokens = 0;    // counted tokens so far
    // Model requests so far: the steps tool calls belong to (the calls a
    // model asks for between two of its requests are one step).
    int64_t requests = 0;
    std::vector<Call> calls;  // at most kMaxCalls, in no order (Call::used orders them)
    uint64_t call_clock = 0;
    // Calls with a fingerprint or tool + args so far: [0] model requests,
    // [1] tool calls.
    int64_t keyed_calls[2] = {0, 0};
    // near-identical requests or turns
    Run near;
    int64_t prev_prompt = -1, prev_output = 0, prev_tools = 0, prev_ns = 0;
    // context growth: the last prompts (one per turn, or per request)
    Steps prompts;
    Steps prompt_times;
    uint64_t last_parent = 0;
    Run bloat;
    int64_t bloat_first = 0, bloat_last = 0, bloat_points = 0;
    int64_t prev_point = 0;  // the previous point (0 after a reset)
    double bloat_growth = 0;
    // output/prompt ratio
    std::vector<double> ratio_seed;  // the first requests' ratios
    double ratio_baseline = -1;      // their median, once there are enough
    Run ratio;
    double ratio_max = 0;
    // requests without a cache hit
    Run misses;
    int64_t last_request_ns = INT64_MIN;  // the previous request (cache TTL)
  };
  static constexpr size_t kMaxCalls = 8;

  void ObserveCall(Thread& t, const Observation& o, const AlertFn* alert);
  void ObserveNear(Thread& t, const Observation& o, const AlertFn* alert);
  void ObserveGrowth(Thread& t, const Observation& o, const AlertFn* alert);
  void ObserveRatio(Thread& t, const Observation& o, const AlertFn* alert);
  void ObserveMisses(Thread& t, const Observation& o, const AlertFn* alert);
  void Close(Thread& t);  // open episodes → findings
  // The findings of the thread's open loop episodes, least recently used
  // call first.
  void OpenLoops(const Thread& t, std::vector<Finding>* out) const;

  // A finding of `kind` about one episode of a thread: subject, keys, time
  // span and tokens; a warning unless the caller rates it higher.
  Finding Episode(const Thread& t, std::string kind, const Run& run) const;
  // A loop episode (`what` repeated): critical once it spent
  // thresholds::kLoopCriticalTokens; evidence repeats, tokens, seconds.
  Finding LoopEpisode(const Thread& t, const Run& run, std::string_view what) const;
  Finding LoopFinding(const Thread& t, const Call& c) const;
  Finding NearFinding(const Thread& t) const;
  Finding BloatFinding(const Thread& t) const;
  Finding RatioFinding(const Thread& t) const;
  Finding MissFinding(const Thread& t) const;

  RuleOptions opts_;
  // By pointer: a Thread is ~600 bytes, and a flat table's empty slots
  // would each take as much (tens of thousands of sessions at once).
  absl::flat_hash_map<uint64_t, std::unique_ptr<Thread>> threads_;
  std::vector<Finding> closed_;  // findings of episodes that ended
  IdleSweep idle_;
};

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_SESSIONS_H_
