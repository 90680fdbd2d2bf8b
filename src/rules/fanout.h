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
  // A turn being counted, or one that fired: 32 bytes, names kept apart
  // for the turns that fired only (Fired).
  struct Turn {
    int64_t first_ns = 0, last_ns = 0;
    uint32_t calls = 0;    // tool calls under the turn (saturated)
    uint32_t summary = 0;  // what the turn's own record says (saturated)
    uint32_t touched = 0;  // when last written to, in IdleSweep periods
    bool fired = false;
    bool done = false;        // its count joined the history
    bool background = false;  // a cron job's or heartbeat's turn
    uint32_t count() const { return calls > summary ? calls : summary; }
  };
  static_assert(sizeof(Turn) == 32);
  using Turns = absl::flat_hash_map<uint64_t, Turn>;
  struct Fired {
    std::string session, name;
    Dim dim = Dim::kSession;
    double p95 = 0;  // the history when it fired
    int64_t threshold = 0;
  };
  // Turns done without firing: their counts and start (a later record of
  // one counts on, and may still make it fire), and when they were last
  // written to. Most turns end so, and a batch run keeps hours of them (a
  // live one its retain period): 16 bytes each. The session, its kind and
  // background flag come back from the record that names the turn; the
  // counts are saturated at 65,535 (a turn that far past the fan-out
  // threshold fired long before); no last time: a done turn is forgotten by
  // its start (a turn lasts minutes, retain and kSessionIdleNs are hours),
  // and one that fires late ends, for now, at the record that made it fire.
  struct DoneTurn {
    int64_t first_ns = 0;
    uint32_t touched = 0;  // in IdleSweep periods
    uint16_t calls = 0, summary = 0;
  };
  static_assert(sizeof(DoneTurn) == 16);
  void Check(uint64_t key, Turn& t, const Observation& o, const AlertFn* alert);
  void Done(Turn& t);                          // the turn is over: its count joins the history
  void MoveTo(uint64_t thread, uint64_t key);  // a tool record of `key` in `thread`
  void Retire(Turns::iterator it);             // a done turn that did not fire: → done_
  void Close(uint64_t key, const Turn& t);     // forgets a turn (a fired one's finding stays)
  void ForgetCurrent();                        // current_ entries of forgotten turns
  Finding MakeFinding(const Turn& t, const Fired& f) const;
  // Per kind of turn: [0] interactive, [1] background work.
  struct History {
    std::deque<int64_t> turns;    // tool calls of the last finished turns
    std::vector<int64_t> sorted;  // the same, in order (the p95 without sorting)
    double p95 = 0;
    int64_t threshold = thresholds::kFanoutShortHistoryMin;
  };
  History history_[2];
  absl::flat_hash_map<uint64_t, uint64_t> current_;  // thread → its turn being counted
  // By (session, turn) key; a key is in one of the two.
  Turns turns_;                                   // being counted, or fired
  absl::flat_hash_map<uint64_t, DoneTurn> done_;  // done without firing
  absl::flat_hash_map<uint64_t, Fired> fired_;    // the turns of turns_ that fired
  std::vector<Finding> closed_;                   // fired turns forgotten since
  IdleSweep idle_;
  int64_t retain_ns_;
};

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_FANOUT_H_
