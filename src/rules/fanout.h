// src/rules/fanout.h — fanout: one turn with many tool calls.
//
// A turn's tool calls are counted from the records that name it: tool spans
// (and requests with tool calls) under the turn's id, or the turn's own
// record (a turn summary, a roll-up) that says how many it made. It is
// judged against the turns before it (thresholds.h: kFanout*): a turn is
// done when its own record arrives or its session moves on to another turn,
// and its count joins the history. A done turn still counts the tool calls
// that name it later (turns of one session interleaved: parallel sub-agents
// under one session id) and fires when they bring it to the threshold; the
// history keeps the count it had when it was done. A turn nobody has written
// to for a while is forgotten.
#ifndef TOKMETER_RULES_FANOUT_H_
#define TOKMETER_RULES_FANOUT_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/rules/rule.h"

namespace tokmeter::rules {

class FanoutRule {
 public:
  explicit FanoutRule(const RuleOptions& o);
  void Observe(const Observation& o, const AlertFn* alert);
  void Forget(int64_t before_ns);
  void AppendFindings(std::vector<Finding>* out) const;

 private:
  struct Turn {
    int64_t calls = 0;    // tool calls under the turn
    int64_t summary = 0;  // what the turn's own record says
    int64_t first_ns = 0, last_ns = 0;
    uint64_t touched = 0;
    std::string session, name;
    Dim dim = Dim::kSession;
    bool fired = false;
    bool done = false;        // in the history already
    bool background = false;  // a cron job's or heartbeat's turn
    double p95 = 0;           // the history when it fired
    int64_t threshold = 0;
    int64_t count() const { return calls > summary ? calls : summary; }
  };
  void Check(Turn& t, const Observation& o, const AlertFn* alert);
  void Done(Turn& t);  // the turn is over: its count joins the history
  Finding MakeFinding(const Turn& t) const;
  // Per kind of turn: [0] interactive, [1] background work.
  struct History {
    std::deque<int64_t> turns;    // tool calls of the last finished turns
    std::vector<int64_t> sorted;  // the same, in order (the p95 without sorting)
    double p95 = 0;
    int64_t threshold = thresholds::kFanoutShortHistoryMin;
  };
  History history_[2];
  absl::flat_hash_map<uint64_t, uint64_t> current_;  // thread → its turn being counted

  absl::flat_hash_map<uint64_t, Turn> turns_;  // by (session, turn) key
  // Turns done without firing: their counts and times (a later record of
  // one counts on, and may still make it fire), and when they were last
  // written to (when to forget them). Most turns end so; a Turn each (~150
  // bytes, strings) made memory grow with the tool calls. The session, its
  // kind and background flag come back from the record that names the turn.
  // 16 bytes, as there can be a million: the touch as observed_ /
  // kSweepEvery (the sweep sees no difference), the counts saturated at
  // 65,535 (a turn that far past the fan-out threshold fired long before),
  // and no last time: a done turn is forgotten `retain` after it started
  // (a turn lasts minutes, retain is hours), and one that fires late ends,
  // for now, at the record that made it fire.
  struct DoneTurn {
    int64_t first_ns = 0;
    uint32_t touched_epoch = 0;
    uint16_t calls = 0, summary = 0;
  };
  absl::flat_hash_map<uint64_t, DoneTurn> done_;
  void Retire(uint64_t key);                   // a done turn that did not fire: turns_ → done_
  void MoveTo(uint64_t thread, uint64_t key);  // a tool record of `key` in `thread`
  std::vector<Finding> closed_;                // fired turns forgotten since
  uint64_t observed_ = 0;
  int64_t retain_ns_;
};

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_FANOUT_H_
