#include "bindings/python/provider_call.h"

#include <Python.h>
#include <pybind11/stl.h>
#include <zlib.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "bindings/python/span_object.h"
#include "tokmeter/counters.h"

namespace py = pybind11;

namespace tokmeter::python {
namespace {

// ------------------------------------------------------------ request scan

// A forward-only reader of one JSON text that skips what it does not need:
// strings are crossed with memchr, nested values by counting brackets.
// Malformed input makes a read return false; nothing is ever read past the
// end.
class JsonSkipper {
 public:
  explicit JsonSkipper(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  void Ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool At(char c) {
    Ws();
    return p_ < end_ && *p_ == c;
  }
  // A string at the cursor, without its quotes (escapes left as they are).
  bool String(std::string_view* out) {
    if (!At('"')) return false;
    const char* start = ++p_;
    for (;;) {
      const auto* q = static_cast<const char*>(std::memchr(p_, '"', size_t(end_ - p_)));
      if (q == nullptr) {
        p_ = end_;
        return false;
      }
      const char* b = q;
      while (b > start && b[-1] == '\\') --b;
      p_ = q + 1;
      if (((q - b) & 1) == 0) {  // an even run of backslashes: this quote ends it
        *out = std::string_view(start, size_t(q - start));
        return true;
      }
    }
  }
  // A whole number at the cursor (no fraction or exponent).
  bool Int(int64_t* out) {
    Ws();
    const char* q = p_;
    bool neg = q < end_ && *q == '-';
    if (neg) ++q;
    if (q == end_ || *q < '0' || *q > '9') return false;
    int64_t v = 0;
    for (; q < end_ && *q >= '0' && *q <= '9'; ++q) {
      if (v > (INT64_MAX - 9) / 10) return false;
      v = v * 10 + (*q - '0');
    }
    if (q < end_ && (*q == '.' || *q == 'e' || *q == 'E')) return false;
    p_ = q;
    *out = neg ? -v : v;
    return true;
  }
  bool Literal(std::string_view word) {
    Ws();
    if (size_t(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0)
      return false;
    p_ += word.size();
    return true;
  }
  bool SkipValue() {
    Ws();
    if (p_ >= end_) return false;
    const char c = *p_;
    if (c == '"') {
      std::string_view s;
      return String(&s);
    }
    if (c == '{' || c == '[') return SkipNested();
    while (p_ < end_ && *p_ != ',' && *p_ != '}' && *p_ != ']' && *p_ != ' ' && *p_ != '\n' &&
           *p_ != '\r' && *p_ != '\t')
      ++p_;
    return true;
  }
  // Calls on_key(key) for each member of the object at the cursor; on_key
  // must consume the value (or return false).
  template <typename F>
  bool Object(F&& on_key) {
    if (!At('{')) return false;
    ++p_;
    if (At('}')) {
      ++p_;
      return true;
    }
    for (;;) {
      std::string_view key;
      if (!String(&key) || !At(':')) return false;
      ++p_;
      if (!on_key(key)) return false;
      Ws();
      if (p_ >= end_) return false;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      return false;
    }
  }

 private:
  bool SkipNested() {
    int depth = 0;
    while (p_ < end_) {
      const char c = *p_;
      if (c == '"') {
        std::string_view s;
        if (!String(&s)) return false;
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) {
          ++p_;
          return true;
        }
      }
      ++p_;
    }
    return false;
  }

  const char* p_;
  const char* end_;
};

// ---------------------------------------------------------------- decoding

// Content-Encoding gzip / deflate (zlib or raw), decoded as chunks arrive.
class Inflater {
 public:
  Inflater() {
    std::memset(&zs_, 0, sizeof(zs_));
    ok_ = inflateInit2(&zs_, 15 + 32) == Z_OK;  // zlib or gzip header, detected
  }
  ~Inflater() {
    if (ok_) inflateEnd(&zs_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Appends what `in` decodes to onto `out`. False on corrupt data.
  bool Inflate(std::string_view in, std::string& out) {
    if (!ok_) return false;
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs_.avail_in = static_cast<uInt>(in.size());
    while (zs_.avail_in > 0) {
      const size_t before = out.size();
      out.resize(before + std::max<size_t>(16384, in.size() * 4));
      zs_.next_out = reinterpret_cast<Bytef*>(out.data() + before);
      zs_.avail_out = static_cast<uInt>(out.size() - before);
      int rc = inflate(&zs_, Z_NO_FLUSH);
      out.resize(out.size() - zs_.avail_out);
      if (rc == Z_DATA_ERROR && !raw_ && total_out_ == 0 && out.size() == before) {
        // "deflate" sent without the zlib header: start over as raw deflate.
        inflateEnd(&zs_);
        std::memset(&zs_, 0, sizeof(zs_));
        raw_ = true;
        ok_ = inflateInit2(&zs_, -15) == Z_OK;
        if (!ok_) return false;
        zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        zs_.avail_in = static_cast<uInt>(in.size());
        continue;
      }
      if (rc == Z_STREAM_END) {
        if (zs_.avail_in == 0 || inflateReset(&zs_) != Z_OK) break;  // a next gzip member
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return false;
      } else if (rc == Z_BUF_ERROR && zs_.avail_out != 0) {
        break;  // needs more input
      }
      total_out_ += out.size() - before;
    }
    return true;
  }

 private:
  z_stream zs_;
  bool ok_ = false;
  bool raw_ = false;
  size_t total_out_ = 0;
};

// ASCII case-insensitive comparisons and trimming (HTTP header names and
// tokens are ASCII).
bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}
std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool View(PyObject* o, std::string_view* out) {
  if (PyBytes_Check(o)) {
    *out = std::string_view(PyBytes_AS_STRING(o), size_t(PyBytes_GET_SIZE(o)));
    return true;
  }
  if (PyByteArray_Check(o)) {
    *out = std::string_view(PyByteArray_AS_STRING(o), size_t(PyByteArray_GET_SIZE(o)));
    return true;
  }
  if (PyUnicode_Check(o)) {
    Py_ssize_t n;
    const char* p = PyUnicode_AsUTF8AndSize(o, &n);
    if (p == nullptr) throw py::error_already_set();
    *out = std::string_view(p, size_t(n));
    return true;
  }
  return false;
}

std::string_view ViewOrThrow(py::handle o, const char* what) {
  std::string_view v;
  if (!View(o.ptr(), &v)) throw py::type_error(std::string(what) + " must be bytes or str");
  return v;
}

// The span name: a view of a static string for the known APIs, else `api`
// itself (the caller keeps a copy).
std::string_view SpanName(std::string_view api) {
  static constexpr std::string_view kNames[] = {
      "messages", "chat.completions", "responses", "completions", "embeddings", "generateContent"};
  for (std::string_view n : kNames) {
    if (n == api) return n;
  }
  return api;
}

// Bodies kept to parse at the end, at most (a larger JSON body is not a
// usage-bearing response; it is not buffered further and its usage is
// unknown).
constexpr size_t kMaxBody = size_t{64} << 20;
// Chunks at least this large are decoded and parsed with the GIL released.
constexpr size_t kReleaseGil = size_t{64} << 10;

// Not thread-safe: one consumer reads a response (the stream wrappers in
// tokmeter/_transport.py, holding a reference while they call it).
class ProviderCall {
 public:
  // `request_headers` (httpx Headers.raw) give the SDK's retry count;
  // `on_failure(request, body, attempt)` is called when the attempt ends in a
  // way a client retries, so that the retry is counted on the same logical
  // call (`request` is only passed back).
  ProviderCall(const std::string& api, const std::optional<std::string>& provider, py::object body,
               const std::optional<std::string>& url_model, py::handle request_headers,
               py::object on_failure, py::object request)
      : start_ns_(absl::GetCurrentTimeNanos()),
        parent_(CurrentPythonContext()),
        hint_(ProviderFromString(provider)),
        name_(SpanName(api)),
        on_failure_(std::move(on_failure)),
        request_(std::move(request)),
        body_object_(std::move(body)) {
    if (name_.data() == api.data()) {  // not a known API: keep a copy
      owned_name_ = api;
      name_ = owned_name_;
    }
    if (!body_object_.is_none()) {
      std::string_view b = ViewOrThrow(body_object_, "request body");
      if (b.size() >= kReleaseGil) {
        py::gil_scoped_release nogil;
        facts_ = ScanRequest(b);
      } else {
        facts_ = ScanRequest(b);
      }
    }
    if (facts_.model.empty() && url_model) facts_.model = *url_model;
    retry_count_ = RetryCount(request_headers);
    // The SDK's count is the attempt; what a retry waited is known only to
    // the transport's record of failed attempts (SetAttempt).
    if (retry_count_ >= 0) {
      attempt_ = retry_count_ + 1;
      retry_ = retry_count_ > 0;
    }
  }

  int retry_count() const { return retry_count_; }
  void SetAttempt(int attempt, bool retry, int64_t retry_wait_ms) {
    attempt_ = attempt;
    retry_ = retry;
    retry_wait_ms_ = retry_wait_ms;
  }

  // The response's status and headers (httpx Headers.raw) arrived. With
  // `decoded`, the body fed will be decoded already, whatever the headers say.
  void Response(int status, py::handle headers, bool decoded) {
    status_ = status;
    have_response_ = true;
    response_headers_ = py::reinterpret_borrow<py::object>(headers);
    std::vector<std::pair<std::string_view, std::string_view>> hv;
    ReadHeaders(headers, hv);
    std::string_view content_type, enc;
    for (const auto& [k, v] : hv) {
      if (EqualsNoCase(k, "content-type")) content_type = Trim(v);
      if (EqualsNoCase(k, "content-encoding")) enc = Trim(v);
    }
    sse_ =
        content_type.size() >= 17 && EqualsNoCase(content_type.substr(0, 17), "text/event-stream");
    if (sse_) parser_ = std::make_unique<UsageStreamParser>(hint_);
    if (decoded || enc.empty() || EqualsNoCase(enc, "identity")) {
      decodable_ = true;
    } else if (EqualsNoCase(enc, "gzip") || EqualsNoCase(enc, "x-gzip") ||
               EqualsNoCase(enc, "deflate")) {
      inflater_ = std::make_unique<Inflater>();
      decodable_ = true;
    } else {
      undecodable_encoding_ = "content-encoding " + std::string(enc);
    }
  }

  void Feed(py::handle chunk) {
    std::string_view v = ViewOrThrow(chunk, "chunk");
    wire_bytes_ += static_cast<int64_t>(v.size());
    if (finished_ || !decodable_) return;
    if (v.size() >= kReleaseGil) {
      py::gil_scoped_release nogil;
      Consume(v);
    } else {
      Consume(v);
    }
  }

  // Records the call. `error` is the exception that ended it (the request
  // never got a response, or its body broke off), or None; `cut` says the
  // body was not read to its end. Once only: later calls do nothing.
  void Finish(py::handle error, bool cut) {
    if (finished_) return;
    finished_ = true;
    const int64_t end_ns = absl::GetCurrentTimeNanos();
    ParsedUsage u;
    if (sse_ && parser_ != nullptr) {
      u = parser_->Finish();
    } else if (decodable_ && !body_overflow_ && !body_.empty()) {
      absl::StatusOr<ParsedUsage> parsed = ParseUsageBody(body_, hint_);
      if (parsed.ok()) u = std::move(*parsed);
      if (cut && status_ < 400) u.partial = true;
    } else if (cut && have_response_ && status_ < 400) {
      u.partial = true;  // an error response carries no usage: not reading it loses none
    }
    std::string().swap(body_);
    if (u.provider == Provider::kUnknown) u.provider = hint_;
    if (u.model.empty()) u.model = facts_.model;
    if (have_response_) {
      std::vector<std::pair<std::string_view, std::string_view>> hv;
      ReadHeaders(response_headers_, hv);
      ApplyHttpResponse(u, status_, hv);
    }
    response_headers_ = py::object();
    // A generator closed early (GeneratorExit) is a cut body, not an error.
    const bool raised =
        !error.is_none() && !PyErr_GivenExceptionMatches(error.ptr(), PyExc_GeneratorExit);
    if (raised && !u.error) {
      ApiError e;
      e.type = py::str(py::type::handle_of(error).attr("__name__"));
      e.message = py::str(error);
      e.retryable = true;
      u.error = std::move(e);
    }
    Record(u, end_ns);
    result_ = std::move(u);
    // Released whatever the outcome: they hold the request.
    py::object on_failure = std::move(on_failure_), request = std::move(request_),
               body = std::move(body_object_);
    const bool retried_by_clients =
        status_ == 408 || status_ == 409 || status_ == 429 || status_ >= 500 ||
        (status_ == 0 && raised && PyErr_GivenExceptionMatches(error.ptr(), PyExc_Exception));
    if (retried_by_clients && !on_failure.is_none()) on_failure(request, body, attempt_);
  }

  py::object Result() const { return result_ ? py::cast(*result_) : py::none(); }
  const RequestFacts& facts() const { return facts_; }

 private:
  void Consume(std::string_view v) {
    if (inflater_ != nullptr) {
      decoded_.clear();
      if (!inflater_->Inflate(v, decoded_)) {
        decodable_ = false;
        undecodable_encoding_ = "corrupt compressed body";
        return;
      }
      v = decoded_;
    }
    if (sse_) {
      parser_->Feed(v);
    } else if (!body_overflow_) {
      if (body_.size() + v.size() > kMaxBody) {
        body_overflow_ = true;
        std::string().swap(body_);
      } else {
        body_.append(v);
      }
    }
  }

  // The x-stainless-retry-count request header as int() reads it; -1 when
  // absent, sent twice (httpx would join the values: "1, 2" is no count),
  // negative or not a number.
  static int RetryCount(py::handle headers) {
    std::vector<std::pair<std::string_view, std::string_view>> hv;
    ReadHeaders(headers, hv);
    std::optional<std::string> value;
    for (const auto& [k, v] : hv) {
      if (!EqualsNoCase(k, "x-stainless-retry-count")) continue;
      if (value) return -1;
      value = std::string(v);
    }
    if (!value) return -1;
    const auto count =
        py::reinterpret_steal<py::object>(PyLong_FromString(value->c_str(), nullptr, 10));
    if (!count) {
      PyErr_Clear();
      return -1;
    }
    int overflow = 0;
    const long long n = PyLong_AsLongLongAndOverflow(count.ptr(), &overflow);
    return overflow != 0 || n < 0 || n >= INT32_MAX ? -1 : int(n);
  }

  static void ReadHeaders(py::handle headers,
                          std::vector<std::pair<std::string_view, std::string_view>>& out) {
    if (headers.is_none()) return;
    PyObject* list = headers.ptr();
    if (PyList_Check(list)) {
      const Py_ssize_t n = PyList_GET_SIZE(list);
      out.reserve(size_t(n));
      for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject* t = PyList_GET_ITEM(list, i);
        std::string_view k, v;
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 2 || !View(PyTuple_GET_ITEM(t, 0), &k) ||
            !View(PyTuple_GET_ITEM(t, 1), &v))
          throw py::type_error("headers must be a list of (name, value) pairs of bytes or str");
        out.emplace_back(k, v);
      }
      return;
    }
    throw py::type_error("headers must be a list of (name, value) pairs (httpx Headers.raw)");
  }

  void Record(const ParsedUsage& u, int64_t end_ns) {
    Span s(parent_, "llm", name_);
    if (!s.recording()) return;
    s.SetTimes(start_ns_, end_ns);
    RecordUsage(s, u);
    if (facts_.max_tokens) s.Tag("max_tokens", *facts_.max_tokens);
    s.Tag("max_tokens_set", facts_.max_tokens.has_value());
    if (attempt_ > 0) s.Tag("attempt", attempt_);
    if (retry_) s.Add(Counter::kRetries, 1);
    if (retry_wait_ms_ > 0) s.Add(Counter::kRetryWaitMs, retry_wait_ms_);
    s.Add(Counter::kResponseBytes, wire_bytes_);
    const bool ok_status = status_ >= 200 && status_ < 300;
    if (have_response_ && ok_status && !u.found && !u.error) s.Tag("no_usage", true);
    if (!undecodable_encoding_.empty()) s.Tag("usage_unreadable", undecodable_encoding_);
    if (u.rate_limit.retry_after_ms) s.Tag("retry_after_ms", *u.rate_limit.retry_after_ms);
    std::string key;
    for (const RateLimitWindow& w : u.rate_limit.windows) {
      std::string name = w.name;
      for (char& c : name)
        if (c == '-') c = '_';
      auto tag = [&](std::string_view what, const std::optional<int64_t>& v) {
        if (!v) return;
        key.assign("ratelimit_").append(name).append(what);
        s.Tag(key, *v);
      };
      tag("_limit", w.limit);
      tag("_remaining", w.remaining);
      tag("_reset_ms", w.reset_after_ms);
    }
    s.End();
  }

  int64_t start_ns_;
  Context parent_;
  Provider hint_;
  std::string_view name_;
  std::string owned_name_;
  RequestFacts facts_;
  int retry_count_ = -1;
  int attempt_ = 0;  // 0: unknown
  bool retry_ = false;
  int64_t retry_wait_ms_ = 0;
  py::object on_failure_;  // these three until finished
  py::object request_;
  py::object body_object_;
  int status_ = 0;
  bool have_response_ = false;
  py::object response_headers_;  // Headers.raw, read at Finish
  bool sse_ = false;
  bool decodable_ = false;
  std::string undecodable_encoding_;  // why the body cannot be read for usage
  std::unique_ptr<Inflater> inflater_;
  std::unique_ptr<UsageStreamParser> parser_;
  std::string body_;
  std::string decoded_;
  bool body_overflow_ = false;
  int64_t wire_bytes_ = 0;
  bool finished_ = false;
  std::optional<ParsedUsage> result_;
};

// ---------------------------------------------------------- response body

// The body of a response as httpx reads it (what a SyncByteStream is: an
// iterable of chunks, and close()). Each chunk is fed to the call and passed
// on untouched; the call is finished when the body ends, breaks off, is
// closed or dropped. A plain CPython type, not pybind11: the end of the body
// is a null return, not a C++ exception thrown per response.
// tokmeter/_transport.py subclasses it with httpx.SyncByteStream.
struct ResponseStreamObject {
  PyObject_HEAD PyObject* call;  // the ProviderCall
  ProviderCall* native;          // its C++ object
  PyObject* inner;               // the stream wrapped
  PyObject* it;                  // iter(inner), once reading began
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
PyTypeObject ResponseStreamType = {PyVarObject_HEAD_INIT(nullptr, 0)};  // see AddProviderCall
#pragma GCC diagnostic pop

// ProviderCall::Finish with its C++ exceptions turned into the Python error
// set; false then.
bool FinishCall(ProviderCall* call, py::handle error, bool cut) {
  try {
    call->Finish(error, cut);
    return true;
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (py::builtin_exception& e) {
    e.set_error();
  }
  return false;
}

// The body ended: read to its end (StopIteration), or broken off by the
// Python error set, which is raised on after the call recorded it.
PyObject* StreamEnded(ResponseStreamObject* s) {
  if (!PyErr_Occurred()) {
    FinishCall(s->native, py::none(), false);
    return nullptr;
  }
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (FinishCall(s->native, value, true)) {
    PyErr_Restore(type, value, tb);
  } else {
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
  }
  return nullptr;
}

int StreamInit(PyObject* self, PyObject* args, PyObject* kwargs) {
  auto* s = reinterpret_cast<ResponseStreamObject*>(self);
  static const char* kKeywords[] = {"inner", "call", nullptr};
  PyObject *inner, *call;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO", const_cast<char**>(kKeywords), &inner,
                                   &call))
    return -1;
  try {
    s->native = py::cast<ProviderCall*>(py::handle(call));
  } catch (py::cast_error&) {
    PyErr_SetString(PyExc_TypeError, "call must be a ProviderCall");
    return -1;
  }
  Py_INCREF(call);
  Py_XSETREF(s->call, call);
  Py_INCREF(inner);
  Py_XSETREF(s->inner, inner);
  Py_CLEAR(s->it);
  return 0;
}

PyObject* StreamNext(PyObject* self) {
  auto* s = reinterpret_cast<ResponseStreamObject*>(self);
  if (s->native == nullptr) {
    PyErr_SetString(PyExc_RuntimeError, "ResponseStream not initialised");
    return nullptr;
  }
  if (s->it == nullptr && (s->it = PyObject_GetIter(s->inner)) == nullptr) return StreamEnded(s);
  PyObject* chunk = PyIter_Next(s->it);
  if (chunk == nullptr) return StreamEnded(s);
  try {
    s->native->Feed(chunk);
    return chunk;
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (py::builtin_exception& e) {
    e.set_error();
  }
  Py_DECREF(chunk);
  return StreamEnded(s);
}

PyObject* StreamClose(PyObject* self, PyObject*) {
  auto* s = reinterpret_cast<ResponseStreamObject*>(self);
  if (s->native == nullptr) Py_RETURN_NONE;
  PyObject* r = PyObject_CallMethod(s->inner, "close", nullptr);
  // Closed before its end: a no-op once read to the end.
  if (r == nullptr) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (!FinishCall(s->native, py::none(), true)) {
      Py_XDECREF(type);
      Py_XDECREF(value);
      Py_XDECREF(tb);
      return nullptr;
    }
    PyErr_Restore(type, value, tb);
    return nullptr;
  }
  Py_DECREF(r);
  if (!FinishCall(s->native, py::none(), true)) return nullptr;
  Py_RETURN_NONE;
}

// Dropped without being read or closed: recorded as cut. Never raises.
void StreamFinalize(PyObject* self) {
  auto* s = reinterpret_cast<ResponseStreamObject*>(self);
  if (s->native == nullptr) return;
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  if (!FinishCall(s->native, py::none(), true)) PyErr_Clear();
  PyErr_Restore(type, value, tb);
}

int StreamTraverse(PyObject* self, visitproc visit, void* arg) {
  auto* s = reinterpret_cast<ResponseStreamObject*>(self);
  Py_VISIT(s->call);
  Py_VISIT(s->inner);
  Py_VISIT(s->it);
  return 0;
}

int StreamClear(PyObject* self) {
  auto* s = reinterpret_cast<ResponseStreamObject*>(self);
  s->native = nullptr;
  Py_CLEAR(s->call);
  Py_CLEAR(s->inner);
  Py_CLEAR(s->it);
  return 0;
}

void StreamDealloc(PyObject* self) {
  if (PyObject_CallFinalizerFromDealloc(self) < 0) return;  // resurrected
  PyObject_GC_UnTrack(self);
  StreamClear(self);
  Py_TYPE(self)->tp_free(self);  // a subclass's type is released by its own dealloc
}

PyMethodDef kStreamMethods[] = {{"close", StreamClose, METH_NOARGS,
                                 "Closes the stream wrapped; a body not read to its end "
                                 "is recorded as cut."},
                                {nullptr, nullptr, 0, nullptr}};

py::dict FactsDict(const RequestFacts& f) {
  py::dict d;
  d["model"] = f.model;
  d["max_tokens"] = f.max_tokens ? py::object(py::int_(*f.max_tokens)) : py::object(py::none());
  d["stream"] = f.stream;
  d["include_usage"] = f.include_usage;
  return d;
}

}  // namespace

Provider ProviderFromString(const std::optional<std::string>& s) {
  if (!s || s->empty()) return Provider::kUnknown;
  const std::string& p = *s;
  if (p == "anthropic" || p == "messages") return Provider::kAnthropic;
  if (p == "openai" || p == "chat" || p == "openai-chat" || p == "chat.completions")
    return Provider::kOpenAIChat;
  if (p == "responses" || p == "openai-responses") return Provider::kOpenAIResponses;
  if (p == "gemini" || p == "google") return Provider::kGemini;
  throw py::value_error("unknown provider '" + p + "' (anthropic, openai, responses, gemini)");
}

RequestFacts ScanRequest(std::string_view body) {
  RequestFacts f;
  JsonSkipper j(body);
  auto cap = [&](JsonSkipper& r) {
    int64_t v;
    if (r.Int(&v)) {
      if (!f.max_tokens && v >= 0) f.max_tokens = v;
      return true;
    }
    return r.SkipValue();
  };
  j.Object([&](std::string_view key) {
    if (key == "model") {
      std::string_view v;
      if (j.At('"')) {
        if (!j.String(&v)) return false;
        f.model = std::string(v);
        return true;
      }
      return j.SkipValue();
    }
    if (key == "max_tokens" || key == "max_completion_tokens" || key == "max_output_tokens")
      return cap(j);
    if (key == "stream") {
      if (j.Literal("true")) {
        f.stream = true;
        return true;
      }
      return j.SkipValue();
    }
    if (key == "stream_options" && j.At('{')) {
      return j.Object([&](std::string_view k) {
        if (k == "include_usage" && j.Literal("true")) {
          f.include_usage = true;
          return true;
        }
        return j.SkipValue();
      });
    }
    if ((key == "generationConfig" || key == "generation_config") && j.At('{')) {
      return j.Object([&](std::string_view k) {
        if (k == "maxOutputTokens" || k == "max_output_tokens") return cap(j);
        return j.SkipValue();
      });
    }
    return j.SkipValue();
  });
  return f;
}

void AddProviderCall(py::module_& m) {
  py::class_<ProviderCall>(m, "ProviderCall",
                           "One provider request seen by the httpx transport; records one `llm` "
                           "span when finished.")
      .def(py::init<const std::string&, const std::optional<std::string>&, py::object,
                    const std::optional<std::string>&, py::handle, py::object, py::object>(),
           py::arg("api"), py::arg("provider"), py::arg("body"), py::arg("model"),
           py::arg("request_headers") = py::none(), py::arg("on_failure") = py::none(),
           py::arg("request") = py::none())
      .def_property_readonly("retry_count", &ProviderCall::retry_count,
                             "The request's x-stainless-retry-count, -1 when not sent or not a "
                             "count.")
      .def("set_attempt", &ProviderCall::SetAttempt, py::arg("attempt"), py::arg("retry"),
           py::arg("retry_wait_ms"))
      .def("response", &ProviderCall::Response, py::arg("status"), py::arg("headers"),
           py::arg("decoded") = false)
      .def("feed", &ProviderCall::Feed, py::arg("chunk"))
      .def("finish", &ProviderCall::Finish, py::arg("error") = py::none(), py::arg("cut") = false)
      .def("result", &ProviderCall::Result,
           "The usage recorded (a tokmeter.Usage), None before finish().")
      .def_property_readonly("request", [](const ProviderCall& c) { return FactsDict(c.facts()); });
  ResponseStreamType.tp_name = "tokmeter._tokmeter.ResponseStream";
  ResponseStreamType.tp_basicsize = sizeof(ResponseStreamObject);
  ResponseStreamType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC;
  ResponseStreamType.tp_doc =
      "ResponseStream(inner, call): the response body `inner` (an iterable of bytes with "
      "close()), each chunk fed to the ProviderCall `call` as it passes; the call is finished "
      "when the body ends, breaks off, is closed or dropped.";
  ResponseStreamType.tp_new = PyType_GenericNew;
  ResponseStreamType.tp_init = StreamInit;
  ResponseStreamType.tp_iter = PyObject_SelfIter;
  ResponseStreamType.tp_iternext = StreamNext;
  ResponseStreamType.tp_finalize = StreamFinalize;
  ResponseStreamType.tp_traverse = StreamTraverse;
  ResponseStreamType.tp_clear = StreamClear;
  ResponseStreamType.tp_dealloc = StreamDealloc;
  ResponseStreamType.tp_methods = kStreamMethods;
  if (PyType_Ready(&ResponseStreamType) < 0) throw py::error_already_set();
  Py_INCREF(&ResponseStreamType);
  m.add_object("ResponseStream", reinterpret_cast<PyObject*>(&ResponseStreamType));
  m.def(
      "scan_request",
      [](py::handle body) { return FactsDict(ScanRequest(ViewOrThrow(body, "body"))); },
      py::arg("body"),
      "What a request body says: model, max_tokens (any of the providers' output caps), stream, "
      "include_usage.");
}

}  // namespace tokmeter::python
