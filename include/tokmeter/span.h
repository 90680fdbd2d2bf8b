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
#include <new>
#include <string>
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
// Its contexts start their lifetime in Span::Open: a span that does not
// record (tokmeter off) then costs no stores, where default-initialized
// Contexts would zero 64 bytes per span.
struct SpanCoreLink {
  SpanCoreLink() noexcept {}
  union {
    Context ctx;  // this span: trace, span id, enclosing turn
  };
  union {
    Context child_ctx;  // what children inherit (turn_id is this span for a turn)
  };
  SpanCoreLink* prev;
  Span* owner;
};

// A string argument. Arrays of const char are taken to be string literals
// (static storage, never changing) and recorded by address: no copy. All
// other strings (std::string, string_view, char*, writable char arrays) are
// copied when passed. Keep literal-looking arrays alive and unchanged for
// the life of the program, as literals are.
struct StrArg {
  const char* data;
  size_t size;
  bool is_static;

  template <size_t N>
  constexpr StrArg(const char (&s)[N]) noexcept  // NOLINT: implicit on purpose
      : data(s), size(N > 0 && s[N - 1] == '\0' ? N - 1 : N), is_static(true) {}
  template <size_t N>
  StrArg(char (&s)[N]) noexcept  // NOLINT
      : data(s), size(strnlen(s, N)), is_static(false) {}
  template <typename P>
  requires(std::same_as<P, const char*> || std::same_as<P, char*>) StrArg(P s)
  noexcept  // NOLINT
      : data(s ? s : ""), size(s ? std::strlen(s) : 0), is_static(false) {}
  StrArg(std::string_view s) noexcept  // NOLINT: data is never null (memcpy)
      : data(s.data() ? s.data() : ""), size(s.size()), is_static(false) {}
  StrArg(const std::string& s) noexcept  // NOLINT
      : data(s.data()), size(s.size()), is_static(false) {}
  std::string_view view() const noexcept { return {data, size}; }
};
}  // namespace internal

// One timed step: an LLM request, a tool call, a retrieval, a retry wait.
// Opens in the constructor, closes in the destructor (or End()).
// Not copyable or movable. Every method is noexcept and a no-op when
// tokmeter is not recording. String literals passed as kinds, names, keys
// and values are recorded by address; other strings are copied (StrArg).
class Span {
 public:
  using StrArg = internal::StrArg;

  // A child of this thread's current span (or the first span of a new,
  // unnamed trace when there is none).
  TOKMETER_INTERNAL_ALWAYS_INLINE Span(StrArg kind, StrArg name) noexcept {
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
  TOKMETER_INTERNAL_ALWAYS_INLINE Span(const Context& parent, StrArg kind, StrArg name) noexcept {
    internal::ThreadState* ts = internal::ActiveThreadState();
    if (ts == nullptr) {
      ts_ = nullptr;
      return;
    }
    OpenChild(ts, parent, kind, name);
  }
  TOKMETER_INTERNAL_ALWAYS_INLINE ~Span() { End(); }
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

  // Adds `value` to a built-in counter.
  TOKMETER_INTERNAL_ALWAYS_INLINE Span& Add(Counter c, int64_t value) noexcept {
    if (ts_ != nullptr) {
      const int i = static_cast<int>(c);
      const uint32_t bit = 1u << i;
      const bool seen = mask_ & bit;
      counters_[i] = seen ? counters_[i] + value : value;
      num_counters_ += !seen;
      mask_ |= bit;
    }
    return *this;
  }
  // Adds `value` to a user counter by name (summed by name at flush).
  Span& Add(StrArg counter, int64_t value) noexcept {
    if (ts_ != nullptr) AppendItem(internal::kItemUserCounter, counter, &value, 8);
    return *this;
  }
  // Adds every bucket (input, cache_read, cache_write = 5m + 1h,
  // cache_write_1h, output, reasoning), e.g. of a parsed response
  // (tokmeter/usage.h).
  Span& AddUsage(const TokenBuckets& u) noexcept;

  // Tags: `provider`, `model`, `tool`, `status`, `streaming`, `request_id`,
  // `path`, or any key. The last value for a key wins. Keys longer than 255
  // bytes and values longer than 4096 bytes are cut (at a UTF-8 boundary).
  TOKMETER_INTERNAL_ALWAYS_INLINE Span& Tag(StrArg key, StrArg value) noexcept {
    if (ts_ != nullptr) AppendItem(internal::kItemTagString, key, value);
    return *this;
  }
  // (Without these, a literal or char* value would convert to bool.)
  template <size_t N>
  TOKMETER_INTERNAL_ALWAYS_INLINE Span& Tag(StrArg key, const char (&value)[N]) noexcept {
    return Tag(key, StrArg(value));
  }
  template <size_t N>
  Span& Tag(StrArg key, char (&value)[N]) noexcept {  // a writable array: copied
    return Tag(key, StrArg(value));
  }
  template <typename P>
  requires(std::same_as<P, const char*> || std::same_as<P, char*>) Span& Tag(StrArg key,
                                                                             P value) noexcept {
    return Tag(key, StrArg(value));
  }
  Span& Tag(StrArg key, bool value) noexcept {
    if (ts_ != nullptr) {
      char b = value ? 1 : 0;
      AppendItem(internal::kItemTagBool, key, &b, 1);
    }
    return *this;
  }
  template <typename T>
  requires std::integral<T> &&(!std::same_as<T, bool>)Span& Tag(StrArg key, T value) noexcept {
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
  TOKMETER_INTERNAL_ALWAYS_INLINE void End() noexcept {
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
  Span(RootTag, StrArg kind, StrArg name) noexcept;

  TOKMETER_INTERNAL_ALWAYS_INLINE void OpenChild(internal::ThreadState* ts, const Context& parent,
                                                 StrArg kind, StrArg name) noexcept {
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
  TOKMETER_INTERNAL_ALWAYS_INLINE void Open(internal::ThreadState* ts, Context me, StrArg kind,
                                            StrArg name, uint8_t flags) noexcept {
    ts_ = ts;
    epoch_ = ts->epoch;
    me.span_id = internal::NextId(ts);
    ::new (&link_.ctx) Context(me);
    ::new (&link_.child_ctx) Context(me);
    if (kind.size == 4 && std::memcmp(kind.data, "turn", 4) == 0) {
      flags |= internal::kFlagTurn;
      link_.child_ctx.turn_id = me.span_id;
    }
    flags_ = flags;
    mask_ = 0;
    num_counters_ = 0;
    items_len_ = 0;
    kind_ = LiteralOrItem(internal::kItemKind, kind, &kind_len_);
    name_ = LiteralOrItem(internal::kItemName, name, &name_len_);
    link_.prev = ts->current;
    link_.owner = this;
    ts->current = &link_;
    start_ = internal::Ticks();
  }

  // A literal kind / name travels as its address in the record (returned,
  // length in *len); another string is copied as an item (nullptr returned).
  TOKMETER_INTERNAL_ALWAYS_INLINE const char* LiteralOrItem(uint8_t type, StrArg s,
                                                            uint16_t* len) noexcept {
    if (s.is_static && s.size <= internal::kMaxValueLen) {
      *len = static_cast<uint16_t>(s.size);
      return s.data;
    }
    *len = 0;
    AppendItem(type, StrArg(""), s);
    return nullptr;
  }

  // Appends an item whose value is a string (kept by address when static).
  TOKMETER_INTERNAL_ALWAYS_INLINE void AppendItem(uint8_t type, StrArg key, StrArg value) noexcept {
    if (value.is_static && value.size <= internal::kMaxValueLen) {
      const char* ptr = value.data;
      AppendItemRaw(type | internal::kItemValueStatic, key, &ptr, 8, value.size);
    } else {
      AppendItemRaw(type, key, value.data, value.size, value.size);
    }
  }
  // Appends an item whose value is `value_len` raw bytes.
  TOKMETER_INTERNAL_ALWAYS_INLINE void AppendItem(uint8_t type, StrArg key, const void* value,
                                                  size_t value_len) noexcept {
    AppendItemRaw(type, key, value, value_len, value_len);
  }
  // `stored` bytes at `value` go into the buffer; `declared` is the value's
  // length (they differ for a static value, stored as its address).
  TOKMETER_INTERNAL_ALWAYS_INLINE void AppendItemRaw(uint8_t type, StrArg key, const void* value,
                                                     size_t stored, size_t declared) noexcept {
    // An empty key (kind, name) stores nothing: no 8-byte pointer to "".
    const bool key_static = key.is_static && key.size != 0 && key.size <= internal::kMaxKeyLen;
    const size_t key_stored = key_static ? 8 : key.size;
    const size_t n = internal::kItemHeader + key_stored + stored;
    if (TOKMETER_INTERNAL_UNLIKELY(key.size > internal::kMaxKeyLen ||
                                   declared > internal::kMaxValueLen ||
                                   items_len_ + n > sizeof(items_))) {
      AppendItemSlow(type, key.view(), value, stored, declared);
      return;
    }
    char* p = items_ + items_len_;
    p[0] = static_cast<char>(type | (key_static ? internal::kItemKeyStatic : 0));
    p[1] = static_cast<char>(key.size);
    uint16_t vl = static_cast<uint16_t>(declared);
    std::memcpy(p + 2, &vl, 2);
    if (key_static) {
      std::memcpy(p + 4, &key.data, 8);
    } else {
      std::memcpy(p + 4, key.data, key.size);
    }
    std::memcpy(p + 4 + key_stored, value, stored);
    items_len_ = static_cast<uint16_t>(items_len_ + n);
  }
  void AppendItemSlow(uint8_t type, std::string_view key, const void* value, size_t stored,
                      size_t declared) noexcept;

  TOKMETER_INTERNAL_ALWAYS_INLINE void Close() noexcept {
    uint64_t end = internal::Ticks();
    internal::ThreadState* ts = ts_;
    ts_ = nullptr;
    ts->current = link_.prev;
    if (!(flags_ & internal::kFlagExplicitTime)) end_ = end;
    internal::ThreadRing* r = ts->ring;
    uint32_t size = (sizeof(internal::SpanWire) + 8 * num_counters_ + items_len_ + 7) & ~7u;
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
    w->kind = kind_;
    w->name = name_;
    w->kind_len = kind_len_;
    w->name_len = name_len_;
    int64_t* out = reinterpret_cast<int64_t*>(p + sizeof(internal::SpanWire));
    for (uint32_t m = mask_; m != 0; m &= m - 1) *out++ = counters_[__builtin_ctz(m)];
    // 16- then 8-byte chunks up to items_len_ rounded to 8: items_ is a
    // multiple of 16 long and the record is padded to 8, so this stays
    // inside both and avoids a memcpy call.
    char* dst = reinterpret_cast<char*>(out);
    const uint32_t len8 = (items_len_ + 7u) & ~7u;
    uint32_t i = 0;
    for (; i + 16 <= len8; i += 16) {
      char chunk[16];
      std::memcpy(chunk, items_ + i, 16);
      std::memcpy(dst + i, chunk, 16);
    }
    if (i < len8) {
      uint64_t word;
      std::memcpy(&word, items_ + i, 8);
      std::memcpy(dst + i, &word, 8);
    }
    internal::Commit(r, commit);
  }

  internal::ThreadState* ts_;  // null when not recording (or closed)
  internal::SpanCoreLink link_;
  uint64_t parent_id_;
  uint64_t start_;
  uint64_t end_;
  uint64_t fingerprint_;
  const char* kind_;  // a literal kind / name (else nullptr: in items_)
  const char* name_;
  uint16_t kind_len_;
  uint16_t name_len_;
  uint32_t epoch_;
  uint32_t mask_;  // counters_[i] is set iff bit i is
  uint8_t flags_;
  uint8_t num_counters_;  // bits set in mask_
  uint16_t items_len_;
  int64_t counters_[kNumCounters];
  alignas(16) char items_[176];  // a multiple of 16 (see Close)
};

// One unit of work a person would name: a session, a turn, a cron run, a
// workflow run. Opens a new trace whose root span has this kind and name
// (the id); its tags are stored once and apply to every span inside it.
// Not copyable or movable; use from the thread that opened it.
class Trace {
 public:
  using StrArg = internal::StrArg;
  Trace(StrArg kind, StrArg id) noexcept : root_(Span::RootTag{}, kind, id) {}
  ~Trace() = default;
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  // Trace tags: `session`, `channel`, `agent`, `job`, `heartbeat`,
  // `workflow`, `user`, or any key.
  Trace& Tag(std::string_view key, std::string_view value) noexcept;
  Trace& Tag(std::string_view key, const char* value) noexcept {
    return Tag(key, std::string_view(value ? value : ""));
  }
  Trace& Tag(std::string_view key, const std::string& value) noexcept {
    return Tag(key, std::string_view(value));
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
  Trace& Add(StrArg counter, int64_t value) noexcept {
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
