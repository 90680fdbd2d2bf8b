// tokmeter/runtime.h — starting, flushing and stopping the recorder.
#ifndef TOKMETER_RUNTIME_H_
#define TOKMETER_RUNTIME_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tokmeter/sink.h"

namespace tokmeter {

enum class FullRingPolicy {
  kDrop,   // drop the record and count it; the agent never waits (default)
  kBlock,  // wait for the flusher to make room; nothing is dropped
};

// How a runtime records. Plain struct: use designated initializers.
struct Options {
  // Where records go. The runtime owns them from Start on; each is called
  // only from the flusher thread.
  std::vector<std::unique_ptr<Sink>> sinks;
  // How often the flusher drains the rings when no ring is filling up.
  // Shorter: fresher files, more wake-ups. Default 200 ms.
  std::chrono::milliseconds flush_interval{200};
  // Bytes of ring per recording thread, rounded up to a power of two
  // (minimum 4 KiB). A span with 4 counters and 3 short tags takes 200
  // bytes, so the default 1 MiB holds ~5,200 spans. The memory is
  // allocated and touched when the thread records its first span.
  size_t ring_bytes = size_t{1} << 20;
  // A thread wakes the flusher early when its ring is this full (0..1).
  // The default 0.25 leaves a thread recording 500,000 spans/s into the
  // default ring ~8 ms for the flusher's pass before it would drop.
  double high_water = 0.25;
  // What a thread does when its ring is full.
  FullRingPolicy full_ring = FullRingPolicy::kDrop;
  // The live monitor (tokmeter/monitor.h: Monitor::Create), or any other
  // processor that sees each batch before the sinks. Optional. The runtime
  // lets go of it when it stops (Shutdown).
  std::shared_ptr<BatchProcessor> monitor;
  // Called on the flusher thread for every sink error (sink name, error).
  // Must not call back into the runtime. Exceptions it throws are swallowed.
  std::function<void(std::string_view sink, const absl::Status& error)> on_error;
};

// Counts since the runtime started. All exact once Flush() returned.
struct Stats {
  uint64_t spans = 0;          // span records handed to the sinks
  uint64_t traces = 0;         // traces opened
  uint64_t rollups = 0;        // roll-up records emitted
  uint64_t dropped = 0;        // records lost to full rings (also written as drop records)
  uint64_t threads = 0;        // threads that registered
  uint64_t threads_live = 0;   // registered threads not yet exited
  uint64_t flushes = 0;        // flusher passes
  uint64_t sink_errors = 0;    // errors (statuses or exceptions) from sinks
  uint64_t bytes_drained = 0;  // ring bytes decoded
  // Memory the flusher holds to decode a pass (grows with the largest pass;
  // given back after a burst, once passes have stayed small for a while).
  // With the rings (threads_live x ring size), what tokmeter keeps resident.
  uint64_t flusher_buffer_bytes = 0;
};

// The recorder: one flusher thread draining every thread's ring into the
// sinks. One runtime records at a time per process; spans opened while none
// runs are no-ops.
//
// Thread-safety: all methods are thread-safe.
class Runtime {
 public:
  // Starts recording. Fails with FailedPrecondition if a runtime already
  // runs, InvalidArgument for bad options.
  static absl::StatusOr<std::unique_ptr<Runtime>> Start(Options options);
  // Shuts down (see Shutdown).
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Drains every ring and flushes every sink before returning. Spans closed
  // before the call are in the sinks when it returns, roll-ups included.
  absl::Status Flush();
  // Stops recording, drains everything, closes the sinks. Idempotent. Spans
  // still open at this point are not recorded.
  absl::Status Shutdown();
  Stats stats() const;

  struct Impl;

 private:
  explicit Runtime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The running runtime's Flush/Shutdown/stats, for code that does not hold it
// (bindings, signal-free shutdown paths). No-ops returning OK when none runs.
absl::Status Flush();
absl::Status Shutdown();
bool IsRecording() noexcept;

}  // namespace tokmeter

#endif  // TOKMETER_RUNTIME_H_
