// Python-side spans on top of the RAII tokmeter::Span.
//
// A native Span links itself into its thread's span stack and must close in
// LIFO order on that thread. Python spans do not nest that way: asyncio tasks
// interleave on one thread, so task A's span can end while task B's (opened
// later) is still open. A DetachedSpan therefore opens the native span and
// immediately unlinks it from the thread's stack (Python keeps its own stack
// in a contextvars.ContextVar), and at close relinks it as the innermost span
// just long enough for Span::End() to pop it. Ids, start time, counters and
// tags stay in the native span, so children opened meanwhile (in any task or
// thread) already have the right parent id.
//
// This relies on one documented internal: the thread's innermost span is
// internal::tls_state.current and a Span pushes itself there when it opens.
// The clean core API for it would be a Span constructor that does not link
// (e.g. `Span(Detached, const Context& parent, kind, name)`) whose End() does
// not touch tls_state.current.
#ifndef TOKMETER_BINDINGS_PYTHON_SPAN_SHIM_H_
#define TOKMETER_BINDINGS_PYTHON_SPAN_SHIM_H_

#include <cstddef>
#include <new>
#include <string_view>

#include "tokmeter/span.h"

namespace tokmeter::python {

// One span or trace opened from Python. Not thread-safe: open and close on
// one thread (a close on another thread drops the span, see Close()).
class DetachedSpan {
 public:
  DetachedSpan() = default;
  DetachedSpan(const DetachedSpan&) = delete;
  DetachedSpan& operator=(const DetachedSpan&) = delete;
  ~DetachedSpan() {
    Close();
    Destroy();
  }

  // Opens a span, a child of `parent` if valid, else of the thread's current
  // native span (or a new trace). Call once.
  void OpenSpan(const Context* parent, std::string_view kind, std::string_view name) noexcept {
    internal::SpanCoreLink* saved = internal::tls_state.current;
    Span* s = (parent != nullptr && parent->valid()) ? new (storage_) Span(*parent, kind, name)
                                                     : new (storage_) Span(kind, name);
    held_ = kHeldSpan;
    Detach(saved, s);
  }
  // Opens a new trace whose root span has this kind and name (the id).
  void OpenTrace(std::string_view kind, std::string_view id) noexcept {
    internal::SpanCoreLink* saved = internal::tls_state.current;
    Trace* t = new (storage_) Trace(kind, id);
    held_ = kHeldTrace;
    Detach(saved, &t->span());
  }

  bool recording() const noexcept { return native_ != nullptr && native_->recording(); }
  // The open native span, or null once closed.
  Span* native() noexcept { return native_; }
  Trace* trace() noexcept {
    return held_ == kHeldTrace && native_ != nullptr
               ? std::launder(reinterpret_cast<Trace*>(storage_))
               : nullptr;
  }
  // What children get as parent (kept after close; invalid when not recording).
  const Context& child_context() const noexcept { return child_ctx_; }
  uint64_t span_id() const noexcept { return span_id_; }
  TraceId trace_id() const noexcept { return child_ctx_.trace; }

  // Closes on the opening thread. Returns false (and drops the record) if
  // called on another thread, whose ring this thread must not write.
  bool Close() noexcept {
    Span* s = native_;
    if (s == nullptr) return true;
    native_ = nullptr;
    if (!s->recording()) return true;
    if (&internal::tls_state != owner_) {
      // The ring belongs to another thread: forget the span without running
      // its destructor (Span and Trace own no memory; End() is all it does).
      held_ = kHeldNone;
      return false;
    }
    internal::SpanCoreLink* saved = internal::tls_state.current;
    internal::tls_state.current = link_;  // innermost again, for End() to pop
    s->End();
    internal::tls_state.current = saved;
    return true;
  }

 private:
  enum Held : uint8_t { kHeldNone, kHeldSpan, kHeldTrace };

  void Detach(internal::SpanCoreLink* saved, Span* s) noexcept {
    native_ = s;
    if (s->recording()) {
      link_ = internal::tls_state.current;  // the native span just pushed itself
      internal::tls_state.current = saved;
      owner_ = &internal::tls_state;
      child_ctx_ = s->context();
      span_id_ = s->span_id();
    }
  }
  void Destroy() noexcept {
    if (held_ == kHeldSpan) std::launder(reinterpret_cast<Span*>(storage_))->~Span();
    if (held_ == kHeldTrace) std::launder(reinterpret_cast<Trace*>(storage_))->~Trace();
    held_ = kHeldNone;
  }

  static constexpr size_t kStorage = sizeof(Span) > sizeof(Trace) ? sizeof(Span) : sizeof(Trace);
  alignas(Span) alignas(Trace) unsigned char storage_[kStorage];
  Held held_ = kHeldNone;
  Span* native_ = nullptr;
  internal::SpanCoreLink* link_ = nullptr;
  const internal::ThreadState* owner_ = nullptr;
  Context child_ctx_;
  uint64_t span_id_ = 0;
};

}  // namespace tokmeter::python

#endif  // TOKMETER_BINDINGS_PYTHON_SPAN_SHIM_H_
