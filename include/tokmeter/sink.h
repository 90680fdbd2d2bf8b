// tokmeter/sink.h — where the flusher writes records.
#ifndef TOKMETER_SINK_H_
#define TOKMETER_SINK_H_

#include <string_view>

#include "absl/status/status.h"
#include "tokmeter/record.h"

namespace tokmeter {

// A destination for records.
//
// Thread-safety: a sink is owned by one runtime, which calls it under its
// pass lock (from the flusher thread, or from the thread inside
// Runtime::Flush/Shutdown), never concurrently, so implementations need no
// locking. Methods may return an error or even throw: the flusher
// counts it, passes it to Options::on_error, and keeps going with the other
// sinks. A sink that cannot write a batch should keep what it can and say in
// the status how many records were lost.
class Sink {
 public:
  virtual ~Sink() = default;
  // A short name used in error reports and stats ("jsonl:/var/log/x.jsonl").
  virtual std::string_view name() const = 0;
  // Writes one batch. Views in `batch` are valid only during the call.
  virtual absl::Status Write(const Batch& batch) = 0;
  // Makes everything written so far durable or visible (fflush, HTTP send).
  virtual absl::Status Flush() { return absl::OkStatus(); }
  // Final flush and release of resources. Called once.
  virtual absl::Status Close() { return Flush(); }
};

// Sees each batch on the flusher thread before the sinks, and may add alert
// records to it (the live monitor, tokmeter/monitor.h, is one). Called under
// the pass lock like the sinks; an exception it throws is reported through
// Options::on_error and the batch still reaches the sinks.
class BatchProcessor {
 public:
  virtual ~BatchProcessor() = default;
  virtual void Process(Batch& batch) = 0;
  // The runtime started / is stopping with this processor (after its last
  // pass).
  virtual void OnStart() {}
  virtual void OnStop() {}
};

}  // namespace tokmeter

#endif  // TOKMETER_SINK_H_
