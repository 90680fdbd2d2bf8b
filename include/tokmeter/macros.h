// tokmeter/macros.h — the scoped macros: one span or trace per line.
//
//   void HandleTurn(const Msg& m) {
//     TOKMETER_TRACE_NAMED(turn, "turn", m.id);        // new trace, object `turn`
//     turn.Tag("channel", m.channel);
//     TOK_SPAN("tool", "web_search");                   // child span to end of block
//     tokmeter::Current().Add(tokmeter::Counter::kToolCalls, 1);
//     tokmeter::Context ctx = tokmeter::CurrentContext();
//     std::thread([ctx] { TOK_SPAN_IN(ctx, "tool", "fetch"); }).join();  // fan-out
//   }
//
// TOKMETER_ENABLED=0 (or defining TOKMETER_DISABLED) compiles every macro
// out: arguments are still type-checked but never evaluated. The short
// TOK_* aliases go away with TOKMETER_NO_SHORT_MACROS.
#ifndef TOKMETER_MACROS_H_
#define TOKMETER_MACROS_H_

#include "tokmeter/span.h"

#if defined(TOKMETER_DISABLED) && !defined(TOKMETER_ENABLED)
#define TOKMETER_ENABLED 0
#endif
#ifndef TOKMETER_ENABLED
#define TOKMETER_ENABLED 1
#endif

namespace tokmeter::internal {
// Stand-ins for compiled-out macros: same methods, no state, no code.
struct NoopSpan {
  template <typename... A>
  constexpr NoopSpan& Add(A&&...) noexcept {
    return *this;
  }
  template <typename... A>
  constexpr NoopSpan& AddUsage(A&&...) noexcept {
    return *this;
  }
  template <typename... A>
  constexpr NoopSpan& Tag(A&&...) noexcept {
    return *this;
  }
  template <typename... A>
  constexpr NoopSpan& TraceTag(A&&...) noexcept {
    return *this;
  }
  template <typename... A>
  constexpr NoopSpan& Fingerprint(A&&...) noexcept {
    return *this;
  }
  template <typename... A>
  constexpr NoopSpan& FingerprintHash(A&&...) noexcept {
    return *this;
  }
  template <typename... A>
  constexpr NoopSpan& SetTimes(A&&...) noexcept {
    return *this;
  }
  constexpr void End() noexcept {}
  constexpr bool recording() const noexcept { return false; }
  Context context() const noexcept { return {}; }
};
// Only named in unevaluated operands: checks the macro arguments' types.
void CheckSpanArgs(std::string_view kind, std::string_view name);
void CheckSpanInArgs(const Context& ctx, std::string_view kind, std::string_view name);
}  // namespace tokmeter::internal

#define TOKMETER_INTERNAL_CONCAT_(a, b) a##b
#define TOKMETER_INTERNAL_CONCAT(a, b) TOKMETER_INTERNAL_CONCAT_(a, b)
#define TOKMETER_INTERNAL_UID(prefix) TOKMETER_INTERNAL_CONCAT(prefix, __COUNTER__)

#if TOKMETER_ENABLED

#define TOKMETER_SPAN(kind, name) \
  ::tokmeter::Span TOKMETER_INTERNAL_UID(tokmeter_internal_span_)((kind), (name))
#define TOKMETER_SPAN_NAMED(var, kind, name) ::tokmeter::Span var((kind), (name))
#define TOKMETER_SPAN_IN(ctx, kind, name) \
  ::tokmeter::Span TOKMETER_INTERNAL_UID(tokmeter_internal_span_)((ctx), (kind), (name))
#define TOKMETER_SPAN_IN_NAMED(var, ctx, kind, name) ::tokmeter::Span var((ctx), (kind), (name))
#define TOKMETER_TRACE(kind, id) \
  ::tokmeter::Trace TOKMETER_INTERNAL_UID(tokmeter_internal_trace_)((kind), (id))
#define TOKMETER_TRACE_NAMED(var, kind, id) ::tokmeter::Trace var((kind), (id))

#else  // !TOKMETER_ENABLED

#define TOKMETER_INTERNAL_CHECK(...) static_assert(sizeof(__VA_ARGS__) > 0, "")
#define TOKMETER_SPAN(kind, name) \
  TOKMETER_INTERNAL_CHECK(::tokmeter::internal::CheckSpanArgs((kind), (name)), 0)
#define TOKMETER_SPAN_NAMED(var, kind, name)                                       \
  TOKMETER_INTERNAL_CHECK(::tokmeter::internal::CheckSpanArgs((kind), (name)), 0); \
  [[maybe_unused]] ::tokmeter::internal::NoopSpan var
#define TOKMETER_SPAN_IN(ctx, kind, name) \
  TOKMETER_INTERNAL_CHECK(::tokmeter::internal::CheckSpanInArgs((ctx), (kind), (name)), 0)
#define TOKMETER_SPAN_IN_NAMED(var, ctx, kind, name)                                        \
  TOKMETER_INTERNAL_CHECK(::tokmeter::internal::CheckSpanInArgs((ctx), (kind), (name)), 0); \
  [[maybe_unused]] ::tokmeter::internal::NoopSpan var
#define TOKMETER_TRACE(kind, id) TOKMETER_SPAN(kind, id)
#define TOKMETER_TRACE_NAMED(var, kind, id) TOKMETER_SPAN_NAMED(var, kind, id)

#endif  // TOKMETER_ENABLED

#ifndef TOKMETER_NO_SHORT_MACROS
#define TOK_SPAN(kind, name) TOKMETER_SPAN(kind, name)
#define TOK_SPAN_NAMED(var, kind, name) TOKMETER_SPAN_NAMED(var, kind, name)
#define TOK_SPAN_IN(ctx, kind, name) TOKMETER_SPAN_IN(ctx, kind, name)
#define TOK_SPAN_IN_NAMED(var, ctx, kind, name) TOKMETER_SPAN_IN_NAMED(var, ctx, kind, name)
#define TOK_TRACE(kind, id) TOKMETER_TRACE(kind, id)
#define TOK_TRACE_NAMED(var, kind, id) TOKMETER_TRACE_NAMED(var, kind, id)
#endif

#endif  // TOKMETER_MACROS_H_
