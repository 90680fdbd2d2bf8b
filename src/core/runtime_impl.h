// src/core/runtime_impl.h — the state of a running runtime (Runtime::Impl),
// shared by the flusher pass (flusher.cc) and the public API (runtime.cc).
#ifndef TOKMETER_CORE_RUNTIME_IMPL_H_
#define TOKMETER_CORE_RUNTIME_IMPL_H_

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/core/clock.h"
#include "src/core/flusher_state.h"
#include "src/core/registry.h"
#include "tokmeter/runtime.h"

namespace tokmeter {

struct Runtime::Impl {
  Options opts;
  uint32_t epoch = 0;

  // Lock order: control_mu, then pass_mu, then the registry's mu.
  std::mutex control_mu;             // Flush, Shutdown, fork
  std::mutex pass_mu;                // one flusher pass at a time; sinks are called under it
  std::thread* flusher = nullptr;    // guarded by control_mu; leaked in a fork child
  std::atomic<bool> stop{false};     // release by Shutdown, acquire by the flusher
  std::atomic<bool> running{false};  // set by the flusher on entering Run
  bool shut_down = false;            // guarded by control_mu

  // Guarded by pass_mu.
  internal::TickClock clock;
  internal::FlusherState state;
  absl::flat_hash_map<internal::ThreadRing*, uint64_t> reported_drops;  // total reported per ring
  absl::flat_hash_map<internal::ThreadRing*, uint64_t> stale;  // stale-epoch records per ring
  uint64_t reported_unregistered = 0;
  Batch batch;
  size_t spans_used = 0;          // records of batch.spans decoded this pass
  bool closed_this_pass = false;  // a turn or trace closed: roll-ups next pass
  std::vector<Tag> tag_arena;
  std::vector<UserCounter> counter_arena;
  // What Decode learns about each span beyond its SpanRecord, for the rest
  // of the pass. A member, so its memory is reused between passes (a vector
  // local to Pass grew fresh memory every pass: BM_DrainNull ~8 % slower).
  struct SpanExtra {
    uint32_t tag_begin, tag_count;          // in tag_arena
    uint32_t counter_begin, counter_count;  // in counter_arena
    uint64_t turn_id;
    uint8_t flags;
  };
  std::vector<SpanExtra> extras;         // one per decoded span
  std::deque<std::string> owned;         // strings the batch points into
  std::vector<OwnedSpan> emitting_held;  // held spans being emitted this pass
  std::vector<std::vector<Tag>> held_tags;
  std::vector<std::vector<UserCounter>> held_counters;

  // Statistics: relaxed atomics, written under pass_mu, read anywhere.
  std::atomic<uint64_t> spans{0}, traces{0}, rollups{0}, dropped{0}, flushes{0}, sink_errors{0},
      bytes{0}, buffer_bytes{0};
  int small_passes = 0;  // passes in a row that used little of the buffers (TrimBuffers)

  void Run();
  // Starts the flusher thread and returns once it runs its loop. Waiting
  // means no thread of ours is still inside the C library's or a sanitizer's
  // thread start-up (which allocates) when Start returns, so a fork right
  // after Start cannot copy a half-taken allocator lock into the child.
  void StartFlusher();
  void Pass();
  absl::Status FlushAll();
  absl::Status ShutdownLocked();  // caller holds StartMutex()
  void Decode(internal::ThreadRing* r, uint64_t pos, uint64_t end);
  void TrimBuffers(size_t decoded);
  // The next record of batch.spans to decode into: one left from an earlier
  // pass (every field is then overwritten) or a new one.
  SpanRecord& NextSpan() {
    return spans_used++ < batch.spans.size() ? batch.spans[spans_used - 1]
                                             : batch.spans.emplace_back();
  }
  void ReportError(std::string_view sink, const absl::Status& st);
  // Calls `op` on every sink; a failed status or an exception is reported
  // (on_error, sink_errors) and the first one returned. No exception leaves.
  template <typename Op>
  absl::Status ForEachSink(Op op);
};

// The running runtime, or nullptr.
extern std::atomic<Runtime::Impl*> g_impl;

template <typename Op>
absl::Status Runtime::Impl::ForEachSink(Op op) {
  absl::Status result;
  for (auto& sink : opts.sinks) {
    absl::Status st;
    try {
      st = op(*sink);
    } catch (const std::exception& e) {
      st = absl::InternalError(std::string("sink threw: ") + e.what());
    } catch (...) {
      st = absl::InternalError("sink threw a non-standard exception");
    }
    if (!st.ok()) {
      ReportError(sink->name(), st);
      result.Update(st);
    }
  }
  return result;
}

}  // namespace tokmeter

#endif  // TOKMETER_CORE_RUNTIME_IMPL_H_
