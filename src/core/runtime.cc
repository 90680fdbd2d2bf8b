// The public API of the runtime (tokmeter/runtime.h): Start, Flush,
// Shutdown, stats, and fork handling. The flusher pass is flusher.cc; thread
// registration is registry.cc.
#include <pthread.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "src/core/runtime_impl.h"

namespace tokmeter {

using internal::FreeRing;
using internal::FutexWake;
using internal::g_block_when_full;
using internal::g_high_water;
using internal::g_next_epoch;
using internal::g_ring_capacity;
using internal::g_wake_word;
using internal::GetRegistry;
using internal::Registry;
using internal::StartMutex;
using internal::ThreadRing;
using internal::tls_state;

std::atomic<Runtime::Impl*> g_impl{nullptr};

// ---- Fork --------------------------------------------------------------------

namespace {
void AtForkPrepare() {
  StartMutex().lock();
  if (Runtime::Impl* i = g_impl.load(std::memory_order_acquire)) {
    i->control_mu.lock();
    i->pass_mu.lock();
  }
  GetRegistry().mu.lock();
}
void AtForkParent() {
  GetRegistry().mu.unlock();
  if (Runtime::Impl* i = g_impl.load(std::memory_order_acquire)) {
    i->pass_mu.unlock();
    i->control_mu.unlock();
  }
  StartMutex().unlock();
}
void AtForkChild() {
  // Only the forking thread exists here. The parent's pending records stay
  // the parent's: the child drops its copy of them and of other threads'
  // rings, then starts its own flusher.
  Registry& reg = GetRegistry();
  ThreadRing* mine = tls_state.ring;
  for (ThreadRing* r : reg.rings) {
    if (r != mine) FreeRing(r);
  }
  reg.rings.clear();
  if (mine != nullptr) {
    uint64_t w = mine->write_pos.load(std::memory_order_relaxed);
    mine->read_pos.store(w, std::memory_order_relaxed);
    mine->cached_read = w;
    mine->wake_requested.store(false, std::memory_order_relaxed);
    reg.rings.push_back(mine);
  }
  reg.mu.unlock();
  if (Runtime::Impl* i = g_impl.load(std::memory_order_acquire)) {
    i->reported_drops.clear();
    i->stale.clear();
    if (mine != nullptr) i->reported_drops[mine] = mine->dropped.load(std::memory_order_relaxed);
    i->state.held.clear();
    i->state.fragments.clear();
    bool running = !i->shut_down;
    i->pass_mu.unlock();
    i->control_mu.unlock();
    if (running) i->StartFlusher();  // the old one is gone
  }
  StartMutex().unlock();
}
}  // namespace

// ---- Public API -----------------------------------------------------------------

Runtime::Runtime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Runtime::~Runtime() { Shutdown().IgnoreError(); }

absl::StatusOr<std::unique_ptr<Runtime>> Runtime::Start(Options options) {
  if (options.ring_bytes < 4096 || options.ring_bytes > (size_t{1} << 30)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ring_bytes must be between 4096 and 2^30, got ", options.ring_bytes));
  }
  if (!(options.high_water > 0 && options.high_water <= 1)) {
    return absl::InvalidArgumentError("high_water must be in (0, 1]");
  }
  if (options.flush_interval.count() <= 0) {
    return absl::InvalidArgumentError("flush_interval must be positive");
  }
  for (const auto& s : options.sinks) {
    if (s == nullptr) return absl::InvalidArgumentError("a sink is null");
  }
  static std::once_flag fork_once;
  std::call_once(fork_once, [] { pthread_atfork(AtForkPrepare, AtForkParent, AtForkChild); });

  std::lock_guard<std::mutex> lock(StartMutex());
  if (g_impl.load(std::memory_order_acquire) != nullptr) {
    return absl::FailedPreconditionError("a tokmeter runtime is already running");
  }
  uint64_t cap = 4096;
  while (cap < options.ring_bytes) cap <<= 1;
  auto impl = std::make_unique<Impl>();
  impl->opts = std::move(options);
  impl->epoch = g_next_epoch.fetch_add(2, std::memory_order_relaxed);
  impl->clock.Calibrate();
  g_ring_capacity.store(cap, std::memory_order_relaxed);
  g_high_water.store(std::max<uint64_t>(1, uint64_t(double(cap) * impl->opts.high_water)),
                     std::memory_order_relaxed);
  g_block_when_full.store(impl->opts.full_ring == FullRingPolicy::kBlock,
                          std::memory_order_relaxed);
  {
    // Rings kept from earlier runtimes carry their drop counts: those drops
    // were reported (or lost) by the runtime they happened in, not this one.
    Registry& reg = GetRegistry();
    std::lock_guard<std::mutex> reg_lock(reg.mu);
    for (ThreadRing* r : reg.rings) {
      impl->reported_drops[r] = r->dropped.load(std::memory_order_relaxed);
    }
  }
  Impl* raw = impl.get();
  // Sized for a pass over a few half-full default rings, so the first busy
  // passes do not also grow (and fault in) the flusher's buffers.
  raw->batch.spans.reserve(8192);
  raw->tag_arena.reserve(4 * 8192);
  g_impl.store(raw, std::memory_order_release);
  // Release: a thread that sees the epoch sees the geometry and the runtime.
  internal::g_active_epoch.store(raw->epoch, std::memory_order_release);
  if (raw->opts.monitor != nullptr) raw->opts.monitor->OnStart();
  {
    std::lock_guard<std::mutex> control(raw->control_mu);
    raw->StartFlusher();
  }
  return std::unique_ptr<Runtime>(new Runtime(std::move(impl)));
}

absl::Status Runtime::Impl::FlushAll() {
  std::lock_guard<std::mutex> control(control_mu);
  if (shut_down) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(pass_mu);
  // A second pass when the first left something for it: spans held for
  // their trace start, roll-ups of turns and traces that closed in it.
  Pass();
  if (!state.held.empty() || closed_this_pass) Pass();
  return ForEachSink([](Sink& sink) { return sink.Flush(); });
}

absl::Status Runtime::Impl::ShutdownLocked() {
  std::lock_guard<std::mutex> control(control_mu);
  if (shut_down) return absl::OkStatus();
  shut_down = true;
  // From here new spans are no-ops; spans still open will not be recorded.
  internal::g_active_epoch.store(0, std::memory_order_release);
  stop.store(true, std::memory_order_release);
  g_wake_word.fetch_add(1, std::memory_order_release);
  FutexWake(&g_wake_word);
  if (flusher != nullptr) {
    flusher->join();
    delete flusher;
    flusher = nullptr;
  }
  absl::Status result;
  // The runtime lets go of the monitor once stopped; it is released outside
  // the pass lock: if this was its last owner, its destructor delivers the
  // queued callbacks.
  std::shared_ptr<BatchProcessor> monitor;
  {
    std::lock_guard<std::mutex> lock(pass_mu);
    // Held spans come out in the second pass; roll-ups of turns closed in
    // the second pass in the third.
    Pass();
    Pass();
    Pass();
    result = ForEachSink([](Sink& sink) { return sink.Close(); });
    if (opts.monitor != nullptr) opts.monitor->OnStop();
    monitor = std::move(opts.monitor);
    opts.monitor = nullptr;
  }
  g_ring_capacity.store(0, std::memory_order_relaxed);
  if (g_impl.load(std::memory_order_acquire) == this) {
    g_impl.store(nullptr, std::memory_order_release);
  }
  monitor.reset();
  return result;
}

absl::Status Runtime::Flush() { return impl_->FlushAll(); }

absl::Status Runtime::Shutdown() {
  std::lock_guard<std::mutex> lock(StartMutex());
  return impl_->ShutdownLocked();
}

Stats Runtime::stats() const {
  Stats s;
  s.spans = impl_->spans.load(std::memory_order_relaxed);
  s.traces = impl_->traces.load(std::memory_order_relaxed);
  s.rollups = impl_->rollups.load(std::memory_order_relaxed);
  s.dropped = impl_->dropped.load(std::memory_order_relaxed);
  s.flushes = impl_->flushes.load(std::memory_order_relaxed);
  s.sink_errors = impl_->sink_errors.load(std::memory_order_relaxed);
  s.bytes_drained = impl_->bytes.load(std::memory_order_relaxed);
  s.flusher_buffer_bytes = impl_->buffer_bytes.load(std::memory_order_relaxed);
  Registry& reg = GetRegistry();
  std::lock_guard<std::mutex> lock(reg.mu);
  s.threads = reg.threads;
  for (ThreadRing* r : reg.rings) s.threads_live += !r->retired.load(std::memory_order_relaxed);
  return s;
}

absl::Status Flush() {
  // Under the start mutex the running runtime cannot be destroyed meanwhile.
  std::lock_guard<std::mutex> lock(StartMutex());
  Runtime::Impl* impl = g_impl.load(std::memory_order_acquire);
  return impl != nullptr ? impl->FlushAll() : absl::OkStatus();
}

absl::Status Shutdown() {
  std::lock_guard<std::mutex> lock(StartMutex());
  Runtime::Impl* impl = g_impl.load(std::memory_order_acquire);
  return impl != nullptr ? impl->ShutdownLocked() : absl::OkStatus();
}

bool IsRecording() noexcept {
  return internal::g_active_epoch.load(std::memory_order_acquire) != 0;
}

}  // namespace tokmeter
