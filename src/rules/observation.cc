// The one mapping from a usage event to what the rules see (observation.h).
#include "src/rules/observation.h"

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace tokmeter::rules {
namespace {

constexpr std::string_view kDimNames[kNumDims] = {
    "session", "job", "tool", "model", "workflow", "user", "channel", "agent", "provider", "run"};

// The tags the rules read, in one pass over the event's tags (UsageEvent::
// tag() for each would compare every tag a dozen times per event). The last
// of a key wins, as in tag().
struct RuleTags {
  std::string_view turn_kind, args, session, job, heartbeat, tool, workflow, user, channel, agent,
      run;
};

RuleTags ReadTags(const UsageEvent& e) {
  RuleTags t;
  for (int i = 0; i < e.num_tags; ++i) {
    const std::string_view k = e.tags[i].first;
    std::string_view* slot = nullptr;
    switch (k.size()) {
      case 3:
        slot = k == "job" ? &t.job : k == "run" ? &t.run : nullptr;
        break;
      case 4:
        slot = k == "args" ? &t.args : k == "tool" ? &t.tool : k == "user" ? &t.user : nullptr;
        break;
      case 5:
        slot = k == "agent" ? &t.agent : nullptr;
        break;
      case 7:
        slot = k == "session" ? &t.session : k == "channel" ? &t.channel : nullptr;
        break;
      case 8:
        slot = k == "workflow" ? &t.workflow : nullptr;
        break;
      case 9:
        slot = k == "turn_kind" ? &t.turn_kind : k == "heartbeat" ? &t.heartbeat : nullptr;
        break;
      default:
        break;
    }
    if (slot != nullptr) *slot = e.tags[i].second;
  }
  return t;
}

}  // namespace

std::string_view DimName(Dim d) { return kDimNames[static_cast<int>(d)]; }

std::optional<Dim> ParseDim(std::string_view name) {
  if (name.size() > 1 && name.back() == 's') {
    for (int i = 0; i < kNumDims; ++i)
      if (name.substr(0, name.size() - 1) == kDimNames[i]) return static_cast<Dim>(i);
  }
  for (int i = 0; i < kNumDims; ++i)
    if (name == kDimNames[i]) return static_cast<Dim>(i);
  return std::nullopt;
}

std::string_view Observation::tag(std::string_view key) const {
  if (std::optional<Dim> d = ParseDim(key); d && key == DimName(*d)) return dim(*d).name;
  return event != nullptr ? event->tag(key) : std::string_view();
}

uint64_t HashName(std::string_view name) {
  if (name.empty()) return 0;
  const uint64_t h = absl::HashOf(absl::string_view(name.data(), name.size()));
  return h != 0 ? h : 1;
}

Observation FromEvent(const UsageEvent& e) {
  Observation o;
  o.event = &e;
  o.time_ns = e.time_unix_ns;
  o.duration_ns = e.duration_ns;
  o.tokens = e.tokens;
  o.requests = e.requests;
  o.tool_calls = e.tool_calls;
  o.retries = e.retries;
  o.retry_wait_ms = e.retry_wait_ms;
  o.rate_limited = e.rate_limited;
  o.errors = e.errors;
  o.status = e.status;
  o.kind = e.kind;
  o.name = e.name;
  o.fingerprint = e.fingerprint;
  o.trace_id = e.trace_id;
  o.span_id = e.span_id;
  o.cache_reported = e.cache_reported;
  if (e.kind == "llm" && o.requests == 0) o.requests = 1;
  if (e.kind == "tool" && o.tool_calls == 0) o.tool_calls = 1;
  if (e.status == 429 && o.rate_limited == 0) o.rate_limited = 1;
  o.rollup = e.kind == kTurnSummaryRollupKind;
  const RuleTags tags = ReadTags(e);
  // Only per-turn roll-ups are turns; a whole trace's roll-up would look like
  // one enormous turn (fan-out).
  const bool trace_rollup = o.rollup && tags.turn_kind != "turn";
  if (trace_rollup) o.tool_calls = 0;
  o.turn_level = (o.rollup && !trace_rollup) || e.kind == "turn_summary" || e.kind == "turn";
  if (o.turn_level) {
    o.turn.name = e.span_id;
  } else if (!trace_rollup) {
    o.parent.name = e.parent_id;
  }
  o.args = tags.args.empty() ? 0 : HashName(tags.args);

  std::string_view session = tags.session;
  if (session.empty()) session = e.trace_id;
  o.dim(Dim::kSession).name = session;
  std::string_view job = tags.job;
  o.heartbeat = tags.heartbeat == "true";
  o.background = !job.empty() || o.heartbeat;
  if (job.empty() && o.heartbeat) job = "heartbeat";
  o.dim(Dim::kJob).name = job;
  std::string_view tool = tags.tool;
  if (tool.empty() && e.kind == "tool") tool = e.name;
  o.dim(Dim::kTool).name = tool;
  o.dim(Dim::kModel).name = e.model;
  o.dim(Dim::kWorkflow).name = tags.workflow;
  o.dim(Dim::kUser).name = tags.user;
  o.dim(Dim::kChannel).name = tags.channel;
  o.dim(Dim::kAgent).name = tags.agent;
  o.dim(Dim::kProvider).name = e.provider;
  std::string_view run = tags.run;
  if (run.empty()) run = e.trace_id;
  if (run.empty()) run = session;
  o.dim(Dim::kRun).name = run;
  return o;
}

void HashKeys(Observation& o) {
  for (Key& k : o.dims) k.id = HashName(k.name);
  o.turn.id = HashName(o.turn.name);
  o.parent.id = HashName(o.parent.name);
}

}  // namespace tokmeter::rules
