// tokmeter/internal/ring.h — per-thread single-producer byte ring and the
// wire layout of the records in it. Not part of the public API.
#ifndef TOKMETER_INTERNAL_RING_H_
#define TOKMETER_INTERNAL_RING_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#define TOKMETER_INTERNAL_HAVE_RDTSC 1
#else
#include <time.h>
#endif

#if defined(__GNUC__)
#define TOKMETER_INTERNAL_LIKELY(x) __builtin_expect(!!(x), 1)
#define TOKMETER_INTERNAL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TOKMETER_INTERNAL_NOINLINE __attribute__((noinline))
#define TOKMETER_INTERNAL_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define TOKMETER_INTERNAL_LIKELY(x) (x)
#define TOKMETER_INTERNAL_UNLIKELY(x) (x)
#define TOKMETER_INTERNAL_NOINLINE
#define TOKMETER_INTERNAL_ALWAYS_INLINE inline
#endif

namespace tokmeter::internal {

// Raw clock ticks: the TSC where there is one (constant and synchronized on
// every x86-64 Linux host we target), else CLOCK_MONOTONIC nanoseconds. The
// flusher converts ticks to Unix nanoseconds (clock.cc).
TOKMETER_INTERNAL_ALWAYS_INLINE uint64_t Ticks() noexcept {
#if defined(TOKMETER_INTERNAL_HAVE_RDTSC)
  // Inline asm rather than __rdtsc(): the compiler treats the builtin as a
  // call that may read and write any escaped memory, which made it reload
  // every field of the open span after each clock read. The asm touches no
  // memory (no "memory" clobber) and stays ordered as a volatile asm. So the
  // compiler may move loads and stores of inlined code across a clock read,
  // but never the clock read across a call (both have side effects), and
  // the LLM and tool calls a span times are calls.
  uint32_t lo, hi;
  __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t{hi} << 32) | lo;
#else
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
#endif
}

// ---- Wire layout -----------------------------------------------------------
// Every record in a ring starts with a RecordHeader and is padded to 8
// bytes. (This is the ring's layer; the flusher decodes these into the
// SpanRecords of tokmeter/record.h.)

enum RingRecordType : uint8_t {
  kRecordPad = 0,         // skip `size` bytes (end-of-ring filler)
  kRecordSpan = 1,        // a closed span: SpanWire, counters, items
  kRecordTraceStart = 2,  // a trace opened: SpanWire (no counters), items kind+name
  kRecordTraceTag = 3,    // a trace tag: SpanWire (ids only), one tag item
  kRecordFragment = 4,    // items of a still-open span that overflowed its buffer
};

enum RecordFlags : uint8_t {
  kFlagTurn = 1,          // the span is a `turn`: descendants roll up into it
  kFlagTraceRoot = 2,     // the span is a trace's root
  kFlagExplicitTime = 4,  // start/end are Unix ns, not ticks
  kFlagFingerprint = 8,   // `fingerprint` is set
  kFlagOrphan = 16,       // opened with no parent: its trace has no Trace object
};

struct RecordHeader {
  uint32_t size;       // whole record in bytes, a multiple of 8
  uint8_t type;        // RingRecordType
  uint8_t flags;       // RecordFlags
  uint16_t items_len;  // bytes of encoded items after the counters
};

struct SpanWire {
  RecordHeader h;
  uint32_t counter_mask;  // which counters follow, in enum order
  uint32_t epoch;         // runtime epoch the span was opened in
  uint64_t trace_hi, trace_lo, span_id, parent_id, turn_id;
  uint64_t start, end;  // ticks (or Unix ns with kFlagExplicitTime)
  uint64_t fingerprint;
  // A kind / name given as a string literal: its address and length, read
  // by the flusher (no item to encode, copy and parse). nullptr: it is an
  // item (a runtime string, copied) or absent.
  const char* kind;
  const char* name;
  uint16_t kind_len, name_len;
  uint32_t reserved;
  // followed by popcount(counter_mask) int64 values, then items_len bytes
};
static_assert(sizeof(SpanWire) == 104);

// Items are [ItemType | flags u8][key_len u8][value_len u16][key][value].
// With kItemKeyStatic / kItemValueStatic the key / value bytes are replaced
// by an 8-byte pointer to static storage (a string literal), read by the
// flusher: no copy on the hot path.
inline constexpr uint8_t kItemKeyStatic = 0x40;
inline constexpr uint8_t kItemValueStatic = 0x80;
inline constexpr uint8_t kItemTypeMask = 0x3F;
enum ItemType : uint8_t {
  kItemKind = 1,  // value: the span's kind
  kItemName = 2,  // value: the span's name
  kItemTagString = 3,
  kItemTagInt = 4,       // value: 8-byte int64
  kItemTagBool = 5,      // value: 1 byte
  kItemUserCounter = 6,  // key: counter name, value: 8-byte int64
};
inline constexpr size_t kItemHeader = 4;
inline constexpr size_t kMaxKeyLen = 255;
inline constexpr size_t kMaxValueLen = 4096;  // longer tag values are cut (UTF-8 safe)

// ---- Ring ------------------------------------------------------------------

// One thread's ring: the owning thread produces, the flusher consumes.
// Positions only grow; the byte offset is pos & mask.
struct ThreadRing {
  // Producer-owned line.
  // Release-stored by the producer after a record's bytes are written;
  // acquire-loaded by the flusher before it reads them.
  alignas(64) std::atomic<uint64_t> write_pos{0};
  uint64_t cached_read = 0;  // producer's last view of read_pos (producer only)
  // Records this thread could not write. Only the owning thread stores
  // (relaxed: it is a statistic the flusher reads, exact once the thread has
  // stopped writing or after a later release of write_pos).
  std::atomic<uint64_t> dropped{0};
  // Set by the producer when it asked the flusher to drain early; cleared by
  // the flusher after draining this ring. Relaxed: it only rate-limits wakes.
  std::atomic<bool> wake_requested{false};

  // Consumer-owned line. Release-stored by the flusher after it consumed
  // bytes; acquire-loaded by the producer before it reuses them.
  alignas(64) std::atomic<uint64_t> read_pos{0};

  // Set once at registration.
  alignas(64) char* data = nullptr;
  uint64_t capacity = 0;  // power of two
  uint64_t mask = 0;
  uint64_t high_water = 0;  // bytes in use that make the producer wake the flusher
  uint32_t thread_id = 0;   // OS thread id
  bool block_when_full = false;
  // Release-stored by the thread-exit hook; acquire-loaded by the flusher,
  // which frees the ring once it is retired and drained.
  std::atomic<bool> retired{false};
};

// Slow paths, out of line (runtime.cc).
struct ThreadState;
// Registers the calling thread's tls_state for `epoch`; false when it cannot
// record (no runtime, thread exiting, no memory).
bool RegisterThread(uint32_t epoch) noexcept;
void WakeFlusher(ThreadRing* ring) noexcept;
// Waits for space (block policy); returns false if the runtime went away.
bool WaitForSpace(ThreadRing* ring, uint64_t need) noexcept;

// Reserves `size` contiguous bytes (size % 8 == 0, size <= capacity / 2):
// returns where to write the record and sets *commit_pos to the position
// Commit publishes; nullptr when the ring is full (after waiting, with the
// block policy, for the flusher to make room).
TOKMETER_INTERNAL_ALWAYS_INLINE char* Reserve(ThreadRing* r, uint32_t size,
                                              uint64_t* commit_pos) noexcept {
  uint64_t w = r->write_pos.load(std::memory_order_relaxed);
  uint64_t off = w & r->mask;
  uint64_t tail = r->capacity - off;
  uint64_t need = tail < size ? tail + size : size;
  if (TOKMETER_INTERNAL_UNLIKELY(w + need - r->cached_read > r->capacity)) {
    r->cached_read = r->read_pos.load(std::memory_order_acquire);
    if (w + need - r->cached_read > r->capacity) {
      if (!r->block_when_full || !WaitForSpace(r, need)) return nullptr;
    }
  }
  if (TOKMETER_INTERNAL_UNLIKELY(tail < size)) {
    auto* pad = reinterpret_cast<RecordHeader*>(r->data + off);
    pad->size = static_cast<uint32_t>(tail);
    pad->type = kRecordPad;
    w += tail;
    off = 0;
  }
  *commit_pos = w + size;
  return r->data + off;
}

TOKMETER_INTERNAL_ALWAYS_INLINE void Commit(ThreadRing* r, uint64_t pos) noexcept {
  r->write_pos.store(pos, std::memory_order_release);
  if (TOKMETER_INTERNAL_UNLIKELY(pos - r->cached_read > r->high_water)) {
    // Past the mark by the cached read position: refresh it first, so that
    // once the flusher has drained, commits stop waking it until the ring
    // really passes the mark again (not on every commit).
    r->cached_read = r->read_pos.load(std::memory_order_acquire);
    if (pos - r->cached_read > r->high_water &&
        !r->wake_requested.load(std::memory_order_relaxed)) {
      WakeFlusher(r);
    }
  }
}

TOKMETER_INTERNAL_ALWAYS_INLINE void CountDrop(ThreadRing* r) noexcept {
  r->dropped.store(r->dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// ---- Thread state ------------------------------------------------------------

struct SpanCoreLink;  // defined in tokmeter/span.h

// Per-thread state: trivially constructible so the thread_local needs no guard.
struct ThreadState {
  ThreadRing* ring;
  uint32_t epoch;         // epoch `ring` was registered in; 0 = not registered
  SpanCoreLink* current;  // innermost open span of this thread
  uint64_t rng;           // splitmix64 state for ids
};

// 0 while no runtime runs; otherwise the running runtime's epoch (odd values
// never reused). Release-stored by Start/Shutdown; acquire-loaded by every
// span open, pairing with the runtime set-up that precedes Start's store.
extern std::atomic<uint32_t> g_active_epoch;
// constinit: no dynamic initialization, so access needs no TLS wrapper call.
extern thread_local constinit ThreadState tls_state;

// The calling thread's state when a runtime is running, registering the
// thread on first use; nullptr when tokmeter is not recording. One acquire
// load and a predicted branch when disabled.
TOKMETER_INTERNAL_ALWAYS_INLINE ThreadState* ActiveThreadState() noexcept {
  uint32_t e = g_active_epoch.load(std::memory_order_acquire);
  if (e == 0) return nullptr;  // not recording: the whole cost of a disabled span
  // Always &tls_state (never a pointer returned by a call): the compiler
  // then knows stores through it cannot touch the caller's Span, and keeps
  // the span's fields in registers across the inlined calls.
  ThreadState* ts = &tls_state;
  if (TOKMETER_INTERNAL_UNLIKELY(ts->epoch != e) && !RegisterThread(e)) return nullptr;
  return ts;
}

TOKMETER_INTERNAL_ALWAYS_INLINE uint64_t NextId(ThreadState* ts) noexcept {
  // A Weyl sequence from a random per-thread start: unique per thread for
  // 2^64 ids, and sequences of different threads collide with negligible
  // probability. Ids need to be unique, not unpredictable.
  uint64_t z = (ts->rng += 0x9e3779b97f4a7c15ull);
  return z | (z == 0);
}

}  // namespace tokmeter::internal

#endif  // TOKMETER_INTERNAL_RING_H_
