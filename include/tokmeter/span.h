// tokmeter/span.h — RAII spans and traces, the calling thread's current span,
// and the context that carries a trace to another thread.
//
//   tokmeter::Trace session("session", session_key);
//   session.Tag("channel", "discord");
//   {
//     tokmeter::Span llm("llm", "claude-sonnet-4-5");
//     llm.Tag("provider", "anthropic").Add(tokmeter::Counter::kInputTokens, 812);
//   }  // closed here: one record into this thread's ring, no lock, no allocation
//
// Spans and traces are not thread-safe objects: use each from the thread that
// opened it. To continue a trace on another thread, capture `context()` and
// open a span with it there.
#ifndef TOKMETER_SPAN_H_
#define TOKMETER_SPAN_H_

#include <concepts>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "tokmeter/counters.h"
#include "tokmeter/internal/ring.h"
#include "tokmeter/record.h"

namespace tokmeter {

// Where a span sits: its trace, itself, and the turn it rolls up into.
// A plain value: copy it to another thread and open spans there with it.
struct Context {
  TraceId trace;
  uint64_t span_id = 0;  // the span new children get as parent
  uint64_t turn_id = 0;  // the enclosing `turn` span, 0 if none
  bool valid() const { return trace.valid(); }
};

class Trace;
class Span;

namespace internal {
// The part of an open span that the thread's span stack links through.
struct SpanCoreLink {
  Context ctx;        // this span: trace, span id, enclosing turn
  Context child_ctx;  // what children inherit (turn_id is this span for a turn)
  SpanCoreLink* prev;
  Span* owner;
};
}  // namespace internal

// One timed step: an LLM request, a tool call, a retrieval, a retry wait.
// Opens in the constructor, closes in the destructor (or End()).
// Not copyable or movable. Every method is noexcept and a no-op when
// tokmeter is not recording.
class Span {
 public:
  // A child of this thread's current span (or the first span of a new,
  // unnamed trace when there is none).
  Span(std::string_view kind, std::string_view name) noexcept {
    internal::ThreadState* ts = internal::ActiveThreadState();
    if (ts == nullptr) {
      ts_ = nullptr;
      return;
    }
    if (internal::SpanCoreLink* p = ts->current) {
      OpenChild(ts, p->child_ctx, kind, name);
    } else {
      OpenChild(ts, Context{}, kind, name);
    }
  }
  // A child of `parent`, which may come from another thread (fan-out).
  Span(const Context& parent, std::string_view kind, std::string_view name) noexcept {
    internal::ThreadState* ts = internal::ActiveThreadState();
    if (ts == nullptr) {
      ts_ = nullptr;
      return;
    }
    OpenChild(ts, parent, kind, name);
  }
  ~Span() { End(); }
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

  // Adds `value` to a built-in counter.
  Span& Add(Counter c, int64_t value) noexcept {
    if (ts_ != nullptr) {
      counters_[static_cast<int>(c)] += value;
      mask_ |= 1u << static_cast<int>(c);
    }
    return *this;
  }
  // Adds `value` to a user counter by name (summed by name at flush).
  Span& Add(std::string_view counter, int64_t value) noexcept {
    if (ts_ != nullptr) AppendItem(internal::kItemUserCounter, counter, &value, 8);
    return *this;
  }
  // Adds every bucket of a parsed usage (see tokmeter/usage.h).
  Span& AddUsage(const Usage& u) noexcept;

  // Tags: `provider`, `model`, `tool`, `status`, `streaming`, `request_id`,
  // `path`, or any key. The last value for a key wins. Keys longer than 255
  // bytes and values longer than 4096 bytes are cut (at a UTF-8 boundary).
  Span& Tag(std::string_view key, std::string_view value) noexcept {
    if (ts_ != nullptr) AppendItem(internal::kItemTagString, key, value.data(), value.size());
    return *this;
  }
  Span& Tag(std::string_view key, const char* value) noexcept {
    return Tag(key, std::string_view(value ? value : ""));
  }
  Span& Tag(std::string_view key, bool value) noexcept {
    if (ts_ != nullptr) {
      char b = value ? 1 : 0;
      AppendItem(internal::kItemTagBool, key, &b, 1);
    }
    return *this;
  }
  template <typename T>
  requires std::integral<T> &&
      (!std::same_as<T, bool>)Span& Tag(std::string_view key, T value) noexcept {
    if (ts_ != nullptr) {
      int64_t v = static_cast<int64_t>(value);
      AppendItem(internal::kItemTagInt, key, &v, 8);
    }
    return *this;
  }
  // Sets a tag on this span's trace (stored once for the whole trace).
  Span& TraceTag(std::string_view key, std::string_view value) noexcept;

  // Marks what this span did, so repeats can be recognised later: the bytes
  // are hashed (XXH3-64, stable across processes and versions).
  Span& Fingerprint(std::string_view bytes) noexcept;
  Span& FingerprintHash(uint64_t hash) noexcept {
    if (ts_ != nullptr) {
      fingerprint_ = hash;
      flags_ |= internal::kFlagFingerprint;
    }
    return *this;
  }
  // Overrides the measured times (Unix ns), e.g. for replayed or simulated
  // calls. The span still closes when End() or the destructor runs.
  Span& SetTimes(int64_t start_unix_ns, int64_t end_unix_ns) noexcept {
    if (ts_ != nullptr) {
      start_ = static_cast<uint64_t>(start_unix_ns);
      end_ = static_cast<uint64_t>(end_unix_ns);
      flags_ |= internal::kFlagExplicitTime;
    }
    return *this;
  }

  // Closes the span now; later calls and the destructor do nothing.
  // Spans of one thread must close in reverse order of opening.
  void End() noexcept {
    if (ts_ != nullptr) Close();
  }

  // True while this span is recording.
  bool recording() const noexcept { return ts_ != nullptr; }
  // The context children of this span get; invalid when not recording.
  Context context() const noexcept { return ts_ != nullptr ? link_.child_ctx : Context{}; }
  uint64_t span_id() const noexcept { return ts_ != nullptr ? link_.ctx.span_id : 0; }
  TraceId trace_id() const noexcept { return ts_ != nullptr ? link_.ctx.trace : TraceId{}; }

 private:
  friend class Trace;
  friend Span& Current() noexcept;
  struct RootTag {};
  struct InertTag {};
  explicit Span(InertTag) noexcept : ts_(nullptr) {}
  // A trace's root span; also records the trace's start.
  Span(RootTag, std::string_view kind, std::string_view name) noexcept;

  TOKMETER_INTERNAL_ALWAYS_INLINE void OpenChild(internal::ThreadState* ts, const Context& parent,
                                                 std::string_view kind,
                                                 std::string_view name) noexcept {
    Context me;
    me.trace = parent.trace;
    uint8_t flags = 0;
    if (!me.trace.valid()) {
      me.trace = {internal::NextId(ts), internal::NextId(ts)};
      flags = internal::kFlagOrphan;
    }
    me.turn_id = parent.turn_id;
    parent_id_ = parent.span_id;
    Open(ts, me, kind, name, flags);
  }
  TOKMETER_INTERNAL_ALWAYS_INLINE void Open(internal::ThreadState* ts, Context me,
                                            std::string_view kind, std::string_view name,
                                            uint8_t flags) noexcept {
    ts_ = ts;
    epoch_ = ts->epoch;
    me.span_id = internal::NextId(ts);
    link_.ctx = me;
    link_.child_ctx = me;
    if (kind.size() == 4 && std::memcmp(kind.data(), "turn", 4) == 0) {
      flags |= internal::kFlagTurn;
      link_.child_ctx.turn_id = me.span_id;
    }
    flags_ = flags;
    mask_ = 0;
    items_len_ = 0;
    std::memset(counters_, 0, sizeof(counters_));
    AppendItem(internal::kItemKind, {}, kind.data(), kind.size());
    AppendItem(internal::kItemName, {}, name.data(), name.size());
    link_.prev = ts->current;
    link_.owner = this;
    ts->current = &link_;
    start_ = internal::Ticks();
  }

  TOKMETER_INTERNAL_ALWAYS_INLINE void AppendItem(uint8_t type, std::string_view key,
                                                  const void* value, size_t value_len) noexcept {
    if (TOKMETER_INTERNAL_UNLIKELY(
            key.size() > internal::kMaxKeyLen || value_len > internal::kMaxValueLen ||
            items_len_ + internal::kItemHeader + key.size() + value_len > sizeof(items_))) {
      AppendItemSlow(type, key, value, value_len);
      return;
    }
    char* p = items_ + items_len_;
    p[0] = static_cast<char>(type);
    p[1] = static_cast<char>(key.size());
    uint16_t vl = static_cast<uint16_t>(value_len);
    std::memcpy(p + 2, &vl, 2);
    std::memcpy(p + 4, key.data(), key.size());
    std::memcpy(p + 4 + key.size(), value, value_len);
    items_len_ = static_cast<uint16_t>(items_len_ + internal::kItemHeader + key.size() + value_len);
  }
  void AppendItemSlow(uint8_t type, std::string_view key, const void* value,
                      size_t value_len) noexcept;

  TOKMETER_INTERNAL_ALWAYS_INLINE void Close() noexcept {
    uint64_t end = internal::Ticks();
    internal::ThreadState* ts = ts_;
    ts_ = nullptr;
    ts->current = link_.prev;
    if (!(flags_ & internal::kFlagExplicitTime)) end_ = end;
    internal::ThreadRing* r = ts->ring;
    uint32_t n = static_cast<uint32_t>(__builtin_popcount(mask_));
    uint32_t size = (sizeof(internal::SpanWire) + 8 * n + items_len_ + 7) & ~7u;
    uint64_t commit;
    char* p = internal::Reserve(r, size, &commit);
    if (TOKMETER_INTERNAL_UNLIKELY(p == nullptr)) {
      internal::CountDrop(r);
      return;
    }
    auto* w = reinterpret_cast<internal::SpanWire*>(p);
    w->h.size = size;
    w->h.type = internal::kRecordSpan;
    w->h.flags = flags_;
    w->h.items_len = items_len_;
    w->counter_mask = mask_;
    w->epoch = epoch_;
    w->trace_hi = link_.ctx.trace.hi;
    w->trace_lo = link_.ctx.trace.lo;
    w->span_id = link_.ctx.span_id;
    w->parent_id = parent_id_;
    w->turn_id = link_.ctx.turn_id;
    w->start = start_;
    w->end = end_;
    w->fingerprint = fingerprint_;
    int64_t* out = reinterpret_cast<int64_t*>(p + sizeof(internal::SpanWire));
    for (uint32_t m = mask_; m != 0; m &= m - 1) *out++ = counters_[__builtin_ctz(m)];
    std::memcpy(out, items_, items_len_);
    internal::Commit(r, commit);
  }

  internal::ThreadState* ts_;  // null when not recording (or closed)
  internal::SpanCoreLink link_;
  uint64_t parent_id_;
  uint64_t start_;
  uint64_t end_;
  uint64_t fingerprint_;
  uint32_t epoch_;
  uint32_t mask_;
  uint8_t flags_;
  uint16_t items_len_;
  int64_t counters_[kNumCounters];
  char items_[176];
};

// One unit of work a person would name: a session, a turn, a cron run, a
// workflow run. Opens a new trace whose root span has this kind and name
// (the id); its tags are stored once and apply to every span inside it.
// Not copyable or movable; use from the thread that opened it.
class Trace {
 public:
  Trace(std::string_view kind, std::string_view id) noexcept : root_(Span::RootTag{}, kind, id) {}
  ~Trace() = default;
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  // Trace tags: `session`, `channel`, `agent`, `job`, `heartbeat`,
  // `workflow`, `user`, or any key.
  Trace& Tag(std::string_view key, std::string_view value) noexcept;
  Trace& Tag(std::string_view key, const char* value) noexcept {
    return Tag(key, std::string_view(value ? value : ""));
  }
  Trace& Tag(std::string_view key, bool value) noexcept;
  template <typename T>
  requires std::integral<T> &&
      (!std::same_as<T, bool>)Trace& Tag(std::string_view key, T value) noexcept {
    return TagInt(key, static_cast<int64_t>(value));
  }
  // Counters on the root span.
  Trace& Add(Counter c, int64_t value) noexcept {
    root_.Add(c, value);
    return *this;
  }
  Trace& Add(std::string_view counter, int64_t value) noexcept {
    root_.Add(counter, value);
    return *this;
  }
  void End() noexcept { root_.End(); }
  bool recording() const noexcept { return root_.recording(); }
  Context context() const noexcept { return root_.context(); }
  TraceId trace_id() const noexcept { return root_.trace_id(); }
  Span& span() noexcept { return root_; }

 private:
  Trace& TagInt(std::string_view key, int64_t value) noexcept;
  Span root_;
};

// The innermost open span of the calling thread, or an inert span (every
// method a no-op) when there is none. Lets code that did not open the span
// (the HTTP layer that sees the provider's usage) add to it.
inline Span& Current() noexcept {
  internal::SpanCoreLink* c = internal::tls_state.current;
  if (c == nullptr) {
    static Span inert{Span::InertTag{}};
    return inert;
  }
  return *c->owner;
}
inline Context CurrentContext() noexcept { return Current().context(); }

}  // namespace tokmeter

#endif  // TOKMETER_SPAN_H_
