// Protobuf files against JSONL for the same records (encode rate, sink
// drain rate, bytes per span), OTLP encoding rate, and OTLP/HTTP export
// throughput to a receiver on 127.0.0.1.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "benchmark/benchmark.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "src/otlp/otlp_encoder.h"
#include "src/proto/records.h"
#include "tests/proto/sample_batch.h"
#include "tokmeter/otlp.h"
#include "tokmeter/proto_sink.h"
#include "tokmeter/sinks.h"

namespace tokmeter {
namespace {

// ~1,000 spans per batch: a busy flusher pass.
constexpr int kPairs = 500;

void BM_EncodeJsonl(benchmark::State& state) {
  testing::SampleBatch b(kPairs);
  std::string out;
  for (auto _ : state) {
    out.clear();
    AppendJsonl(b.batch, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * int64_t(b.batch.size()));
  state.counters["bytes_per_record"] = double(out.size()) / double(b.batch.size());
}
BENCHMARK(BM_EncodeJsonl);

void BM_EncodeProtobuf(benchmark::State& state) {
  testing::SampleBatch b(kPairs);
  proto::ChunkEncoder enc;
  std::string out;
  for (auto _ : state) {
    out.clear();
    enc.AddBatch(b.batch);
    enc.Finish(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * int64_t(b.batch.size()));
  state.counters["bytes_per_record"] = double(out.size()) / double(b.batch.size());
}
BENCHMARK(BM_EncodeProtobuf);

std::string BenchPath(const char* name) {
  return (std::filesystem::temp_directory_path() /
          (std::string("tokmeter_bench_") + std::to_string(::getpid()) + "_" + name))
      .string();
}

// Sink drain: Write() of whole batches into a file (rotating at 64 MiB so
// the disk does not fill), bytes written per record reported.
template <bool kProto>
void BM_SinkDrain(benchmark::State& state) {
  testing::SampleBatch b(kPairs);
  std::string path = BenchPath(kProto ? "drain.pb" : "drain.jsonl");
  uint64_t max_bytes = uint64_t{64} << 20;
  absl::StatusOr<std::unique_ptr<Sink>> sink =
      kProto ? MakeProtobufSink({.path = path, .max_bytes = max_bytes, .max_files = 1})
             : MakeJsonlSink({.path = path, .max_bytes = max_bytes, .max_files = 1});
  if (!sink.ok()) {
    state.SkipWithError(std::string(sink.status().message()).c_str());
    return;
  }
  for (auto _ : state) {
    absl::Status st = (*sink)->Write(b.batch);
    if (!st.ok()) state.SkipWithError(std::string(st.message()).c_str());
  }
  (*sink)->Close().IgnoreError();
  state.SetItemsProcessed(state.iterations() * int64_t(b.batch.size()));
  // One batch's file size, for the ratio.
  std::string one;
  if (kProto) {
    proto::ChunkEncoder enc;
    enc.AddBatch(b.batch);
    enc.Finish(one);
  } else {
    AppendJsonl(b.batch, one);
  }
  state.counters["bytes_per_record"] = double(one.size()) / double(b.batch.size());
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".1");
}
BENCHMARK(BM_SinkDrain<false>)->Name("BM_SinkDrainJsonl")->UseRealTime();
BENCHMARK(BM_SinkDrain<true>)->Name("BM_SinkDrainProtobuf")->UseRealTime();

void BM_EncodeOtlp(benchmark::State& state) {
  testing::SampleBatch b(kPairs);
  std::string spans, body;
  std::string resource = otlp::EncodeOtlpResource("bench", {});
  for (auto _ : state) {
    spans.clear();
    body.clear();
    for (const SpanRecord& s : b.batch.spans) otlp::AppendOtlpSpan(s, spans);
    otlp::AppendExportRequest(resource, spans, body);
    benchmark::DoNotOptimize(body.data());
  }
  state.SetItemsProcessed(state.iterations() * int64_t(b.batch.spans.size()));
  state.counters["bytes_per_span"] = double(body.size()) / double(b.batch.spans.size());
}
BENCHMARK(BM_EncodeOtlp);

// A minimal OTLP receiver: reads requests, answers 200, counts bytes.
class SinkReceiver {
 public:
  SinkReceiver() : acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] {
      for (;;) {
        auto sock = std::make_shared<boost::asio::ip::tcp::socket>(ioc_);
        boost::system::error_code ec;
        acceptor_.accept(*sock, ec);
        if (stop_.load()) return;
        if (ec) continue;
        std::lock_guard<std::mutex> lock(mu_);
        fds_.push_back(sock->native_handle());
        conns_.emplace_back([this, sock] {
          namespace http = boost::beast::http;
          boost::beast::flat_buffer buf;
          for (;;) {
            http::request_parser<http::string_body> p;
            p.body_limit(256 << 20);
            boost::system::error_code ec;
            http::read(*sock, buf, p, ec);
            if (ec) return;
            bytes_.fetch_add(p.get().body().size());
            http::response<http::empty_body> res{http::status::ok, 11};
            res.keep_alive(true);
            res.prepare_payload();
            http::write(*sock, res, ec);
            if (ec) return;
          }
        });
      }
    });
  }
  ~SinkReceiver() {
    stop_.store(true);
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    try {
      boost::asio::io_context ioc;
      boost::asio::ip::tcp::socket s(ioc);
      s.connect({boost::asio::ip::make_address("127.0.0.1"), port_});
    } catch (...) {
    }
    thread_.join();
    for (auto& t : conns_) t.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> bytes_{0};
  std::thread thread_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> conns_;
};

// End to end: the flusher-side Write (encode + enqueue) and the sender
// posting to a local receiver. spans_per_second is exported spans over the
// wall time until the queue drained; max_write_us is the slowest Write.
void BM_OtlpExport(benchmark::State& state) {
  SinkReceiver rx;
  OtlpOptions o;
  o.endpoint = rx.endpoint();
  o.max_batch_spans = size_t(state.range(0));
  o.max_queue_spans = 1 << 20;
  o.gzip = state.range(1) != 0;
  auto sink = MakeOtlpHttpSink(o);
  if (!sink.ok()) {
    state.SkipWithError("sink");
    return;
  }
  testing::SampleBatch b(kPairs);
  double max_write_us = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    auto w0 = std::chrono::steady_clock::now();
    (*sink)->Write(b.batch).IgnoreError();
    double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - w0).count();
    max_write_us = std::max(max_write_us, us);
  }
  (*sink)->WaitIdle(std::chrono::milliseconds(60000));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  OtlpStats st = (*sink)->stats();
  (*sink)->Close().IgnoreError();
  state.SetItemsProcessed(int64_t(st.spans_exported));
  state.counters["spans_per_second"] = double(st.spans_exported) / secs;
  state.counters["max_write_us"] = max_write_us;
  state.counters["dropped"] = double(st.spans_dropped + st.spans_failed);
  state.counters["requests"] = double(st.requests);
}
BENCHMARK(BM_OtlpExport)
    ->Args({2048, 0})
    ->Args({4096, 0})
    ->Args({8192, 0})
    ->Args({8192, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tokmeter

BENCHMARK_MAIN();
