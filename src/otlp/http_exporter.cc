// The HTTP sender (http_exporter.h): Boost.Beast over Boost.Asio (TLS through
// Asio ssl / OpenSSL), gzip through zlib, one sender thread per exporter.
#include "src/otlp/http_exporter.h"

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
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
#include "tokmeter/version.h"

namespace tokmeter::otlp {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string S(absl::string_view v) { return std::string(v); }

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

absl::Status Gzip(absl::string_view in, std::string& out) {
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

struct HttpResult {
  int status = 0;  // 0: no response (network error, timeout)
  std::optional<std::chrono::milliseconds> retry_after;
  absl::Status error;  // set when status == 0
};

// One keep-alive connection to the endpoint, used by the sender thread
// only; Abort() may be called from any thread.
class HttpClient {
 public:
  HttpClient(Url url, const HttpExporterOptions& o)
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
  // alive connection the server closed while idle is replaced once,
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

  // Thread-safe: makes a Post in progress (or the next one) return at once.
  void Abort() {
    aborted_.store(true);
    ioc_.stop();
  }

 private:
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
                                     : absl::DeadlineExceededError(absl::StrCat(
                                           "request to ", url_.host, ":", url_.port,
                                           " timed out after ", opts_.timeout.count(), " ms"));
      return result;
    }
    if (failure) {
      Disconnect();
      result.status = 0;
      try {
        std::rethrow_exception(failure);
      } catch (const boost::system::system_error& e) {
        result.error = absl::UnavailableError(
            absl::StrCat("request to ", url_.host, ":", url_.port, " failed: ", e.what()));
      } catch (const std::exception& e) {
        result.error = absl::UnavailableError(absl::StrCat("request failed: ", e.what()));
      }
    }
    return result;
  }

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
    req.set(http::field::user_agent, "tokmeter/" TOKMETER_VERSION_STRING);
    req.set(http::field::content_type, opts_.content_type);
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
  const HttpExporterOptions& opts_;
  asio::io_context ioc_;
  asio::ssl::context ssl_;
  tcp::resolver resolver_;
  std::optional<beast::tcp_stream> tcp_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  std::atomic<bool> aborted_{false};  // seq_cst: pairs with the checks in PostOnce
};

}  // namespace

class HttpExporter::Impl {
 public:
  Impl(HttpExporterOptions o, Url url, Assemble assemble)
      : opts_(std::move(o)), assemble_(std::move(assemble)), client_(std::move(url), opts_) {
    if (opts_.max_batch_items == 0) opts_.max_batch_items = 1;
    if (opts_.name.empty()) opts_.name = opts_.url;
    sender_ = std::thread(&Impl::Run, this);
  }

  absl::Status Enqueue(std::string part, size_t items, bool block) {
    std::unique_lock<std::mutex> lock(mu_);
    if (block) {
      // Room, or an empty queue (a part larger than the whole queue), or
      // closing.
      room_cv_.wait(lock, [&] {
        return closing_ || queued_items_ == 0 || queued_items_ + items <= opts_.max_queue_items;
      });
    }
    if (closing_) {
      return absl::FailedPreconditionError(absl::StrCat(opts_.name, ": exporter closed"));
    }
    if (queued_items_ + items > opts_.max_queue_items && !(block && queued_items_ == 0)) {
      lock.unlock();
      items_dropped_.fetch_add(items, std::memory_order_relaxed);
      return absl::ResourceExhaustedError(
          absl::StrCat(opts_.name, ": queue full (", opts_.max_queue_items, " ", opts_.item_noun,
                       "), ", items, " ", opts_.item_noun, " dropped"));
    }
    queued_items_ += items;
    queue_.push_back(Part{std::move(part), items});
    items_queued_.fetch_add(items, std::memory_order_relaxed);
    cv_.notify_all();
    return absl::OkStatus();
  }

  std::string TakeFailure() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string f;
    f.swap(pending_failure_);
    return f;
  }

  bool WaitIdle(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.notify_all();
    return idle_cv_.wait_for(lock, timeout, [&] {
      return (queue_.empty() && !in_flight_) || sender_done_;
    }) && queue_.empty();
  }

  absl::Status Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return absl::OkStatus();
      closed_ = true;
      closing_ = true;
      close_deadline_ = Clock::now() + opts_.close_timeout;
    }
    cv_.notify_all();
    room_cv_.notify_all();
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
      for (const Part& p : queue_) left += p.items;
      queue_.clear();
      queued_items_ = 0;
    }
    items_failed_.fetch_add(left, std::memory_order_relaxed);
    if (left > 0) {
      return absl::DeadlineExceededError(absl::StrCat(opts_.name, ": ", left, " ", opts_.item_noun,
                                                      " not sent within close_timeout (",
                                                      opts_.close_timeout.count(), " ms)"));
    }
    return absl::OkStatus();
  }

  HttpExporterStats stats() const {
    HttpExporterStats s;
    s.items_queued = items_queued_.load(std::memory_order_relaxed);
    s.items_exported = items_exported_.load(std::memory_order_relaxed);
    s.items_dropped = items_dropped_.load(std::memory_order_relaxed);
    s.items_failed = items_failed_.load(std::memory_order_relaxed);
    s.requests = requests_.load(std::memory_order_relaxed);
    s.retries = retries_.load(std::memory_order_relaxed);
    s.bytes_sent = bytes_sent_.load(std::memory_order_relaxed);
    return s;
  }

  const HttpExporterOptions& options() const { return opts_; }

 private:
  struct Part {
    std::string bytes;
    size_t items = 0;
  };

  // The sender thread: takes up to max_batch_items items, posts, retries.
  void Run() {
    std::string body, compressed;
    std::vector<std::string> taken;
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
        // Move (not copy) a request's worth of parts out of the queue.
        while (!queue_.empty() && (n == 0 || n + queue_.front().items <= opts_.max_batch_items)) {
          n += queue_.front().items;
          queued_items_ -= queue_.front().items;
          taken.push_back(std::move(queue_.front().bytes));
          queue_.pop_front();
        }
        in_flight_ = true;
      }
      room_cv_.notify_all();
      body.clear();
      assemble_(taken, body);
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
        items_exported_.fetch_add(n, std::memory_order_relaxed);
        return;
      }
      bool retryable = r.status == 0 || r.status == 429 || r.status == 502 || r.status == 503 ||
                       r.status == 504 || (opts_.retry_server_errors && r.status >= 500);
      // The exporter's name says where (not the URL: a webhook's holds its
      // secret).
      last = r.status == 0 ? r.error : absl::UnavailableError(absl::StrCat("HTTP ", r.status));
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
    items_failed_.fetch_add(n, std::memory_order_relaxed);
    absl::Status st(last.code(), absl::StrCat(opts_.name, ": ", n, " ", opts_.item_noun,
                                              " dropped after retries: ", last.message()));
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

  HttpExporterOptions opts_;
  Assemble assemble_;
  HttpClient client_;
  std::thread sender_;

  std::mutex mu_;
  std::condition_variable cv_;        // wakes the sender: work, closing, abort
  std::condition_variable idle_cv_;   // sender idle or done
  std::condition_variable room_cv_;   // the queue shrank (blocking Enqueue)
  std::deque<Part> queue_;            // guarded by mu_
  size_t queued_items_ = 0;           // guarded by mu_
  bool in_flight_ = false;            // guarded by mu_
  bool closing_ = false;              // guarded by mu_
  bool closed_ = false;               // guarded by mu_
  bool abort_ = false;                // guarded by mu_
  bool sender_done_ = false;          // guarded by mu_
  Clock::time_point close_deadline_;  // guarded by mu_
  std::string pending_failure_;       // guarded by mu_

  // Stats; relaxed: read as a snapshot, no ordering with the queue.
  std::atomic<uint64_t> items_queued_{0}, items_exported_{0}, items_dropped_{0}, items_failed_{0},
      requests_{0}, retries_{0}, bytes_sent_{0};
};

absl::StatusOr<Url> ParseUrl(absl::string_view url, absl::string_view what) {
  Url u;
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "https://")) {
    u.tls = true;
  } else if (!absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must start with http:// or https://: \"", url, "\""));
  }
  size_t slash = rest.find('/');
  absl::string_view hostport = rest.substr(0, slash);
  u.target = slash == absl::string_view::npos ? "/" : S(rest.substr(slash));
  if (hostport.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has no host: \"", url, "\""));
  }
  if (hostport.front() == '[') {  // [v6]:port
    size_t close = hostport.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": bad IPv6 host in \"", url, "\""));
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
  uint32_t port = 0;
  if (!absl::SimpleAtoi(u.port, &port) || port == 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": bad port \"", u.port, "\" in \"", url, "\""));
  }
  if (u.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has no host: \"", url, "\""));
  }
  return u;
}

std::string JoinUrl(absl::string_view base, absl::string_view path) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return absl::StrCat(base, path);
}

std::vector<std::pair<std::string, std::string>> ParseKeyValueList(absl::string_view s) {
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

void HttpExporter::Concatenate(std::span<const std::string> parts, std::string& body) {
  size_t size = 0;
  for (const std::string& p : parts) size += p.size();
  body.reserve(size);
  for (const std::string& p : parts) body.append(p);
}

absl::StatusOr<std::unique_ptr<HttpExporter>> HttpExporter::Start(HttpExporterOptions options,
                                                                  Assemble assemble) {
  absl::StatusOr<Url> url = ParseUrl(options.url, "endpoint");
  if (!url.ok()) return url.status();
  if (!assemble) assemble = Concatenate;
  return std::unique_ptr<HttpExporter>(new HttpExporter(
      std::make_unique<Impl>(std::move(options), *std::move(url), std::move(assemble))));
}

HttpExporter::HttpExporter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpExporter::~HttpExporter() { impl_->Close().IgnoreError(); }
absl::Status HttpExporter::Enqueue(std::string part, size_t items, bool block) {
  return impl_->Enqueue(std::move(part), items, block);
}
std::string HttpExporter::TakeFailure() { return impl_->TakeFailure(); }
bool HttpExporter::WaitIdle(std::chrono::milliseconds timeout) { return impl_->WaitIdle(timeout); }
absl::Status HttpExporter::Close() { return impl_->Close(); }
HttpExporterStats HttpExporter::stats() const { return impl_->stats(); }
const HttpExporterOptions& HttpExporter::options() const { return impl_->options(); }

}  // namespace tokmeter::otlp
