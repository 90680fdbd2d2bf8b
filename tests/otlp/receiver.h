// An OTLP/HTTP receiver on 127.0.0.1 for the tests (one thread per
// connection, scripted replies), and helpers to read what it received with
// the official opentelemetry-proto classes.
#ifndef TOKMETER_TESTS_OTLP_RECEIVER_H_
#define TOKMETER_TESTS_OTLP_RECEIVER_H_

#include <sys/socket.h>
#include <zlib.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "gtest/gtest.h"
#include "opentelemetry/proto/common/v1/common.pb.h"
#include "tokmeter/otlp.h"

namespace tokmeter::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

inline std::string Gunzip(const std::string& in) {
  z_stream zs{};
  inflateInit2(&zs, 15 + 16);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = uInt(in.size());
  std::string out;
  int rc = Z_OK;
  while (rc == Z_OK) {
    out.resize(out.size() + in.size() * 4 + 4096);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + zs.total_out);
    zs.avail_out = uInt(out.size() - zs.total_out);
    rc = inflate(&zs, Z_NO_FLUSH);
  }
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string("gunzip failed");
}

// What the receiver answers to one request.
struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  bool hang = false;  // never answer (until the receiver stops)
};

struct Received {
  std::string target;
  std::map<std::string, std::string> headers;
  std::string body;  // gunzipped if it was gzip
  Clock::time_point at;
};

// An OTLP/HTTP receiver on 127.0.0.1:<ephemeral>, one thread per connection.
class Receiver {
 public:
  using Handler = std::function<Reply(int index)>;
  explicit Receiver(Handler h = nullptr) : handler_(std::move(h)), acceptor_(ioc_) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~Receiver() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    cv_.notify_all();
    // Wake the blocking accept.
    try {
      asio::io_context ioc;
      tcp::socket s(ioc);
      s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    } catch (...) {
    }
    accept_thread_.join();
    for (auto& t : conn_threads_) t.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Received> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  int count() {
    std::lock_guard<std::mutex> lock(mu_);
    return int(received_.size());
  }

 private:
  void AcceptLoop() {
    for (;;) {
      auto sock = std::make_shared<tcp::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(*sock, ec);
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      if (ec) continue;
      fds_.push_back(sock->native_handle());
      conn_threads_.emplace_back([this, sock] { Serve(*sock); });
    }
  }
  void Serve(tcp::socket& sock) {
    beast::flat_buffer buf;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 << 20);
      boost::system::error_code ec;
      http::read(sock, buf, parser, ec);
      if (ec) return;
      auto& req = parser.get();
      Received r;
      r.target = std::string(req.target());
      for (const auto& f : req) r.headers[std::string(f.name_string())] = std::string(f.value());
      r.body = req[http::field::content_encoding] == "gzip" ? Gunzip(req.body()) : req.body();
      r.at = Clock::now();
      int index;
      {
        std::lock_guard<std::mutex> lock(mu_);
        index = int(received_.size());
        received_.push_back(std::move(r));
      }
      Reply reply = handler_ ? handler_(index) : Reply{};
      if (reply.hang) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_; });
        return;
      }
      http::response<http::string_body> res{http::status(reply.status), 11};
      for (const auto& [k, v] : reply.headers) res.set(k, v);
      res.set(http::field::content_type, "application/x-protobuf");
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(sock, res, ec);
      if (ec) return;
    }
  }

  Handler handler_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::vector<std::thread> conn_threads_;  // joined in the destructor
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<int> fds_;
  std::vector<Received> received_;
};

using AttrValue = std::variant<std::string, int64_t, bool, double>;

inline std::map<std::string, AttrValue> Attrs(
    const google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>& kvs) {
  std::map<std::string, AttrValue> out;
  for (const auto& kv : kvs) {
    EXPECT_EQ(out.count(kv.key()), 0u) << "duplicate key " << kv.key();
    switch (kv.value().value_case()) {
      case opentelemetry::proto::common::v1::AnyValue::kStringValue:
        out[kv.key()] = kv.value().string_value();
        break;
      case opentelemetry::proto::common::v1::AnyValue::kIntValue:
        out[kv.key()] = kv.value().int_value();
        break;
      case opentelemetry::proto::common::v1::AnyValue::kBoolValue:
        out[kv.key()] = kv.value().bool_value();
        break;
      case opentelemetry::proto::common::v1::AnyValue::kDoubleValue:
        out[kv.key()] = kv.value().double_value();
        break;
      default:
        ADD_FAILURE() << "unexpected value type for " << kv.key();
    }
  }
  return out;
}

// The bytes OTLP carries an id in: each 64-bit word big-endian.
inline std::string Bytes(std::initializer_list<uint64_t> words) {
  std::string out;
  for (uint64_t w : words) {
    for (int i = 7; i >= 0; --i) out.push_back(char((w >> (8 * i)) & 0xff));
  }
  return out;
}

// Span exporter options for a receiver on 127.0.0.1: short timeouts and
// backoff, so retry tests take milliseconds.
inline OtlpOptions FastOptions(const std::string& endpoint) {
  using namespace std::chrono_literals;
  OtlpOptions o;
  o.endpoint = endpoint;
  o.timeout = 500ms;
  o.initial_backoff = 10ms;
  o.max_backoff = 40ms;
  o.close_timeout = 2000ms;
  return o;
}

}  // namespace tokmeter::testing

#endif  // TOKMETER_TESTS_OTLP_RECEIVER_H_
