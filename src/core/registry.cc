// Thread registration and the hot path's slow paths (tokmeter/internal/
// ring.h): a thread's first span maps its ring and lists it in the registry;
// a full ring wakes the flusher or, with the block policy, waits for it.
#include "src/core/registry.h"

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "src/core/clock.h"

namespace tokmeter::internal {

std::atomic<uint32_t> g_active_epoch{0};
thread_local constinit ThreadState tls_state{nullptr, 0, nullptr, 0};

std::atomic<uint32_t> g_wake_word{0};
std::atomic<uint32_t> g_next_epoch{1};
std::atomic<uint64_t> g_ring_capacity{0};
std::atomic<uint64_t> g_high_water{0};
std::atomic<bool> g_block_when_full{false};
std::atomic<uint64_t> g_unregistered_drops{0};

std::mutex& StartMutex() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}

Registry& GetRegistry() {
  static Registry* r = new Registry;  // leaked: outlives every thread
  return *r;
}

namespace {

// Ring memory comes straight from the kernel, not malloc: it is returned
// when the ring is freed (a process whose threads come and go keeps no
// rings' worth of free heap), and it is exactly `capacity` resident bytes.
char* MapRing(uint64_t capacity) {
  // MAP_POPULATE faults every page in now (writable private memory is
  // populated for writing): a first-touch page fault inside a span would
  // cost ~10 µs. Best effort: a page it could not populate faults later.
  void* p = mmap(nullptr, capacity, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
}

}  // namespace

void FreeRing(ThreadRing* r) {
  munmap(r->data, r->capacity);
  delete r;
}

void FutexWake(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}
void FutexWait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns) {
  timespec ts{static_cast<time_t>(timeout_ns / 1000000000),
              static_cast<long>(timeout_ns % 1000000000)};
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, &ts, nullptr,
          0);
}

namespace {

// Retires the thread's ring at thread exit so the flusher drains and frees it.
struct ThreadExitHook {
  bool armed = false;
  ~ThreadExitHook() {
    if (!armed) return;
    ThreadState& ts = tls_state;
    ts.epoch = 0;
    ts.current = nullptr;
    if (ThreadRing* r = ts.ring) {
      ts.ring = nullptr;
      // Release: every record this thread wrote is visible to the flusher
      // once it sees `retired` (acquire).
      r->retired.store(true, std::memory_order_release);
    }
  }
};
thread_local ThreadExitHook t_exit_hook;
thread_local bool t_exiting = false;

uint64_t RandomSeed() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed)) {
    seed = static_cast<uint64_t>(RealtimeNs()) ^ (static_cast<uint64_t>(syscall(SYS_gettid)) << 32);
  }
  return seed;
}

}  // namespace

// ---- Slow paths called from the inline hot path ------------------------------

bool RegisterThread(uint32_t epoch) noexcept {
  ThreadState* ts = &tls_state;
  if (t_exiting) return false;
  uint64_t cap = g_ring_capacity.load(std::memory_order_relaxed);
  if (g_active_epoch.load(std::memory_order_acquire) != epoch || cap == 0) return false;
  if (ts->rng == 0) ts->rng = RandomSeed();
  if (ts->ring != nullptr && ts->ring->capacity == cap) {
    // Same geometry as before: keep the ring (records left from an earlier
    // runtime are discarded by epoch and counted as drops).
    ts->ring->block_when_full = g_block_when_full.load(std::memory_order_relaxed);
    ts->ring->high_water = g_high_water.load(std::memory_order_relaxed);
    ts->epoch = epoch;
    return true;
  }
  auto* r = new (std::nothrow) ThreadRing;
  char* data = r ? MapRing(cap) : nullptr;
  if (data == nullptr) {
    delete r;
    g_unregistered_drops.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  r->data = data;
  r->capacity = cap;
  r->mask = cap - 1;
  r->high_water = g_high_water.load(std::memory_order_relaxed);
  r->block_when_full = g_block_when_full.load(std::memory_order_relaxed);
  r->thread_id = static_cast<uint32_t>(syscall(SYS_gettid));
  {
    Registry& reg = GetRegistry();
    std::lock_guard<std::mutex> lock(reg.mu);
    reg.rings.push_back(r);
    ++reg.threads;
  }
  if (ts->ring != nullptr) ts->ring->retired.store(true, std::memory_order_release);
  ts->ring = r;
  ts->epoch = epoch;
  t_exit_hook.armed = true;
  return true;
}

void WakeFlusher(ThreadRing* ring) noexcept {
  ring->wake_requested.store(true, std::memory_order_relaxed);
  // Release pairs with the flusher's acquire load of the word.
  g_wake_word.fetch_add(1, std::memory_order_release);
  FutexWake(&g_wake_word);
}

bool WaitForSpace(ThreadRing* r, uint64_t need) noexcept {
  for (int spins = 0;; ++spins) {
    if (g_active_epoch.load(std::memory_order_acquire) == 0) return false;
    WakeFlusher(r);
    r->cached_read = r->read_pos.load(std::memory_order_acquire);
    uint64_t w = r->write_pos.load(std::memory_order_relaxed);
    if (w + need - r->cached_read <= r->capacity) return true;
    if (spins < 16) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

}  // namespace tokmeter::internal
