// src/core/registry.h — the process-wide part of the recorder: the epoch
// spans check, the threads' rings and the registry that lists them, ring
// geometry for new threads, the flusher's wake-up word, the start mutex.
// Shared by registry.cc (thread registration, the hot path's slow paths),
// flusher.cc and runtime.cc.
#ifndef TOKMETER_CORE_REGISTRY_H_
#define TOKMETER_CORE_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "tokmeter/internal/ring.h"

namespace tokmeter::internal {

// Futex word bumped by producers that want an early drain; the flusher
// sleeps on it. Global (not in the runtime) so a producer never touches a
// runtime being destroyed.
extern std::atomic<uint32_t> g_wake_word;
// Epochs are odd, so 0 always means "not recording"; never reused.
extern std::atomic<uint32_t> g_next_epoch;
// Ring geometry for threads registering in the current epoch. Written by
// Start before it publishes the epoch (release), read after the acquire
// load of the epoch, so relaxed is enough.
extern std::atomic<uint64_t> g_ring_capacity;
extern std::atomic<uint64_t> g_high_water;
extern std::atomic<bool> g_block_when_full;
// Records lost because no ring could be allocated for a thread.
extern std::atomic<uint64_t> g_unregistered_drops;

// Serializes Start, Shutdown, fork and the free functions' use of the
// running runtime.
std::mutex& StartMutex();

// Every registered thread's ring. Lock order: a runtime's control and pass
// mutexes before `mu`.
struct Registry {
  std::mutex mu;
  std::vector<ThreadRing*> rings;  // guarded by mu
  uint64_t threads = 0;            // guarded by mu: registrations ever
};
Registry& GetRegistry();

// Unmaps a ring's memory and deletes it (the flusher, once drained).
void FreeRing(ThreadRing* r);

void FutexWake(std::atomic<uint32_t>* word);
void FutexWait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns);

}  // namespace tokmeter::internal

#endif  // TOKMETER_CORE_REGISTRY_H_
