// _tokmeter: the native half of the `tokmeter` Python package.
//
// Runtime control (start/flush/shutdown, GIL released while draining), spans
// and traces whose parent is carried by a contextvars.ContextVar (so asyncio
// tasks and threads keep their trace, span_object.cc), the sinks and the
// mailbox to Python (sinks.cc), usage extraction, the httpx transport's
// recorder (provider_call.cc), and the analysis command line.
#include <Python.h>
#include <pthread.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bindings/python/provider_call.h"
#include "bindings/python/sinks.h"
#include "bindings/python/span_object.h"
#include "tokmeter/monitor.h"
#include "tokmeter/tokmeter.h"
#include "tokmeter/usage.h"

#ifdef TOKMETER_PYTHON_HAVE_CLI
#include "src/cli/cli.h"
#endif

namespace py = pybind11;

namespace tokmeter::python {
namespace {

// ------------------------------------------------------------------ runtime

struct RuntimeHolder {
  std::mutex mu;
  std::unique_ptr<Runtime> runtime;  // kept (stopped) after shutdown so memory() still reads
  BuiltSinks built;                  // views into `runtime`'s sinks
  std::shared_ptr<Monitor> monitor;  // while running, and for its stats until the next start
};
// Leaked on purpose: no static destructor runs after the interpreter is gone.
RuntimeHolder& Holder() {
  static auto* h = new RuntimeHolder;
  return *h;
}

// ------------------------------------------------------------------ monitor

// A Python callable kept by C++ code that may drop it without the GIL.
struct PyRef {
  PyObject* obj;
  explicit PyRef(py::handle h) : obj(h.inc_ref().ptr()) {}
  PyRef(const PyRef&) = delete;
  ~PyRef() {
    py::gil_scoped_acquire gil;
    Py_DECREF(obj);
  }
};

std::string Hex(const TraceId& id) { return id.valid() ? id.ToHex() : std::string(); }

py::dict AlertDict(const AlertRecord& a) {
  const Finding& f = a.finding;
  py::dict d;
  d["time_unix_ns"] = a.time_unix_ns;
  d["rule"] = f.kind;
  d["severity"] = std::string(SeverityName(f.severity));
  d["subject"] = f.subject;
  py::dict keys;
  for (const auto& [k, v] : f.keys) keys[py::str(k)] = v;
  d["keys"] = keys;
  py::dict evidence;
  for (const auto& [k, v] : f.evidence) evidence[py::str(k)] = v;
  d["evidence"] = evidence;
  const std::string_view budget = f.Key("budget");
  d["budget"] = budget.empty() ? py::object(py::none()) : py::object(py::str(std::string(budget)));
  const double threshold = f.Evidence("threshold");
  d["threshold"] =
      threshold == threshold ? py::object(py::float_(threshold)) : py::object(py::none());
  d["tokens"] = f.tokens;
  d["condition"] = f.rule;
  d["message"] = f.recommendation;
  d["trace_id"] = Hex(a.trace_id);
  d["span_id"] = a.span_id != 0 ? SpanIdToHex(a.span_id) : std::string();
  return d;
}

template <typename T>
std::optional<T> Opt(const py::dict& d, const char* key) {
  if (!d.contains(key) || d[key].is_none()) return std::nullopt;
  try {
    return d[key].cast<T>();
  } catch (const py::cast_error&) {
    throw py::type_error(std::string("monitor: bad type for '") + key + "'");
  }
}

// MonitorOptions from the dict tokmeter.start(monitor=...) passes; on_alert
// runs on the monitor's callback thread, which takes the GIL for it (never
// the flusher: the monitor only queues alerts there).
std::shared_ptr<Monitor> MakeMonitor(const py::dict& d) {
  static const char* const kKnown[] = {
      "budgets",      "time_zone",      "pricing_file",  "rules",         "window",
      "loop_repeats", "deny_on_loop",   "loop_cooldown", "deny_on_storm", "warn_share",
      "on_alert",     "callback_queue", "guard_slots",   "retain"};
  for (auto item : d) {
    const std::string k = py::str(item.first);
    bool known = false;
    for (const char* n : kKnown) known |= k == n;
    if (!known) throw py::value_error("monitor: unknown option '" + k + "'");
  }
  MonitorOptions mo;
  if (auto v = Opt<std::vector<std::string>>(d, "budgets")) mo.budgets = *v;
  if (auto v = Opt<std::string>(d, "time_zone")) mo.time_zone = *v;
  if (auto v = Opt<std::string>(d, "pricing_file")) mo.pricing_file = *v;
  if (auto v = Opt<bool>(d, "rules")) mo.rules = *v;
  auto seconds = [](double s) { return std::chrono::seconds(static_cast<int64_t>(s)); };
  if (auto v = Opt<double>(d, "window")) mo.window = seconds(*v);
  if (auto v = Opt<int>(d, "loop_repeats")) mo.loop_repeats = *v;
  if (auto v = Opt<bool>(d, "deny_on_loop")) mo.deny_on_loop = *v;
  if (auto v = Opt<double>(d, "loop_cooldown")) mo.loop_cooldown = seconds(*v);
  if (auto v = Opt<bool>(d, "deny_on_storm")) mo.deny_on_storm = *v;
  if (auto v = Opt<double>(d, "warn_share")) mo.warn_share = *v;
  if (auto v = Opt<size_t>(d, "callback_queue")) mo.callback_queue = *v;
  if (auto v = Opt<size_t>(d, "guard_slots")) mo.guard_slots = *v;
  if (auto v = Opt<double>(d, "retain"))
    mo.retain = std::chrono::hours(std::max<int64_t>(1, static_cast<int64_t>(*v / 3600)));
  if (d.contains("on_alert") && !d["on_alert"].is_none()) {
    py::object fn = d["on_alert"];
    if (!PyCallable_Check(fn.ptr())) throw py::type_error("monitor: on_alert must be callable");
    auto ref = std::make_shared<PyRef>(fn);
    mo.on_alert = [ref](const AlertRecord& a) {
      py::gil_scoped_acquire gil;
      try {
        py::handle(ref->obj)(AlertDict(a));
      } catch (py::error_already_set& e) {
        // Counted by the monitor (callback_errors); reported like a sink error.
        std::string what = e.what();
        PostError("on_alert", "on_alert raised " + what);
        throw std::runtime_error(what);
      }
    };
  }
  absl::StatusOr<std::shared_ptr<Monitor>> m = Monitor::Create(std::move(mo));
  ThrowIfError(m.status());
  return *std::move(m);
}

py::dict MonitorStatsDict() {
  std::shared_ptr<Monitor> m;
  {
    RuntimeHolder& h = Holder();
    std::lock_guard<std::mutex> lock(h.mu);
    m = h.monitor;
  }
  py::dict d;
  if (m == nullptr) return d;
  const MonitorStats st = m->stats();
  d["observed"] = st.observed;
  d["alerts"] = st.alerts;
  d["callbacks"] = st.callbacks;
  d["callback_errors"] = st.callback_errors;
  d["callbacks_dropped"] = st.callbacks_dropped;
  d["guard_table_full"] = st.guard_table_full;
  d["process_errors"] = st.process_errors;
  return d;
}

py::tuple GuardTuple(const GuardResult& g) {
  const char* verdict = g.verdict == Verdict::kDeny   ? "deny"
                        : g.verdict == Verdict::kWarn ? "warn"
                                                      : "allow";
  const char* reason = g.reason == GuardResult::Reason::kBudget  ? "budget"
                       : g.reason == GuardResult::Reason::kLoop  ? "loop"
                       : g.reason == GuardResult::Reason::kStorm ? "storm"
                                                                 : "";
  return py::make_tuple(verdict, reason, g.message(), g.budget);
}

// The worst verdict over the scopes asked for (each also includes the
// all-traffic verdict); with no scope, all traffic only.
py::tuple PyGuard(const std::vector<std::pair<std::string, std::string>>& scopes) {
  if (scopes.empty()) return GuardTuple(Guard());
  GuardResult worst;
  bool first = true;
  for (const auto& [k, v] : scopes) {
    GuardResult g = Guard(k, v);
    if (first || int(g.verdict) > int(worst.verdict)) {
      // message() reads key and value: keep them alive as `scopes` is.
      worst = g;
      first = false;
    }
  }
  return GuardTuple(worst);
}

void PyStart(py::list sinks, double flush_interval, size_t ring_bytes, double high_water,
             bool block_when_full, py::object monitor) {
  Options opts;
  if (!(flush_interval > 0)) throw py::value_error("flush_interval must be positive (seconds)");
  if (!(high_water > 0 && high_water <= 1))
    throw py::value_error("high_water is a fraction of the ring: 0 < high_water <= 1");
  opts.flush_interval =
      std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(flush_interval * 1000)));
  opts.ring_bytes = ring_bytes;
  opts.high_water = high_water;
  opts.full_ring = block_when_full ? FullRingPolicy::kBlock : FullRingPolicy::kDrop;
  RuntimeHolder& h = Holder();
  // Refused before any sink opens a file or starts a thread.
  if (IsRecording()) throw std::runtime_error("tokmeter is already running; call shutdown() first");
  ResetMailbox();
  std::shared_ptr<Monitor> mon;
  if (!monitor.is_none()) {
    mon = MakeMonitor(monitor.cast<py::dict>());
    opts.monitor = mon;
  }
  BuiltSinks built = BuildSinks(sinks, opts);
  absl::Status status;
  {
    // The GIL is never taken while h.mu is held (other threads wait on h.mu
    // with the GIL).
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(h.mu);
    if (h.runtime != nullptr && IsRecording()) {
      status = absl::FailedPreconditionError("tokmeter is already running; call shutdown() first");
    } else {
      h.built = {};
      h.runtime.reset();  // the previous, stopped runtime: releases its sinks
      h.monitor.reset();
      absl::StatusOr<std::unique_ptr<Runtime>> rt = Runtime::Start(std::move(opts));
      if (rt.ok()) {
        h.runtime = std::move(*rt);
        h.built = built;
        h.monitor = mon;
      } else {
        status = rt.status();
      }
    }
  }
  ThrowIfError(status);
  ResetNotRecordingWarning();
  // Registered after the core's own fork handlers, so that at fork time this
  // prepare handler runs first: no thread is inside Flush/Shutdown holding
  // h.mu when the process forks, and the child can use h.mu.
  static std::once_flag fork_once;
  std::call_once(fork_once, [] {
    pthread_atfork([] { Holder().mu.lock(); }, [] { Holder().mu.unlock(); },
                   [] { Holder().mu.unlock(); });
  });
}

// Sink errors are not raised here: each one was posted to the mailbox,
// which Python delivers to on_error (or as a warning) right after.
void PyFlush() {
  py::gil_scoped_release nogil;
  RuntimeHolder& h = Holder();
  std::lock_guard<std::mutex> lock(h.mu);
  if (h.runtime != nullptr) (void)h.runtime->Flush();
}

void PyShutdown() {
  py::gil_scoped_release nogil;
  RuntimeHolder& h = Holder();
  std::shared_ptr<Monitor> monitor;
  {
    std::lock_guard<std::mutex> lock(h.mu);
    if (h.runtime != nullptr) (void)h.runtime->Shutdown();
    monitor = h.monitor;
  }
  // The alerts still queued reach on_alert before shutdown returns (the
  // callback thread takes the GIL, released here). The holder keeps the
  // monitor for its stats.
  if (monitor != nullptr) monitor->FinishCallbacks();
}

py::dict StatsDict() {
  tokmeter::Stats st;
  {
    RuntimeHolder& h = Holder();
    std::lock_guard<std::mutex> lock(h.mu);
    if (h.runtime != nullptr) st = h.runtime->stats();
  }
  py::dict d;
  d["spans"] = st.spans;
  d["traces"] = st.traces;
  d["rollups"] = st.rollups;
  d["dropped"] = st.dropped;
  d["threads"] = st.threads;
  d["threads_live"] = st.threads_live;
  d["flushes"] = st.flushes;
  d["sink_errors"] = st.sink_errors;
  d["bytes_drained"] = st.bytes_drained;
  d["flusher_buffer_bytes"] = st.flusher_buffer_bytes;
  OtlpHttpSink* otlp;
  {
    RuntimeHolder& h = Holder();
    std::lock_guard<std::mutex> lock(h.mu);
    otlp = h.built.otlp;
  }
  if (otlp != nullptr) d["otlp"] = OtlpStatsDict(otlp);
  return d;
}

py::object TagValue(const OwnedTag& t) {
  switch (t.type) {
    case TagType::kInt:
      return py::int_(t.num);
    case TagType::kBool:
      return py::bool_(t.num != 0);
    case TagType::kString:
      break;
  }
  return py::str(t.str);
}

py::dict SpanDict(const OwnedSpan& s) {
  py::dict d;
  d["trace_id"] = s.trace_id.ToHex();
  d["span_id"] = SpanIdToHex(s.span_id);
  d["parent_id"] = s.parent_id != 0 ? py::object(py::str(SpanIdToHex(s.parent_id))) : py::none();
  d["kind"] = s.kind;
  d["name"] = s.name;
  d["start_unix_ns"] = s.start_unix_ns;
  d["end_unix_ns"] = s.end_unix_ns;
  d["thread_id"] = s.thread_id;
  d["is_trace_root"] = s.is_trace_root;
  d["fingerprint"] = s.has_fingerprint ? py::object(py::int_(s.fingerprint)) : py::none();
  py::dict counters;
  for (int i = 0; i < kNumCounters; ++i) {
    if (s.counters.has(static_cast<Counter>(i))) {
      counters[py::str(std::string(kCounterNames[i]))] = s.counters.values[i];
    }
  }
  for (const auto& [name, v] : s.user_counters) counters[py::str(name)] = v;
  d["counters"] = counters;
  py::dict tags;
  for (const OwnedTag& t : s.tags) tags[py::str(t.key)] = TagValue(t);
  d["tags"] = tags;
  py::dict trace_tags;
  for (const OwnedTag& t : s.trace_tags) trace_tags[py::str(t.key)] = TagValue(t);
  d["trace_tags"] = trace_tags;
  return d;
}

py::list MemorySpans() {
  std::vector<OwnedSpan> spans;
  {
    RuntimeHolder& h = Holder();
    std::lock_guard<std::mutex> lock(h.mu);
    if (h.built.memory == nullptr) {
      throw std::runtime_error("no memory sink: start(memory=True)");
    }
    spans = h.built.memory->spans();
  }
  py::list out;
  for (const OwnedSpan& s : spans) out.append(SpanDict(s));
  return out;
}

// ---------------------------------------------------------------- contexts

std::string_view ViewOf(const py::handle& o, const char* what) {
  if (PyUnicode_Check(o.ptr())) {
    Py_ssize_t n;
    const char* p = PyUnicode_AsUTF8AndSize(o.ptr(), &n);
    if (p == nullptr) throw py::error_already_set();
    return {p, static_cast<size_t>(n)};
  }
  if (PyBytes_Check(o.ptr())) {
    return {PyBytes_AS_STRING(o.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(o.ptr()))};
  }
  if (PyByteArray_Check(o.ptr())) {
    return {PyByteArray_AS_STRING(o.ptr()), static_cast<size_t>(PyByteArray_GET_SIZE(o.ptr()))};
  }
  throw py::type_error(std::string(what) + " must be str, bytes or bytearray");
}

// ------------------------------------------------------------------- usage

py::object Opt(const std::optional<int64_t>& v) {
  return v ? py::object(py::int_(*v)) : py::object(py::none());
}

py::dict UsageDict(const ParsedUsage& u) {
  py::dict d;
  d["provider"] = ProviderName(u.provider);
  d["api"] = ProviderApiName(u.provider);
  d["model"] = u.model;
  d["response_id"] = u.response_id;
  d["request_id"] = u.request_id;
  d["stop_reason"] = u.stop_reason;
  d["streaming"] = u.streaming;
  d["found"] = u.found;
  d["partial"] = u.partial;
  d["ttl_unknown"] = u.ttl_unknown;
  ForEachNamedBucket(u.usage, [&d](std::string_view name, int64_t v) {
    d[py::str(name.data(), name.size())] = v;
  });
  d["anomalies"] = u.anomalies;
  d["anomaly_flags"] = u.anomaly_flags;
  d["events"] = u.events;
  d["bad_payloads"] = u.bad_payloads;
  const RawUsage& r = u.raw;
  py::dict raw;
  auto put = [&raw](const char* k, const std::optional<int64_t>& v) {
    if (v) raw[k] = *v;
  };
  put("input_tokens", r.input_tokens);
  put("output_tokens", r.output_tokens);
  put("cache_creation_input_tokens", r.cache_creation_input_tokens);
  put("cache_read_input_tokens", r.cache_read_input_tokens);
  put("ephemeral_5m_input_tokens", r.ephemeral_5m_input_tokens);
  put("ephemeral_1h_input_tokens", r.ephemeral_1h_input_tokens);
  put("thinking_tokens", r.thinking_tokens);
  put("web_search_requests", r.web_search_requests);
  put("web_fetch_requests", r.web_fetch_requests);
  put("prompt_tokens", r.prompt_tokens);
  put("completion_tokens", r.completion_tokens);
  put("cached_tokens", r.cached_tokens);
  put("reasoning_tokens", r.reasoning_tokens);
  put("total_tokens", r.total_tokens);
  put("promptTokenCount", r.prompt_token_count);
  put("cachedContentTokenCount", r.cached_content_token_count);
  put("candidatesTokenCount", r.candidates_token_count);
  put("thoughtsTokenCount", r.thoughts_token_count);
  put("toolUsePromptTokenCount", r.tool_use_prompt_token_count);
  put("totalTokenCount", r.total_token_count);
  if (!r.service_tier.empty()) raw["service_tier"] = r.service_tier;
  d["raw"] = raw;
  if (u.error) {
    py::dict e;
    e["type"] = u.error->type;
    e["code"] = u.error->code;
    e["message"] = u.error->message;
    e["rate_limited"] = u.error->rate_limited;
    e["overloaded"] = u.error->overloaded;
    e["quota_exhausted"] = u.error->quota_exhausted;
    e["retryable"] = u.error->retryable;
    d["error"] = e;
  } else {
    d["error"] = py::none();
  }
  py::dict rl;
  rl["status"] = u.rate_limit.status;
  rl["retry_after_ms"] = Opt(u.rate_limit.retry_after_ms);
  py::dict windows;
  for (const RateLimitWindow& w : u.rate_limit.windows) {
    py::dict wd;
    wd["limit"] = Opt(w.limit);
    wd["remaining"] = Opt(w.remaining);
    wd["reset_after_ms"] = Opt(w.reset_after_ms);
    wd["reset_unix_ms"] = Opt(w.reset_unix_ms);
    windows[py::str(w.name)] = wd;
  }
  rl["windows"] = windows;
  d["rate_limit"] = rl;
  return d;
}

std::vector<std::pair<std::string, std::string>> HeaderPairs(py::handle headers) {
  std::vector<std::pair<std::string, std::string>> out;
  if (headers.is_none()) return out;
  py::object items = py::hasattr(headers, "items") ? headers.attr("items")()
                                                   : py::reinterpret_borrow<py::object>(headers);
  for (py::handle kv : items) {
    py::tuple t = py::reinterpret_borrow<py::object>(kv).cast<py::tuple>();
    if (t.size() != 2) throw py::value_error("headers must be (name, value) pairs");
    out.emplace_back(py::str(t[0]).cast<std::string>(), py::str(t[1]).cast<std::string>());
  }
  return out;
}

void ApplyHttp(ParsedUsage& u, std::optional<int> status, py::handle headers) {
  if (!status && headers.is_none()) return;
  std::vector<std::pair<std::string, std::string>> pairs = HeaderPairs(headers);
  std::vector<HeaderView> views;
  views.reserve(pairs.size());
  for (const auto& [k, v] : pairs) views.emplace_back(k, v);
  ApplyHttpResponse(u, status.value_or(0), views);
}

ParsedUsage ParseBodyObject(py::handle body, std::optional<std::string> provider,
                            std::optional<int> status, py::handle headers) {
  Provider hint = ProviderFromString(provider);
  std::string dumped;
  std::string_view text;
  if (PyDict_Check(body.ptr()) || PyList_Check(body.ptr())) {
    dumped = py::module_::import("json").attr("dumps")(body).cast<std::string>();
    text = dumped;
  } else {
    text = ViewOf(body, "response");
  }
  absl::StatusOr<ParsedUsage> u = ParseUsageBody(text, hint);
  ThrowIfError(u.status());
  ApplyHttp(*u, status, headers);
  return std::move(*u);
}

// An SSE stream fed chunk by chunk.
class PyUsageStream {
 public:
  explicit PyUsageStream(std::optional<std::string> provider)
      : parser_(ProviderFromString(provider)) {}
  void Feed(py::handle chunk) {
    std::string_view v = ViewOf(chunk, "chunk");
    if (v.size() >= (64 << 10)) {
      py::gil_scoped_release nogil;
      parser_.Feed(v);
    } else {
      parser_.Feed(v);
    }
  }
  ParsedUsage Finish(std::optional<int> status, py::handle headers) {
    ParsedUsage u = parser_.Finish();
    ApplyHttp(u, status, headers);
    return u;
  }
  ParsedUsage Result() { return parser_.result(); }
  bool complete() const { return parser_.complete(); }

 private:
  UsageStreamParser parser_;
};

// --------------------------------------------------------------------- cli

py::tuple RunCli(const std::vector<std::string>& args) {
#ifdef TOKMETER_PYTHON_HAVE_CLI
  std::ostringstream out, err;
  int code;
  {
    py::gil_scoped_release nogil;
    code = tokmeter::cli::Run(args, out, err);
  }
  return py::make_tuple(code, py::bytes(out.str()), py::bytes(err.str()));
#else
  (void)args;
  throw std::runtime_error("this _tokmeter was built without the tokmeter command (tokmeter_cli)");
#endif
}

// The command exactly as the `tokmeter` executable runs it: on the process's
// own stdout and stderr, so a terminal gets tables (and whatever else the
// command does on a terminal).
int RunCliStdio(const std::vector<std::string>& args) {
#ifdef TOKMETER_PYTHON_HAVE_CLI
  py::gil_scoped_release nogil;
  int code = tokmeter::cli::Run(args, std::cout, std::cerr);
  std::cout.flush();
  std::cerr.flush();
  return code;
#else
  (void)args;
  throw std::runtime_error("this _tokmeter was built without the tokmeter command (tokmeter_cli)");
#endif
}

}  // namespace

const TraceContextRef* AsTraceContext(PyObject* o) {
  try {
    return py::handle(o).cast<const TraceContextRef*>();
  } catch (const py::cast_error&) {
    PyErr_Format(PyExc_TypeError, "parent must be a tokmeter.Span or tokmeter.Context, got %.100s",
                 Py_TYPE(o)->tp_name);
    return nullptr;
  }
}

bool RecordUsageFromPython(Span& span, PyObject* usage) {
  try {
    const ParsedUsage& u = py::handle(usage).cast<const ParsedUsage&>();
    RecordUsage(span, u);
    return true;
  } catch (const py::cast_error&) {
    PyErr_Format(PyExc_TypeError, "record_usage needs a tokmeter.Usage, got %.100s",
                 Py_TYPE(usage)->tp_name);
    return false;
  }
}

PyObject* NewTraceContext(const Context& ctx) {
  try {
    return py::cast(TraceContextRef{ctx}).release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  }
}

}  // namespace tokmeter::python

PYBIND11_MODULE(_tokmeter, m) {
  using namespace tokmeter;
  using namespace tokmeter::python;
  m.doc() = "tokmeter native module (use the `tokmeter` package)";

  if (!AddSpanType(m.ptr())) throw py::error_already_set();

#ifdef TOKMETER_PYTHON_HAVE_CLI
  m.attr("has_cli") = true;
#else
  m.attr("has_cli") = false;
#endif

  m.def("start", &PyStart, py::arg("sinks"), py::arg("flush_interval") = 0.2,
        py::arg("ring_bytes") = size_t{1} << 20, py::arg("high_water") = 0.25,
        py::arg("block_when_full") = false, py::arg("monitor") = py::none(),
        "Starts recording to the sinks: a list of (kind, options dict) (use tokmeter.start).");
  m.def("guard", &PyGuard, py::arg("scopes"),
        "The monitor's verdict for [(key, value), ...] (worst of them; [] = all traffic): "
        "(verdict, reason, message, budget).");
  m.def("monitor_stats", &MonitorStatsDict, "The running (or last) monitor's counters.");
  m.def("flush", &PyFlush, "Drains every ring into the sinks (GIL released).");
  m.def("shutdown", &PyShutdown,
        "Stops recording, drains, closes sinks. Idempotent (GIL released).");
  m.def("is_recording", &IsRecording);
  m.def("stats", &StatsDict);
  m.def("memory_spans", &MemorySpans, "Spans the memory sink holds, as dicts.");

  py::class_<TraceContextRef>(m, "Context")
      .def_property_readonly("trace_id",
                             [](const TraceContextRef& c) { return c.ctx.trace.ToHex(); })
      .def_property_readonly("span_id",
                             [](const TraceContextRef& c) { return SpanIdToHex(c.ctx.span_id); })
      .def_property_readonly("turn_id",
                             [](const TraceContextRef& c) {
                               return c.ctx.turn_id
                                          ? py::object(py::str(SpanIdToHex(c.ctx.turn_id)))
                                          : py::object(py::none());
                             })
      .def_property_readonly("valid", [](const TraceContextRef& c) { return c.ctx.valid(); })
      .def("__repr__", [](const TraceContextRef& c) {
        return "Context(trace_id=" + c.ctx.trace.ToHex() +
               ", span_id=" + SpanIdToHex(c.ctx.span_id) + ")";
      });

  py::class_<ParsedUsage>(m, "Usage")
      .def_property_readonly("provider",
                             [](const ParsedUsage& u) { return ProviderName(u.provider); })
      .def_property_readonly("model", [](const ParsedUsage& u) { return u.model; })
      .def_property_readonly("partial", [](const ParsedUsage& u) { return u.partial; })
      .def_property_readonly("found", [](const ParsedUsage& u) { return u.found; })
      .def_property_readonly("input_tokens", [](const ParsedUsage& u) { return u.usage.input; })
      .def_property_readonly("cache_read_tokens",
                             [](const ParsedUsage& u) { return u.usage.cache_read; })
      .def_property_readonly("cache_write_tokens",
                             [](const ParsedUsage& u) { return u.usage.cache_write(); })
      .def_property_readonly("output_tokens", [](const ParsedUsage& u) { return u.usage.output; })
      .def_property_readonly("reasoning_tokens",
                             [](const ParsedUsage& u) { return u.usage.reasoning; })
      .def("to_dict", &UsageDict)
      .def("__repr__", [](const ParsedUsage& u) {
        return "Usage(provider=" + std::string(ProviderName(u.provider)) + ", model=" + u.model +
               ", input=" + std::to_string(u.usage.input) +
               ", cache_read=" + std::to_string(u.usage.cache_read) +
               ", cache_write=" + std::to_string(u.usage.cache_write()) +
               ", output=" + std::to_string(u.usage.output) + (u.partial ? ", partial" : "") + ")";
      });

  m.def("parse_usage", &ParseBodyObject, py::arg("body"), py::arg("provider") = py::none(),
        py::arg("status") = py::none(), py::arg("headers") = py::none(),
        "Usage from a whole response: a dict/list, JSON text or bytes. ValueError if not JSON.");

  py::class_<PyUsageStream>(m, "UsageStream")
      .def(py::init<std::optional<std::string>>(), py::arg("provider") = py::none())
      .def("feed", &PyUsageStream::Feed, py::arg("chunk"), "Feeds the next bytes of an SSE stream.")
      .def("finish", &PyUsageStream::Finish, py::arg("status") = py::none(),
           py::arg("headers") = py::none())
      .def("result", &PyUsageStream::Result)
      .def_property_readonly("complete", &PyUsageStream::complete);

  m.def("run_cli", &RunCli, py::arg("args"),
        "Runs the tokmeter command line; returns (exit code, stdout bytes, stderr bytes).");
  m.def("run_cli_stdio", &RunCliStdio, py::arg("args"),
        "Runs the tokmeter command line on the process's stdout/stderr; returns the exit code.");
  m.def(
      "warn_not_recording",
      [](const char* what) {
        if (!WarnNotRecording(what)) throw py::error_already_set();
      },
      py::arg("what"), "Warns once (until the next start) that `what` was not recorded.");
  AddMailboxFunctions(m);
  AddProviderCall(m);
}
