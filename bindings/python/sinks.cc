#include "bindings/python/sinks.h"

#include <Python.h>
#include <pthread.h>
#include <pybind11/stl.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tokmeter/sinks.h"

#ifdef TOKMETER_PYTHON_HAVE_PROTO
#include "tokmeter/otlp.h"
#include "tokmeter/proto_sink.h"
#endif

namespace py = pybind11;

namespace tokmeter::python {
namespace {

// ------------------------------------------------------------------ mailbox

struct MailItem {
  bool error = false;  // false: JSONL records for the callback
  std::string source;  // the sink that failed (errors)
  std::string text;    // JSONL lines, or the error message
  int64_t records = 0;
};

// Errors kept for Python at most; more are counted (a sink failing on every
// pass must not grow memory while Python is busy).
constexpr size_t kMaxQueuedErrors = 1000;

struct Mailbox {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<MailItem> items;                  // guarded by mu
  size_t record_bytes = 0;                     // guarded by mu: bytes of record items queued
  size_t max_record_bytes = size_t{64} << 20;  // guarded by mu
  size_t errors_queued = 0;                    // guarded by mu
  uint64_t records_dropped = 0;                // guarded by mu
  uint64_t errors_dropped = 0;                 // guarded by mu
  bool closed = false;  // guarded by mu: mailbox_close() until the next start
};

// Leaked on purpose: flusher and exporter threads may post during interpreter
// exit, after static destructors would have run.
Mailbox& Box() {
  static Mailbox* box = [] {
    auto* b = new Mailbox;
    // In a fork child only the forking thread exists; a thread of the parent
    // (the dispatcher between its wait and its take) may have held `mu`, so
    // the child gets a fresh one. What the parent had queued is the parent's
    // to deliver. No prepare handler: taking `mu` before the core's handlers
    // take the flusher's pass lock would invert the order a sink writing
    // under that lock uses.
    pthread_atfork(nullptr, nullptr, [] {
      Mailbox& m = Box();
      new (&m.mu) std::mutex;
      new (&m.cv) std::condition_variable;
      m.items.clear();
      m.record_bytes = 0;
      m.errors_queued = 0;
    });
    return b;
  }();
  return *box;
}

}  // namespace

void PostError(std::string_view source, std::string message) {
  Mailbox& m = Box();
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.errors_queued >= kMaxQueuedErrors) {
      ++m.errors_dropped;
      return;
    }
    ++m.errors_queued;
    m.items.push_back(MailItem{true, std::string(source), std::move(message), 0});
  }
  m.cv.notify_all();
}

namespace {

// The Python callback sink: formats each batch as JSONL (the file sink's
// exact lines) and posts it; Python parses and delivers the lines.
class PyCallbackSink : public Sink {
 public:
  std::string_view name() const override { return "callback"; }
  absl::Status Write(const Batch& batch) override {
    if (batch.empty()) return absl::OkStatus();
    std::string text;
    AppendJsonl(batch, text);
    int64_t lines = 0;
    for (const char* p = text.data();
         (p = static_cast<const char*>(std::memchr(p, '\n', text.size() - (p - text.data())))) !=
         nullptr;
         ++p)
      ++lines;
    Mailbox& m = Box();
    size_t limit;
    {
      std::lock_guard<std::mutex> lock(m.mu);
      limit = m.max_record_bytes;
      if (m.record_bytes + text.size() > m.max_record_bytes) {
        m.records_dropped += static_cast<uint64_t>(lines);
      } else {
        m.record_bytes += text.size();
        m.items.push_back(MailItem{false, "", std::move(text), lines});
        limit = 0;
      }
    }
    if (limit != 0) {
      return absl::ResourceExhaustedError(
          absl::StrCat("callback: ", lines, " records dropped: more than ", limit >> 20,
                       " MiB already wait for the Python callback (raise max_queue_bytes or make "
                       "the callback faster)"));
    }
    m.cv.notify_all();
    return absl::OkStatus();
  }
};

// ------------------------------------------------------------- spec reading

template <typename T>
T Get(const py::dict& d, const char* key, T fallback) {
  if (!d.contains(key)) return fallback;
  py::object v = d[key];
  if (v.is_none()) return fallback;
  try {
    return v.cast<T>();
  } catch (const py::cast_error&) {
    throw py::type_error(absl::StrCat("sink option '", key, "' has the wrong type (",
                                      py::str(py::type::of(v)).cast<std::string>(), ")"));
  }
}

std::chrono::milliseconds Ms(const py::dict& d, const char* key, std::chrono::milliseconds def) {
  return std::chrono::milliseconds(Get<int64_t>(d, key, def.count()));
}

std::vector<std::pair<std::string, std::string>> Pairs(const py::dict& d, const char* key) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!d.contains(key) || d[key].is_none()) return out;
  py::object v = d[key];
  py::object items = py::hasattr(v, "items") ? v.attr("items")() : v;
  for (py::handle kv : items) {
    auto t = py::reinterpret_borrow<py::object>(kv).cast<py::tuple>();
    if (t.size() != 2) throw py::value_error(absl::StrCat("sink option '", key, "': pairs"));
    out.emplace_back(t[0].cast<std::string>(), t[1].cast<std::string>());
  }
  return out;
}

[[noreturn]] void RaiseOsError(PyObject* type, int err, const std::string& message,
                               const std::string& path) {
  py::object args =
      path.empty() ? py::make_tuple(err, message) : py::make_tuple(err, message, py::str(path));
  PyErr_SetObject(type, args.ptr());
  throw py::error_already_set();
}

}  // namespace

void ThrowIfError(const absl::Status& s, const std::string& path) {
  if (s.ok()) return;
  const std::string message(s.message());
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      throw py::value_error(message);
    case absl::StatusCode::kNotFound:
      RaiseOsError(PyExc_FileNotFoundError, ENOENT, message, path);
    case absl::StatusCode::kPermissionDenied:
      RaiseOsError(PyExc_PermissionError, EACCES, message, path);
    case absl::StatusCode::kAlreadyExists:
      RaiseOsError(PyExc_FileExistsError, EEXIST, message, path);
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDataLoss:
      // The file sinks' open, write and close failures.
      RaiseOsError(PyExc_OSError, EIO, message, path);
    case absl::StatusCode::kFailedPrecondition:
      // For a file: it exists and is not what the sink writes.
      if (!path.empty()) throw py::value_error(message);
      break;
    default:
      break;
  }
  throw std::runtime_error(s.ToString());
}

void ResetMailbox() {
  Mailbox& m = Box();
  std::lock_guard<std::mutex> lock(m.mu);
  m.items.clear();
  m.record_bytes = 0;
  m.errors_queued = 0;
  m.records_dropped = 0;
  m.errors_dropped = 0;
  m.closed = false;
}

namespace {

// A file sink (JSONL or protobuf: their options have the same fields) from
// its dict, added to opts.sinks; an error opening it names the path.
template <typename FileSinkOptions, typename MakeFn>
void AddFileSink(const py::dict& d, MakeFn make, Options& opts) {
  FileSinkOptions o;
  o.path = Get<std::string>(d, "path", "");
  o.max_bytes = Get<uint64_t>(d, "max_bytes", o.max_bytes);
  o.max_files = Get<int>(d, "max_files", o.max_files);
  o.max_pending_bytes = Get<size_t>(d, "max_pending_bytes", o.max_pending_bytes);
  o.preallocate_bytes = Get<uint64_t>(d, "preallocate_bytes", o.preallocate_bytes);
  const std::string path = o.path;
  absl::StatusOr<std::unique_ptr<Sink>> s = make(std::move(o));
  ThrowIfError(s.status(), path);
  opts.sinks.push_back(std::move(*s));
}

}  // namespace

BuiltSinks BuildSinks(py::list specs, Options& opts) {
  BuiltSinks built;
  for (py::handle h : specs) {
    auto spec = py::reinterpret_borrow<py::object>(h).cast<py::tuple>();
    const std::string kind = spec[0].cast<std::string>();
    const py::dict d = spec[1].cast<py::dict>();
    if (kind == "jsonl") {
      AddFileSink<JsonlSinkOptions>(d, MakeJsonlSink, opts);
    } else if (kind == "protobuf" || kind == "otlp") {
#ifdef TOKMETER_PYTHON_HAVE_PROTO
      if (kind == "protobuf") {
        AddFileSink<ProtobufSinkOptions>(d, MakeProtobufSink, opts);
      } else {
        if (built.otlp != nullptr) throw py::value_error("start(): one OTLP sink at most");
        OtlpOptions o;
        o.endpoint = Get<std::string>(d, "endpoint", o.endpoint);
        o.headers = Pairs(d, "headers");
        o.service_name = Get<std::string>(d, "service_name", o.service_name);
        o.resource_attributes = Pairs(d, "resource_attributes");
        o.gzip = Get<bool>(d, "gzip", o.gzip);
        o.timeout = Ms(d, "timeout_ms", o.timeout);
        o.max_batch_spans = Get<size_t>(d, "max_batch_spans", o.max_batch_spans);
        o.max_queue_spans = Get<size_t>(d, "max_queue_spans", o.max_queue_spans);
        o.max_retries = Get<int>(d, "max_retries", o.max_retries);
        o.initial_backoff = Ms(d, "initial_backoff_ms", o.initial_backoff);
        o.max_backoff = Ms(d, "max_backoff_ms", o.max_backoff);
        o.max_retry_after = Ms(d, "max_retry_after_ms", o.max_retry_after);
        o.close_timeout = Ms(d, "close_timeout_ms", o.close_timeout);
        o.flush_timeout = Ms(d, "flush_timeout_ms", o.flush_timeout);
        o.ca_file = Get<std::string>(d, "ca_file", o.ca_file);
        o.insecure_skip_verify = Get<bool>(d, "insecure_skip_verify", o.insecure_skip_verify);
        if (Get<bool>(d, "from_env", false)) o = OtlpOptions::FromEnv(std::move(o));
        std::string source = "otlp:" + (o.traces_url.empty() ? o.endpoint : o.traces_url);
        o.on_error = [source](const absl::Status& st) { PostError(source, st.ToString()); };
        absl::StatusOr<std::unique_ptr<OtlpHttpSink>> s = MakeOtlpHttpSink(std::move(o));
        ThrowIfError(s.status());
        built.otlp = s->get();
        opts.sinks.push_back(std::move(*s));
      }
#else
      throw py::value_error(absl::StrCat("start(): this _tokmeter was built without protobuf, so ",
                                         kind, " sinks are not available"));
#endif
    } else if (kind == "memory") {
      if (built.memory != nullptr) throw py::value_error("start(): one memory sink at most");
      auto m = std::make_unique<MemorySink>();
      built.memory = m.get();
      opts.sinks.push_back(std::move(m));
    } else if (kind == "callback") {
      {
        Mailbox& m = Box();
        std::lock_guard<std::mutex> lock(m.mu);
        m.max_record_bytes = Get<size_t>(d, "max_queue_bytes", size_t{64} << 20);
      }
      opts.sinks.push_back(std::make_unique<PyCallbackSink>());
    } else {
      throw py::value_error("start(): unknown sink kind '" + kind + "'");
    }
  }
  opts.on_error = [](std::string_view sink, const absl::Status& st) {
    PostError(sink, st.ToString());
  };
  return built;
}

py::dict OtlpStatsDict(OtlpHttpSink* sink) {
  py::dict d;
#ifdef TOKMETER_PYTHON_HAVE_PROTO
  OtlpStats st = sink->stats();
  d["spans_queued"] = st.spans_queued;
  d["spans_exported"] = st.spans_exported;
  d["spans_dropped"] = st.spans_dropped;
  d["spans_failed"] = st.spans_failed;
  d["requests"] = st.requests;
  d["retries"] = st.retries;
  d["bytes_sent"] = st.bytes_sent;
#else
  (void)sink;
#endif
  return d;
}

void AddMailboxFunctions(py::module_& m) {
  m.def(
      "mailbox_wait",
      [](std::optional<double> timeout) {
        Mailbox& b = Box();
        py::gil_scoped_release nogil;
        std::unique_lock<std::mutex> lock(b.mu);
        auto ready = [&] { return !b.items.empty() || b.closed; };
        if (timeout) {
          b.cv.wait_for(lock, std::chrono::duration<double>(std::max(0.0, *timeout)), ready);
        } else {
          b.cv.wait(lock, ready);
        }
        return !b.items.empty();
      },
      py::arg("timeout") = py::none(),
      "Waits (GIL released) until the mailbox holds something, it is closed, or `timeout` "
      "seconds pass. True when something is there.");
  m.def(
      "mailbox_close",
      [] {
        Mailbox& b = Box();
        {
          std::lock_guard<std::mutex> lock(b.mu);
          b.closed = true;
        }
        b.cv.notify_all();
      },
      "Makes every mailbox_wait() return at once, until the next start().");
  m.def(
      "mailbox_take",
      [] {
        std::deque<MailItem> items;
        {
          Mailbox& b = Box();
          std::lock_guard<std::mutex> lock(b.mu);
          items.swap(b.items);
          b.record_bytes = 0;
          b.errors_queued = 0;
        }
        py::list out;
        for (MailItem& it : items) {
          if (it.error) {
            out.append(py::make_tuple("error", it.source, it.text, 0));
          } else {
            out.append(py::make_tuple("records", "", py::bytes(it.text), it.records));
          }
        }
        return out;
      },
      "Takes everything posted: (kind, source, payload, records) tuples, kind 'records' "
      "(payload: JSONL bytes) or 'error' (payload: the message).");
  m.def(
      "mailbox_stats",
      [] {
        Mailbox& b = Box();
        std::lock_guard<std::mutex> lock(b.mu);
        py::dict d;
        d["callback_records_dropped"] = b.records_dropped;
        d["sink_errors_not_delivered"] = b.errors_dropped;
        return d;
      },
      "Records the callback sink dropped (queue full) and sink errors not queued for Python.");
}

}  // namespace tokmeter::python
