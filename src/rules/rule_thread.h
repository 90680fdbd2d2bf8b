// src/rules/rule_thread.h — a RuleEngine on a thread of its own,
// fed observations in batches, so that reading and the rules overlap.
//
// `tokmeter detect` streams this way: the reader's emit stage (one thread at
// a time, in input order) turns each record into an observation and hands it
// over; the rules run beside the parse threads instead of after the emit
// stage on the same thread. Observations reach the engine in the order given,
// so the findings are those of RuleEngine::Observe called in that order.
#ifndef TOKMETER_RULES_RULE_THREAD_H_
#define TOKMETER_RULES_RULE_THREAD_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "src/rules/engine.h"
#include "src/rules/observation.h"
#include "tokmeter/finding.h"

namespace tokmeter::rules {

class RuleThread {
 public:
  explicit RuleThread(RuleOptions o = {});
  ~RuleThread();  // stops the thread; what was not observed yet is dropped
  RuleThread(const RuleThread&) = delete;
  RuleThread& operator=(const RuleThread&) = delete;

  // Copies `o` into the current batch; a full batch goes to the thread
  // (waiting while kMaxQueued batches are queued: memory stays bounded).
  // What `o` views (its strings, `o.event` when set) must live until
  // Finish() returns: an EventStore's strings do. Calls may come from
  // different threads, one at a time (ordered by the caller's own locking,
  // as the reader's emit stage is).
  void Observe(const Observation& o);
  // The same for an observation `fill(Observation&)` writes in place into
  // the batch (a default-constructed one): spares the copy of an
  // Observation (512 bytes) per call.
  template <typename Fill>
  void ObserveWith(Fill&& fill) {
    fill(filling_.emplace_back());
    if (filling_.size() == kBatch) Hand();
  }

  // Hands over the last batch, waits until every observation is observed,
  // and returns the engine's findings (RuleEngine::Findings). An exception
  // the engine threw on its thread is rethrown here. Call once.
  std::vector<Finding> Finish();

  static constexpr size_t kBatch = 1024;
  static constexpr size_t kMaxQueued = 16;

 private:
  void Run();
  // Queues the filled batch (waiting while kMaxQueued are queued) and takes
  // an emptied one back for filling_ when there is one: one lock per batch.
  void Hand();

  RuleEngine engine_;  // the thread's until Finish() joins it
  std::vector<Observation> filling_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<Observation>> queue_;   // guarded by mu_
  std::vector<std::vector<Observation>> spare_;  // emptied batches, guarded by mu_
  bool done_ = false;                            // no more batches; guarded by mu_
  std::exception_ptr error_;                     // the engine's; guarded by mu_
  std::thread thread_;
};

}  // namespace tokmeter::rules

#endif  // TOKMETER_RULES_RULE_THREAD_H_
