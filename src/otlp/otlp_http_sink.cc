// The OTLP/HTTP exporter (include/tokmeter/otlp.h): Write encodes and
// queues; a sender thread posts with Boost.Beast (TLS through Boost.Asio
// ssl / OpenSSL), retrying with backoff.
#include <zlib.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio/co_spawn.hpp"
#include "boost/asio/connect.hpp"
#include "boost/asio/detached.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "src/otlp/otlp_encoder.h"
#include "tokmeter/otlp.h"

namespace tokmeter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string S(absl::string_view v) { return std::string(v); }

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // path, "/v1/traces"
};

absl::StatusOr<Url> ParseUrl(const std::string& url) {
  Url u;
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "https://")) {
    u.tls = true;
  } else if (!absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("OTLP endpoint must start with http:// or https://: \"", url, "\""));
  }
  size_t slash = rest.find('/');
  absl::string_view hostport = rest.substr(0, slash);
  u.target = slash == absl::string_view::npos ? "/" : S(rest.substr(slash));
  if (hostport.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("OTLP endpoint has no host: \"", url, "\""));
  }
  if (hostport.front() == '[') {  // [v6]:port
    size_t close = hostport.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad IPv6 host in \"", url, "\""));
    }
    u.host = S(hostport.substr(1, close - 1));
    absl::string_view after = hostport.substr(close + 1);
    u.port = absl::ConsumePrefix(&after, ":") ? S(after) : "";
  } else {
    size_t colon = hostport.rfind(':');
    u.host = S(hostport.substr(0, colon));
    u.port = colon == absl::string_view::npos ? "" : S(hostport.substr(colon + 1));
  }
  if (u.port.empty()) u.port = u.tls ? "443" : "80";
  return u;
}

// Parses Retry-After: delta seconds or an HTTP date. nullopt if absent/bad.
std::optional<std::chrono::milliseconds> ParseRetryAfter(absl::string_view v) {
  v = absl::StripAsciiWhitespace(v);
  if (v.empty()) return std::nullopt;
  int64_t secs;
  if (absl::SimpleAtoi(v, &secs))
    return std::chrono::milliseconds(std::max<int64_t>(secs, 0) * 1000);
  absl::Time t;
  std::string err;
  for (const char* fmt :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    if (absl::ParseTime(fmt, S(v), absl::UTCTimeZone(), &t, &err)) {
      absl::Duration d = t - absl::Now();
      return std::chrono::milliseconds(std::max<int64_t>(absl::ToInt64Milliseconds(d), 0));
    }
  }
  return std::nullopt;
}

absl::Status Gzip(std::string_view in, std::string& out) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError("deflateInit2 failed");
  }
  out.resize(deflateBound(&zs, in.size()) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = uInt(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = uInt(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return absl::InternalError("gzip: deflate failed");
  return absl::OkStatus();
}

struct HttpResult {
  int status = 0;  // 0: no response (network error, timeout)
  std::optional<std::chrono::milliseconds> retry_after;
  absl::Status error;  // set when status == 0
};

// One keep-alive connection to the collector, used by the sender thread
// only; Abort() may be called from any thread.
class HttpClient {
 public:
  HttpClient(Url url, const OtlpOptions& o)
      : url_(std::move(url)), opts_(o), ssl_(asio::ssl::context::tls_client), resolver_(ioc_) {
    if (url_.tls) {
      if (!o.ca_file.empty()) {
        boost::system::error_code ec;
        ssl_.load_verify_file(o.ca_file, ec);
      } else {
        ssl_.set_default_verify_paths();
      }
      if (o.insecure_skip_verify) {
        ssl_.set_verify_mode(asio::ssl::verify_none);
      } else {
        ssl_.set_verify_mode(asio::ssl::verify_peer);
      }
    }
  }

  // Posts `body`; gives up at `deadline`, or when Abort() is called. A kept-
  // alive connection the collector closed while idle is replaced once,
  // without waiting.
  HttpResult Post(const std::string& body, bool gzip, Clock::time_point deadline) {
    bool reused = tcp_.has_value() || tls_.has_value();
    HttpResult r = PostOnce(body, gzip, deadline);
    if (reused && r.status == 0 && !aborted_.load() && !r.error.ok() &&
        r.error.code() == absl::StatusCode::kUnavailable && Clock::now() < deadline) {
      r = PostOnce(body, gzip, deadline);
    }
    return r;
  }

  HttpResult PostOnce(const std::string& body, bool gzip, Clock::time_point deadline) {
    HttpResult result;
    if (aborted_.load()) {
      result.error = absl::CancelledError("exporter closed");
      return result;
    }
    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(ioc_, Exchange(body, gzip, result), [&](std::exception_ptr e) {
      done = true;
      failure = e;
    });
    ioc_.restart();
    if (!aborted_.load()) ioc_.run_until(deadline);
    if (!done) {
      // Timed out or aborted: tear the connection down; the pending
      // operations complete with operation_aborted.
      Disconnect();
      ioc_.restart();
      ioc_.run();
      result.status = 0;
      result.error = aborted_.load() ? absl::CancelledError("exporter closed during the request")
                                     : absl::DeadlineExceededError("OTLP request timed out");
      return result;
    }
    if (failure) {
      Disconnect();
      result.status = 0;
      try {
        std::rethrow_exception(failure);
      } catch (const boost::system::system_error& e) {
        result.error = absl::UnavailableError(
            absl::StrCat("OTLP request to ", url_.host, ":", url_.port, " failed: ", e.what()));
      } catch (const std::exception& e) {
        result.error = absl::UnavailableError(absl::StrCat("OTLP request failed: ", e.what()));
      }
    }
    return result;
  }

  // Thread-safe: makes a Post in progress (or the next one) return at once.
  void Abort() {
    aborted_.store(true);
    ioc_.stop();
  }

 private:
  asio::awaitable<void> Exchange(const std::string& body, bool gzip, HttpResult& result) {
    if (!tcp_ && !tls_) {
      auto endpoints = co_await resolver_.async_resolve(url_.host, url_.port, asio::use_awaitable);
      if (url_.tls) {
        tls_.emplace(ioc_, ssl_);
        if (!SSL_set_tlsext_host_name(tls_->native_handle(), url_.host.c_str())) {
          throw boost::system::system_error(
              boost::system::error_code(int(::ERR_get_error()), asio::error::get_ssl_category()));
        }
        if (!opts_.insecure_skip_verify) {
          tls_->set_verify_callback(asio::ssl::host_name_verification(url_.host));
        }
        co_await beast::get_lowest_layer(*tls_).async_connect(endpoints, asio::use_awaitable);
        co_await tls_->async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
      } else {
        tcp_.emplace(ioc_);
        co_await tcp_->async_connect(endpoints, asio::use_awaitable);
      }
    }
    http::request<http::string_body> req{http::verb::post, url_.target, 11};
    req.set(http::field::host, url_.host);
    req.set(http::field::user_agent, "tokmeter/0.1.0");
    req.set(http::field::content_type, "application/x-protobuf");
    if (gzip) req.set(http::field::content_encoding, "gzip");
    for (const auto& [k, v] : opts_.headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    if (tls_) {
      co_await http::async_write(*tls_, req, asio::use_awaitable);
      co_await http::async_read(*tls_, buffer, res, asio::use_awaitable);
    } else {
      co_await http::async_write(*tcp_, req, asio::use_awaitable);
      co_await http::async_read(*tcp_, buffer, res, asio::use_awaitable);
    }
    result.status = int(res.result_int());
    if (auto it = res.find(http::field::retry_after); it != res.end()) {
      result.retry_after =
          ParseRetryAfter(absl::string_view(it->value().data(), it->value().size()));
    }
    if (!res.keep_alive()) Disconnect();
  }

  void Disconnect() {
    boost::system::error_code ec;
    resolver_.cancel();
    if (tcp_) tcp_->socket().close(ec);
    if (tls_) beast::get_lowest_layer(*tls_).socket().close(ec);
    tcp_.reset();
    tls_.reset();
  }

  Url url_;
  const OtlpOptions& opts_;
  asio::io_context ioc_;
  asio::ssl::context ssl_;
  tcp::resolver resolver_;
  std::optional<beast::tcp_stream> tcp_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  std::atomic<bool> aborted_{false};  // seq_cst: pairs with the check in Post
};

class OtlpHttpSinkImpl : public OtlpHttpSink {
 public:
  OtlpHttpSinkImpl(OtlpOptions o, Url url)
      : opts_(std::move(o)),
        name_("otlp:" + (opts_.traces_url.empty() ? opts_.endpoint : opts_.traces_url)),
        resource_(otlp::EncodeOtlpResource(opts_.service_name, opts_.resource_attributes)),
        client_(std::move(url), opts_) {
    if (opts_.max_batch_spans == 0) opts_.max_batch_spans = 1;
    sender_ = std::thread(&OtlpHttpSinkImpl::Run, this);
  }

  ~OtlpHttpSinkImpl() override { Close().IgnoreError(); }

  std::string_view name() const override { return name_; }

  absl::Status Write(const Batch& batch) override {
    // Spans the sender gave up on before this call. Taken first, so that a
    // Write never reports its own batch (which a fast collector can refuse
    // before Write returns): that batch's fate is the next Write's to tell.
    std::string failure;
    {
      std::lock_guard<std::mutex> lock(mu_);
      failure.swap(pending_failure_);
    }
    size_t n = batch.spans.size();
    size_t i = 0;
    uint64_t dropped = 0;
    while (i < n) {
      // Encode a request's worth of spans outside the lock.
      size_t take = std::min(n - i, opts_.max_batch_spans);
      Chunk chunk;
      chunk.spans = take;
      chunk.bytes.reserve(take * (span_bytes_hint_ + 64));
      for (size_t k = 0; k < take; ++k) otlp::AppendOtlpSpan(batch.spans[i + k], chunk.bytes);
      span_bytes_hint_ = chunk.bytes.size() / take;
      i += take;
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_ || queued_spans_ + take > opts_.max_queue_spans) {
        dropped += take;
        continue;
      }
      queued_spans_ += take;
      queue_.push_back(std::move(chunk));
      cv_.notify_all();
    }
    spans_queued_.fetch_add(n - dropped, std::memory_order_relaxed);
    absl::Status st;
    if (dropped > 0) {
      spans_dropped_.fetch_add(dropped, std::memory_order_relaxed);
      st = absl::ResourceExhaustedError(absl::StrCat(name_, ": queue full (", opts_.max_queue_spans,
                                                     " spans), ", dropped, " spans dropped"));
    }
    if (!failure.empty() && st.ok()) st = absl::UnavailableError(failure);
    return st;
  }

  absl::Status Flush() override {
    cv_.notify_all();
    if (opts_.flush_timeout.count() > 0) WaitIdle(opts_.flush_timeout);
    return absl::OkStatus();
  }

  absl::Status Close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return absl::OkStatus();
      closed_ = true;
      closing_ = true;
      close_deadline_ = Clock::now() + opts_.close_timeout;
    }
    cv_.notify_all();
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!idle_cv_.wait_until(lock, close_deadline_, [&] { return sender_done_; })) {
        // Out of time: cancel the request in flight and stop retrying.
        abort_ = true;
        lock.unlock();
        client_.Abort();
        cv_.notify_all();
      }
    }
    if (sender_.joinable()) sender_.join();
    uint64_t left = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const Chunk& c : queue_) left += c.spans;
      queue_.clear();
      queued_spans_ = 0;
    }
    spans_failed_.fetch_add(left, std::memory_order_relaxed);
    if (left > 0) {
      return absl::DeadlineExceededError(absl::StrCat(name_, ": ", left,
                                                      " spans not sent within close_timeout (",
                                                      opts_.close_timeout.count(), " ms)"));
    }
    return absl::OkStatus();
  }

  OtlpStats stats() const override {
    OtlpStats s;
    s.spans_queued = spans_queued_.load(std::memory_order_relaxed);
    s.spans_exported = spans_exported_.load(std::memory_order_relaxed);
    s.spans_dropped = spans_dropped_.load(std::memory_order_relaxed);
    s.spans_failed = spans_failed_.load(std::memory_order_relaxed);
    s.requests = requests_.load(std::memory_order_relaxed);
    s.retries = retries_.load(std::memory_order_relaxed);
    s.bytes_sent = bytes_sent_.load(std::memory_order_relaxed);
    return s;
  }

  bool WaitIdle(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mu_);
    return idle_cv_.wait_for(lock, timeout, [&] {
      return (queue_.empty() && !in_flight_) || sender_done_;
    }) && queue_.empty();
  }

 private:
  struct Chunk {
    std::string bytes;  // concatenated ScopeSpans.spans entries
    size_t spans = 0;
  };

  // The sender thread: takes up to max_batch_spans spans, posts, retries.
  void Run() {
    std::string body, compressed;
    std::vector<Chunk> taken;
    std::mt19937_64 rng(std::random_device{}());
    for (;;) {
      size_t n = 0;
      taken.clear();
      {
        std::unique_lock<std::mutex> lock(mu_);
        in_flight_ = false;
        idle_cv_.notify_all();
        cv_.wait(lock, [&] { return !queue_.empty() || closing_ || abort_; });
        if (abort_ || (queue_.empty() && closing_)) break;
        // Move (not copy) a request's worth of chunks out of the queue.
        while (!queue_.empty() && (n == 0 || n + queue_.front().spans <= opts_.max_batch_spans)) {
          n += queue_.front().spans;
          queued_spans_ -= queue_.front().spans;
          taken.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        in_flight_ = true;
      }
      body.clear();
      size_t spans_size = 0;
      for (const Chunk& c : taken) spans_size += c.bytes.size();
      body.reserve(spans_size + resource_.size() + 64);
      otlp::AppendExportRequestHead(resource_, spans_size, body);
      for (const Chunk& c : taken) body.append(c.bytes);
      const std::string* payload = &body;
      if (opts_.gzip && Gzip(body, compressed).ok()) payload = &compressed;
      Send(*payload, payload == &compressed, n, rng);
    }
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_ = false;
    sender_done_ = true;
    idle_cv_.notify_all();
  }

  // Posts one request, retrying; counts the outcome.
  void Send(const std::string& payload, bool gzipped, size_t n, std::mt19937_64& rng) {
    std::chrono::milliseconds backoff = opts_.initial_backoff;
    absl::Status last;
    for (int attempt = 0;; ++attempt) {
      Clock::time_point deadline = Clock::now() + opts_.timeout;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (abort_) {
          last = absl::CancelledError("exporter closed");
          break;
        }
        if (closing_) deadline = std::min(deadline, close_deadline_);
      }
      requests_.fetch_add(1, std::memory_order_relaxed);
      if (attempt > 0) retries_.fetch_add(1, std::memory_order_relaxed);
      bytes_sent_.fetch_add(payload.size(), std::memory_order_relaxed);
      HttpResult r = client_.Post(payload, gzipped, deadline);
      if (r.status >= 200 && r.status < 300) {
        spans_exported_.fetch_add(n, std::memory_order_relaxed);
        return;
      }
      bool retryable =
          r.status == 0 || r.status == 429 || r.status == 502 || r.status == 503 || r.status == 504;
      last =
          r.status == 0
              ? r.error
              : absl::UnavailableError(absl::StrCat(name_, ": collector answered HTTP ", r.status));
      if (!retryable || attempt >= opts_.max_retries) break;
      std::chrono::milliseconds wait;
      if (r.retry_after) {
        wait = std::min(*r.retry_after, opts_.max_retry_after);
      } else {
        std::uniform_real_distribution<double> jitter(0.5, 1.5);
        wait = std::chrono::milliseconds(int64_t(double(backoff.count()) * jitter(rng)));
        backoff = std::min(backoff * 2, opts_.max_backoff);
      }
      std::unique_lock<std::mutex> lock(mu_);
      Clock::time_point until = Clock::now() + wait;
      if (closing_ && until > close_deadline_) {
        last = absl::DeadlineExceededError(
            absl::StrCat(last.message(), "; no time left to retry before close_timeout"));
        break;
      }
      cv_.wait_until(lock, until, [&] { return abort_; });
    }
    spans_failed_.fetch_add(n, std::memory_order_relaxed);
    absl::Status st(last.code(), absl::StrCat(name_, ": ", n, " spans dropped after ",
                                              "retries: ", last.message()));
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_failure_ = std::string(st.message());
    }
    if (opts_.on_error) {
      try {
        opts_.on_error(st);
      } catch (...) {
      }
    }
  }

  OtlpOptions opts_;
  std::string name_;
  std::string resource_;  // encoded Resource
  HttpClient client_;
  std::thread sender_;
  size_t span_bytes_hint_ = 512;  // Write only: recent encoded bytes per span

  std::mutex mu_;
  std::condition_variable cv_;        // wakes the sender: work, closing, abort
  std::condition_variable idle_cv_;   // sender idle or done
  std::deque<Chunk> queue_;           // guarded by mu_
  size_t queued_spans_ = 0;           // guarded by mu_
  bool in_flight_ = false;            // guarded by mu_
  bool closing_ = false;              // guarded by mu_
  bool closed_ = false;               // guarded by mu_
  bool abort_ = false;                // guarded by mu_
  bool sender_done_ = false;          // guarded by mu_
  Clock::time_point close_deadline_;  // guarded by mu_
  std::string pending_failure_;       // guarded by mu_

  // Stats; relaxed: read as a snapshot, no ordering with the queue.
  std::atomic<uint64_t> spans_queued_{0}, spans_exported_{0}, spans_dropped_{0}, spans_failed_{0},
      requests_{0}, retries_{0}, bytes_sent_{0};
};

std::string PercentDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      if (absl::SimpleHexAtoi(s.substr(i + 1, 2), &v)) {
        out.push_back(char(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ParseKeyValues(absl::string_view s) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view item : absl::StrSplit(s, ',', absl::SkipWhitespace())) {
    size_t eq = item.find('=');
    if (eq == absl::string_view::npos) continue;
    std::string k = PercentDecode(absl::StripAsciiWhitespace(item.substr(0, eq)));
    std::string v = PercentDecode(absl::StripAsciiWhitespace(item.substr(eq + 1)));
    if (!k.empty()) out.emplace_back(std::move(k), std::move(v));
  }
  return out;
}

}  // namespace

OtlpOptions OtlpOptions::FromEnv() { return FromEnv(OtlpOptions{}); }

OtlpOptions OtlpOptions::FromEnv(OtlpOptions base) {
  auto env = [](const char* name) -> absl::string_view {
    const char* v = std::getenv(name);
    return v == nullptr ? absl::string_view() : absl::string_view(v);
  };
  if (auto v = env("OTEL_EXPORTER_OTLP_ENDPOINT"); !v.empty()) base.endpoint = S(v);
  if (auto v = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); !v.empty()) base.traces_url = S(v);
  if (auto v = env("OTEL_EXPORTER_OTLP_HEADERS"); !v.empty()) {
    for (auto& kv : ParseKeyValues(v)) base.headers.push_back(std::move(kv));
  }
  if (auto v = env("OTEL_RESOURCE_ATTRIBUTES"); !v.empty()) {
    for (auto& kv : ParseKeyValues(v)) {
      if (kv.first == "service.name") {
        base.service_name = kv.second;
      } else {
        base.resource_attributes.push_back(std::move(kv));
      }
    }
  }
  if (auto v = env("OTEL_SERVICE_NAME"); !v.empty()) base.service_name = S(v);
  if (auto v = env("OTEL_EXPORTER_OTLP_COMPRESSION"); !v.empty()) base.gzip = v == "gzip";
  if (auto v = env("OTEL_EXPORTER_OTLP_TIMEOUT"); !v.empty()) {
    int64_t ms;
    if (absl::SimpleAtoi(v, &ms) && ms > 0) base.timeout = std::chrono::milliseconds(ms);
  }
  return base;
}

absl::StatusOr<std::unique_ptr<OtlpHttpSink>> MakeOtlpHttpSink(OtlpOptions options) {
  std::string url = options.traces_url;
  if (url.empty()) {
    absl::string_view base = options.endpoint;
    while (!base.empty() && base.back() == '/') base.remove_suffix(1);
    url = absl::StrCat(base, "/v1/traces");
  }
  absl::StatusOr<Url> parsed = ParseUrl(url);
  if (!parsed.ok()) return parsed.status();
  return std::unique_ptr<OtlpHttpSink>(
      new OtlpHttpSinkImpl(std::move(options), *std::move(parsed)));
}

}  // namespace tokmeter
