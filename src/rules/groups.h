// src/rules/groups.h — the rules over a whole group's totals: no_cache,
// low_cache, high_io_ratio, many_small_requests, increasing,
// output_ratio_rise (against the previous period) and large_run.
//
// A group is a value of the primary dimension: the workflow if any record
// names one, else the agent, else the job, else the model (PrimaryDim). The
// sums are kept for all four at once, so the choice is made at the end.
#ifndef TOKMETER_RULES_GROUPS_H_
#define TOKMETER_RULES_GROUPS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/rules/rule.h"

namespace tokmeter::rules {

// The dimensions groups can be made of, in the order PrimaryDim picks them.
inline constexpr Dim kGroupDims[4] = {Dim::kWorkflow, Dim::kAgent, Dim::kJob, Dim::kModel};

class GroupRules {
 public:
  explicit GroupRules(const RuleOptions& o);
  // Not copied or moved: it keeps pointers into its own tables (last_run_,
  // last_group_).
  GroupRules(const GroupRules&) = delete;
  GroupRules& operator=(const GroupRules&) = delete;
  void Observe(const Observation& o, const AlertFn* alert);
  // The period before the one judged: `increasing` and the per-group
  // output_ratio_rise compare with it.
  void ObservePrevious(const Observation& o);
  // Instead of observations of the previous period: its total tokens per
  // group ("(untagged)" for records without the tag), e.g. from a previous
  // report.
  void SetPreviousTotals(std::map<std::string, int64_t> tokens_by_group);
  void Forget(int64_t before_ns);
  void AppendFindings(std::vector<Finding>* out) const;
  // The dimension groups are made of.
  Dim PrimaryDim() const;

 private:
  struct Agg {
    std::string name;
    TokenBuckets tokens;
    TokenBuckets cache_tokens;  // of records whose source reports cache fields
    int64_t requests = 0, cache_requests = 0;
    int64_t runs = 0;  // the runs that wrote to the group
  };
  struct Run {
    std::string name, session, workflow;
    uint64_t group[4] = {};  // per group dimension: the group of its first record
    int64_t tokens = 0, first_ns = 0, last_ns = 0;
    bool alerted = false;
  };
  static void Add(Agg& a, const Observation& o);  // the sums, not the runs
  Finding RunFinding(const Run& r, double median, size_t runs_in_group, bool absolute) const;

  absl::flat_hash_map<uint64_t, Agg> groups_[4], previous_[4];
  bool seen_[4] = {};
  bool has_previous_ = false;
  std::map<std::string, int64_t> previous_totals_;
  bool has_previous_totals_ = false;
  // A run forgotten (Forget) and written to again counts again in its groups.
  absl::flat_hash_map<uint64_t, Run> runs_;
  // The groups a run wrote to besides its first record's (another model,
  // mostly), by run: (dimension, group). Apart, as most runs have none.
  absl::flat_hash_map<uint64_t, std::vector<std::pair<int, uint64_t>>> other_groups_;
  bool InGroup(uint64_t run, const Run& r, int i, uint64_t group) const;
  // The group and the run of the previous record (most records are of the
  // same ones): valid until the next insertion into their table.
  struct LastGroup {
    uint64_t id = 0;
    Agg* agg = nullptr;
  };
  LastGroup last_group_[4];
  uint64_t last_run_id_ = 0;
  Run* last_run_ = nullptr;
};

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_GROUPS_H_
