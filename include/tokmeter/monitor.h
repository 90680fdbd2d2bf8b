// tokmeter/monitor.h — the rules, live: budgets with 50/80/100 % alerts, the
// detector rules as they happen, and a guard the agent asks before its next
// call.
//
//   auto monitor = tokmeter::Monitor::Create({
//       .budgets = {"session=2M,hard", "total=300M/month", "job:heartbeat=500k/day"},
//       .on_alert = [](const tokmeter::AlertRecord& a) { log(a.finding.subject); }});
//   tokmeter::Options o;
//   o.monitor = *monitor;
//   auto rt = tokmeter::Runtime::Start(std::move(o));
//   ...
//   if (auto g = TOK_GUARD("session", session_key); g.denied()) {
//     return StopTurn(g.message());  // "denied: hard budget session=2M,hard is used up …"
//   }
//
// How it runs: the flusher thread hands each pass's records to the monitor
// before the sinks (never the span hot path). The monitor feeds them to the
// same rule trackers `tokmeter detect` and `tokmeter watch` use, and:
//   - adds an AlertRecord to the batch for each threshold crossing and each
//     rule that fires, so every sink writes it (a JSONL `alert` line, a
//     protobuf Alert, an OTLP span event, a webhook POST);
//   - hands each alert to `on_alert` on its own callback thread, through a
//     bounded queue: a callback that throws is counted and the next one runs;
//     one that is slow only delays the callbacks behind it, never recording;
//     when the queue is full the alert is still in the sinks, and the skipped
//     callback is counted (MonitorStats);
//   - publishes guard verdicts in a lock-free table that Guard() reads.
// Delay: a span is seen by the monitor at the flusher's next pass (at most
// Options::flush_interval after it closed); Runtime::Flush() makes it
// immediate. So the guard denies from the first call checked after the pass
// that saw the crossing.
#ifndef TOKMETER_MONITOR_H_
#define TOKMETER_MONITOR_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tokmeter/budget.h"
#include "tokmeter/finding.h"
#include "tokmeter/record.h"
#include "tokmeter/sink.h"

namespace tokmeter {

struct MonitorOptions {
  // Budgets in the grammar of tokmeter/budget.h ("session=2M,hard", …).
  std::vector<std::string> budgets;
  // Calendar periods (day, week, month) are in this IANA time zone.
  std::string time_zone = "UTC";
  // Prices for USD budgets: a pricing.json file; empty = the built-in table.
  std::string pricing_file;
  // The detector rules (spike, loop, retry_storm, context_bloat, fanout,
  // background, output_ratio_rise, cache_miss_streak, large_run) alert as
  // they fire. Budgets always run.
  bool rules = true;
  // The spike and retry-storm window.
  std::chrono::seconds window{300};
  // The loop rule's repeat count; with deny_on_loop the guard denies the
  // session from that repeat on (until loop_cooldown passes without one).
  int loop_repeats = 5;
  bool deny_on_loop = true;
  std::chrono::seconds loop_cooldown{600};
  // While a retry storm goes on (>= 5 429s in the window), the guard warns;
  // with deny_on_storm it denies.
  bool deny_on_storm = false;
  // From this share of a budget on, the guard warns.
  double warn_share = 0.8;
  // Called with each alert, on the monitor's callback thread.
  std::function<void(const AlertRecord&)> on_alert;
  size_t callback_queue = 1024;
  // Scopes the guard can hold a verdict for at once (sessions over budget,
  // looping sessions). Rounded up to a power of two.
  size_t guard_slots = 4096;
  // State older than this behind the newest record is forgotten (windows,
  // idle sessions, expired budgets), so memory stays bounded.
  std::chrono::hours retain{48};
};

struct MonitorStats {
  uint64_t observed = 0;           // spans and roll-ups fed to the rules
  uint64_t alerts = 0;             // alert records added to batches
  uint64_t callbacks = 0;          // on_alert calls made
  uint64_t callback_errors = 0;    // on_alert calls that threw
  uint64_t callbacks_dropped = 0;  // alerts not handed to on_alert: the queue was full
  uint64_t guard_table_full = 0;   // verdicts the guard table had no room for
  uint64_t process_errors = 0;     // passes that threw (the runtime's on_error says why)
};

enum class Verdict { kAllow, kWarn, kDeny };

// What Guard() answers. `message()` says why ("denied: hard budget
// session=2M,hard is used up (session s-42)", "denied: loop: the same call
// repeated in session s-42", "…: retry storm in progress (HTTP 429s)").
struct GuardResult {
  Verdict verdict = Verdict::kAllow;
  enum class Reason : uint8_t { kNone, kBudget, kLoop, kStorm } reason = Reason::kNone;
  int budget = -1;              // index into MonitorOptions::budgets for kBudget
  std::string_view key, value;  // the scope it was asked for
  bool denied() const { return verdict == Verdict::kDeny; }
  bool warned() const { return verdict == Verdict::kWarn; }
  std::string message() const;
};

class Monitor : public BatchProcessor {
 public:
  // InvalidArgument names the bad budget, time zone or pricing file.
  static absl::StatusOr<std::shared_ptr<Monitor>> Create(MonitorOptions options);
  ~Monitor() override;

  // The findings so far over what the monitor retained — the same rules
  // `tokmeter detect` runs, on the same records. Thread-safe.
  std::vector<Finding> Findings() const;
  MonitorStats stats() const;
  const MonitorOptions& options() const;
  // Delivers the alerts still queued to on_alert, then stops the callback
  // thread (alerts after this reach the sinks only; they count as dropped
  // callbacks). The destructor does it too. Not from on_alert itself.
  void FinishCallbacks();

  // BatchProcessor: called by the runtime on the flusher thread.
  void Process(Batch& batch) override;
  void OnStart() override;
  void OnStop() override;

  struct Impl;
  Impl* impl() const { return impl_.get(); }

 private:
  explicit Monitor(std::unique_ptr<Impl> impl);
  void ProcessLocked(Batch& batch);
  std::unique_ptr<Impl> impl_;
};

// The guard of the running monitor (allow when none runs). Lock-free: two
// atomic loads when nothing is over budget; a hash and a probe otherwise.
GuardResult Guard();  // all traffic: global budgets, storms
GuardResult Guard(std::string_view key, std::string_view value);  // e.g. ("session", "s-42")

}  // namespace tokmeter

// TOK_GUARD("session", id): the guard for a scope. Compiled out with
// TOKMETER_DISABLED (then it always allows).
#if defined(TOKMETER_DISABLED)
#define TOK_GUARD(...) (::tokmeter::GuardResult{})
#else
#define TOK_GUARD(...) (::tokmeter::Guard(__VA_ARGS__))
#endif

#endif  // TOKMETER_MONITOR_H_
