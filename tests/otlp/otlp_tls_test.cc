// OTLP over https://: a Beast TLS receiver on 127.0.0.1 with a self-signed
// certificate made by the openssl command for this test.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "boost/asio.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "tests/proto/sample_batch.h"
#include "tokmeter/otlp.h"

namespace tokmeter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

class TlsReceiver {
 public:
  TlsReceiver(const std::string& cert, const std::string& key)
      : ctx_(asio::ssl::context::tls_server), acceptor_(ioc_) {
    ctx_.use_certificate_chain_file(cert);
    ctx_.use_private_key_file(key, asio::ssl::context::pem);
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~TlsReceiver() {
    stop_ = true;
    boost::system::error_code ec;
    try {
      asio::io_context ioc;
      tcp::socket s(ioc);
      s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    } catch (...) {
    }
    thread_.join();
  }
  uint16_t port() const { return port_; }
  int spans() const { return spans_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      tcp::socket sock(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(sock, ec);
      if (stop_ || ec) continue;
      beast::ssl_stream<tcp::socket> tls(std::move(sock), ctx_);
      tls.handshake(asio::ssl::stream_base::server, ec);
      if (ec) continue;  // the client rejected our certificate
      beast::flat_buffer buf;
      for (;;) {
        http::request<http::string_body> req;
        http::read(tls, buf, req, ec);
        if (ec) break;
        opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest r;
        if (r.ParseFromString(req.body()) && r.resource_spans_size() > 0) {
          spans_ += r.resource_spans(0).scope_spans(0).spans_size();
        }
        http::response<http::empty_body> res{http::status::ok, 11};
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        http::write(tls, res, ec);
        if (ec) break;
      }
    }
  }

  asio::io_context ioc_;
  asio::ssl::context ctx_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> spans_{0};
  std::thread thread_;
};

class OtlpTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tokmeter_tls_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    cert_ = (dir_ / "cert.pem").string();
    key_ = (dir_ / "key.pem").string();
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
        key_ + " -out " + cert_ + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "openssl command unavailable";
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::string cert_, key_;
};

TEST_F(OtlpTlsTest, ExportsOverHttpsWithVerifiedCertificate) {
  TlsReceiver rx(cert_, key_);
  OtlpOptions o;
  o.endpoint = "https://localhost:" + std::to_string(rx.port());
  o.ca_file = cert_;
  o.timeout = 2000ms;
  o.initial_backoff = 10ms;
  auto sink = MakeOtlpHttpSink(o);
  ASSERT_TRUE(sink.ok());
  testing::SampleBatch b(1);
  b.batch.drops.clear();  // spans only: the counts below are of spans
  ASSERT_TRUE((*sink)->Write(b.batch).ok());
  ASSERT_TRUE((*sink)->WaitIdle(5000ms));
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ((*sink)->stats().spans_exported, 3u);
  EXPECT_EQ(rx.spans(), 3);
}

TEST_F(OtlpTlsTest, UntrustedCertificateIsRefused) {
  TlsReceiver rx(cert_, key_);
  OtlpOptions o;
  o.endpoint = "https://localhost:" + std::to_string(rx.port());  // system CAs only
  o.timeout = 2000ms;
  o.max_retries = 0;
  auto sink = MakeOtlpHttpSink(o);
  ASSERT_TRUE(sink.ok());
  testing::SampleBatch b(1);
  b.batch.drops.clear();  // spans only: the counts below are of spans
  ASSERT_TRUE((*sink)->Write(b.batch).ok());
  ASSERT_TRUE((*sink)->WaitIdle(5000ms));
  (*sink)->Close().IgnoreError();
  EXPECT_EQ((*sink)->stats().spans_exported, 0u);
  EXPECT_EQ((*sink)->stats().spans_failed, 3u);
  EXPECT_EQ(rx.spans(), 0);
}

}  // namespace
}  // namespace tokmeter
