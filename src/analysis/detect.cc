// The rules over stored records (detect.h).
#include "src/analysis/detect.h"

#include "absl/strings/str_cat.h"

namespace tokmeter::analysis {

rules::Observation ToObservation(const StoredEvent& r, const EventStore& store) {
  rules::Observation o;
  ToObservation(r, store, o);
  return o;
}

void ToObservation(const StoredEvent& r, const EventStore& store, rules::Observation& o) {
  o.time_ns = r.time_ns;
  o.duration_ns = r.duration_ns;
  o.tokens = r.tokens;
  o.cost = r.cost;
  o.requests = r.requests;
  o.tool_calls = r.tool_calls;
  o.retries = r.retries;
  o.retry_wait_ms = r.retry_wait_ms;
  o.rate_limited = r.rate_limited;
  o.errors = r.errors;
  o.status = r.status;
  o.kind = store.str(r.kind);
  o.name = store.str(r.name);
  o.trace_id = store.str(r.trace);
  for (int d = 0; d < kNumDims; ++d) o.dims[d] = {r.dims[d], store.str(r.dims[d])};
  o.fingerprint = r.fingerprint;
  o.args = r.args;
  o.turn.id = r.span;
  o.parent.id = r.parent;
  o.background = r.background;
  o.heartbeat = r.heartbeat;
  o.rollup = r.rollup;
  o.turn_level = r.turn_level;
  o.cache_reported = r.cache_reported;
}

std::vector<Finding> Detect(const DetectInput& in) {
  rules::RuleOptions opts;
  if (in.window_ns > 0) opts.window_ns = in.window_ns;
  rules::RuleEngine engine(opts);
  if (in.previous_group_tokens != nullptr) {
    engine.SetPreviousTotals(*in.previous_group_tokens);
  } else if (in.has_previous) {
    for (const StoredEvent& r : in.previous) engine.ObservePrevious(ToObservation(r, *in.store));
  }
  for (const StoredEvent& r : in.recs) engine.Observe(ToObservation(r, *in.store));
  std::vector<Finding> all = engine.Findings();
  if (in.inputs != nullptr) {
    std::vector<Finding> gaps = DataGapFindings(*in.inputs);
    all.insert(all.end(), gaps.begin(), gaps.end());
    rules::SortFindings(all);
  }
  return all;
}

std::vector<Finding> DataGapFindings(const std::vector<InputSummary>& inputs) {
  std::vector<Finding> out;
  for (const InputSummary& s : inputs) {
    if (!s.empty && s.skipped_lines == 0 && s.dropped_records == 0) continue;
    Finding f;
    f.kind = "data_gap";
    f.subject = absl::StrCat("input ", s.path);
    f.keys = {{"input", s.path}};
    f.severity = s.dropped_records > 0 ? Severity::kWarning : Severity::kInfo;
    f.evidence = {{"records", double(s.records)},
                  {"skipped_lines", double(s.skipped_lines)},
                  {"dropped_records", double(s.dropped_records)},
                  {"empty", s.empty ? 1.0 : 0.0}};
    f.rule = "inputs that are empty, have malformed lines, or lost records make totals incomplete";
    if (s.empty) {
      f.recommendation = "Data-gap rule: this input holds no usage records; is it instrumented?";
    } else {
      std::string lines;
      for (int64_t l : s.first_bad_lines) absl::StrAppend(&lines, lines.empty() ? "" : ", ", l);
      f.recommendation = absl::StrCat("Data-gap rule: ", s.skipped_lines, " malformed line(s)",
                                      lines.empty() ? "" : absl::StrCat(" (first: ", lines, ")"),
                                      " and ", s.dropped_records,
                                      " record(s) dropped by the writer; totals are lower bounds.");
    }
    out.push_back(std::move(f));
  }
  return out;
}

Dim PrimaryDim(std::span<const StoredEvent> recs) {
  for (int i = 0; i < 3; ++i) {
    for (const StoredEvent& r : recs)
      if (!r.rollup && r.dim(rules::kGroupDims[i])) return rules::kGroupDims[i];
  }
  return rules::kGroupDims[3];
}

}  // namespace tokmeter::analysis
