// src/rules/background.h — background: cron and heartbeat spend while
// nobody uses the agent.
//
// Sums per hour: whether any interactive record fell in it, and each
// background source's tokens. A source is a cron job (the `job` tag), or a
// heartbeat session (`heartbeat=true` without a job). Order-independent: an
// hour's idleness is only known once the hour is over, so the live alert
// comes when time passes the hour (Advance).
#ifndef TOKMETER_RULES_BACKGROUND_H_
#define TOKMETER_RULES_BACKGROUND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "src/rules/rule.h"

namespace tokmeter::rules {

class BackgroundRule {
 public:
  explicit BackgroundRule(const RuleOptions& o);
  void Observe(const Observation& o);
  // Hours that ended before `now_ns` are final: sources that now break the
  // rule raise their live alert (once each).
  void Advance(int64_t now_ns, const AlertFn* alert);
  void Forget(int64_t before_ns);
  void AppendFindings(std::vector<Finding>* out) const;

 private:
  // Per hour: tokens, requests, first record. Summed: also what fell in idle
  // hours, and how many idle hours the source ran in (runs).
  struct Source {
    bool heartbeat_session = false;  // named by its session, not a job
    std::string name;
    int64_t idle_tokens = 0, idle_requests = 0, tokens = 0;
    int64_t first_idle_ns = 0, runs = 0;
  };
  struct Hour {
    bool busy = false;
    int64_t tokens = 0;                             // every counted token in the hour
    absl::flat_hash_map<uint64_t, Source> sources;  // this hour's background spend
  };
  struct Totals {
    absl::flat_hash_map<uint64_t, Source> sources;
    int64_t all = 0, idle = 0, background = 0;
  };
  // Sums over hours [from, to) (hour indices).
  Totals Sum(int64_t from, int64_t to) const;
  std::vector<Finding> Judge(const Totals& t) const;

  absl::btree_map<int64_t, Hour> hours_;
  int64_t judged_until_ = INT64_MIN;  // hours before this were judged live
  absl::flat_hash_set<uint64_t> alerted_;
};

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_BACKGROUND_H_
