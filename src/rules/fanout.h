// src/rules/fanout.h — fanout: one turn with many tool calls.
//
// A turn's tool calls are counted from the records that name it: tool spans
// (and requests with tool calls) under the turn's id, or the turn's own
// record (a turn summary, a roll-up) that says how many it made. A turn
// nobody has written to for a while is forgotten.
#ifndef TOKMETER_RULES_FANOUT_H_
#define TOKMETER_RULES_FANOUT_H_

#include <cstdint>
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
    int64_t count() const { return calls > summary ? calls : summary; }
  };
  void Check(Turn& t, const Observation& o, const AlertFn* alert);
  Finding MakeFinding(const Turn& t) const;

  absl::flat_hash_map<uint64_t, Turn> turns_;  // by (session, turn) key
  std::vector<Finding> closed_;                // fired turns forgotten since
  uint64_t observed_ = 0;
  int64_t retain_ns_;
};

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_FANOUT_H_
