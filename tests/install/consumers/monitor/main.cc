// tokmeter::tokmeter with its live monitor: a hard session budget of 1,000
// tokens; one span of 1,200 tokens in session s-1 crosses 50, 80 and 100 %,
// so after Flush the guard denies s-1 and still allows another session.
#include <atomic>
#include <cstdio>

#include "tokmeter/monitor.h"
#include "tokmeter/tokmeter.h"

int main() {
  std::atomic<int> called{0};
  auto monitor = tokmeter::Monitor::Create({
      .budgets = {"session=1000,hard"},
      .on_alert = [&](const tokmeter::AlertRecord&) { called.fetch_add(1); },
  });
  if (!monitor.ok()) {
    std::fprintf(stderr, "%s\n", monitor.status().ToString().c_str());
    return 1;
  }
  tokmeter::Options o;
  o.monitor = *monitor;
  auto rt = tokmeter::Runtime::Start(std::move(o));
  if (!rt.ok()) {
    std::fprintf(stderr, "%s\n", rt.status().ToString().c_str());
    return 1;
  }
  if (tokmeter::Guard("session", "s-1").denied()) return 1;  // nothing spent yet
  {
    TOK_TRACE_NAMED(trace, "session", "s-1");
    trace.Tag("session", "s-1");
    TOK_SPAN_NAMED(llm, "llm", "call");
    llm.Tag("model", "claude-sonnet-4-5");
    llm.Add(tokmeter::Counter::kInputTokens, 1200);
  }
  if (!(*rt)->Flush().ok()) return 1;
  const tokmeter::GuardResult g = tokmeter::Guard("session", "s-1");
  const bool other = tokmeter::Guard("session", "s-2").denied();
  const tokmeter::MonitorStats st = (*monitor)->stats();
  std::printf("monitor: %llu alerts, guard s-1: %s (%s), s-2 denied: %d\n",
              (unsigned long long)st.alerts, g.denied() ? "deny" : "allow", g.message().c_str(),
              int(other));
  const bool ok = g.denied() && !other && st.alerts >= 1;
  if (!(*rt)->Shutdown().ok()) return 1;
  // Callbacks run on the monitor's thread; Shutdown delivered the queued ones.
  return ok && called.load() >= 1 ? 0 : 1;
}
