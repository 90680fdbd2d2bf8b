// Protobuf files against JSONL for the same records (encode rate, sink
// drain rate, bytes per span), OTLP encoding rate, OTLP/HTTP export
// throughput to a receiver on 127.0.0.1, and what the OTLP metrics sink
// adds to a flusher pass.
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "bench/http_discard.h"
#include "benchmark/benchmark.h"
#include "boost/asio.hpp"
#include "src/otlp/metrics.h"
#include "src/otlp/otlp_encoder.h"
#include "src/proto/records.h"
#include "tests/proto/sample_batch.h"
#include "tokmeter/otlp.h"
#include "tokmeter/proto_sink.h"
#include "tokmeter/sinks.h"
#include "tokmeter/tokmeter.h"

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

// A minimal OTLP receiver on 127.0.0.1: answers 200 to every request, counts
// the body bytes (bench/http_discard.h).
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
          bench::AnswerAndDiscard(*sock, 256 << 20,
                                  [this](size_t body_bytes) { bytes_.fetch_add(body_bytes); });
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

// ---- Metrics: what the OTLP metrics sink adds to a flusher pass ----------

// The span of core_benchmark's drain benchmarks: 4 counters, 3 short tags.
TOKMETER_INTERNAL_ALWAYS_INLINE void RecordLlmSpan(int64_t input) {
  TOK_SPAN_NAMED(span, "llm", "messages");
  span.Add(Counter::kInputTokens, input)
      .Add(Counter::kOutputTokens, 230)
      .Add(Counter::kCacheReadTokens, 40000)
      .Add(Counter::kRequests, 1);
  span.Tag("provider", "anthropic").Tag("model", "claude-sonnet-4-5").Tag("status", 200);
}

// Forwards to `sink` only while `on`: one runtime drains with and without
// the metrics sink in alternate passes. Flush (an export) is forwarded
// only with `flush`: the flusher's periodic passes call Write alone, and
// the sink exports once per export_interval (60 s), so a pass without the
// export is the steady state; one with it the worst case.
class Switch : public Sink {
 public:
  Switch(std::unique_ptr<Sink> sink, const bool* on, bool flush)
      : sink_(std::move(sink)), on_(on), flush_(flush) {}
  std::string_view name() const override { return sink_->name(); }
  absl::Status Write(const Batch& b) override {
    if (!*on_) return absl::OkStatus();
    return Timed([&] { return sink_->Write(b); });
  }
  absl::Status Flush() override {
    if (!*on_ || !flush_) return absl::OkStatus();
    return Timed([&] { return sink_->Flush(); });
  }
  absl::Status Close() override { return sink_->Close(); }
  // CPU time this thread spent in the sink's Write and Flush, without the
  // clock's own (timer_ns per call), and their wall time.
  double write_cpu_ns() const { return write_cpu_ns_; }
  double write_wall_ns() const { return write_wall_ns_; }
  double timer_ns() const { return timer_ns_; }
  static double CpuNs(clockid_t clock) {
    timespec ts;
    clock_gettime(clock, &ts);
    return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
  }
  static double ThreadCpuNs() { return CpuNs(CLOCK_THREAD_CPUTIME_ID); }

 private:
  std::unique_ptr<Sink> sink_;
  const bool* on_;
  bool flush_;
  double write_cpu_ns_ = 0;
  double write_wall_ns_ = 0;
  template <typename Op>
  absl::Status Timed(Op op) {
    const double t0 = ThreadCpuNs();
    const auto w0 = std::chrono::steady_clock::now();
    absl::Status st = op();
    const auto w1 = std::chrono::steady_clock::now();
    write_cpu_ns_ += ThreadCpuNs() - t0 - timer_ns_;
    write_wall_ns_ += std::chrono::duration<double, std::nano>(w1 - w0).count();
    return st;
  }
  // What two readings of the thread's CPU clock around nothing measure (the
  // clock is a system call in some VMs: ~1.3 us, 0.6 ns a span in a pass of
  // 2,048): the least of 64 tries.
  static double TimerNs() {
    double least = 1e18;
    for (int i = 0; i < 64; ++i) {
      const double t0 = ThreadCpuNs();
      least = std::min(least, ThreadCpuNs() - t0);
    }
    return least;
  }
  const double timer_ns_ = TimerNs();
};

// Fills this thread's ring with state.range(0) spans of one trace while the
// flusher sleeps, then times one Flush(): the drain (decode, trace tags,
// roll-ups, the JSONL sink's formatting and write(2) with range(1) = 1, a
// sink that discards with 0) alone in even passes, plus the metrics sink in
// odd passes: its aggregation, and with range(2) = 1 also an export per pass
// (one request encoded and queued, posted to a local receiver).
// Counters: ns per span of each kind of pass, wall time and this thread's
// CPU time (the pass runs on the thread calling Flush; CPU time leaves out
// other processes on a shared machine and the sender and receiver threads,
// which are not the flusher's), and the overhead in percent of each; and
// the metrics sink's own CPU time per span measured inside the passes
// (sink_cpu_ns_per_span, less the CPU clock's own cost, timer_ns a Write)
// with its share of the drain without it (sink_share_pct: the issue-15
// target, <= 5 %).
void BM_DrainMetricsOverhead(benchmark::State& state) {
  const int spans = int(state.range(0));
  const bool jsonl = state.range(1) != 0;
  const bool export_each_pass = state.range(2) != 0;
  SinkReceiver rx;
  bool metrics_on = false;
  OtlpMetricsOptions mo;
  mo.otlp.endpoint = rx.endpoint();
  auto metrics = MakeOtlpMetricsSink(mo);
  std::string path = BenchPath("metrics_drain.jsonl");
  absl::StatusOr<std::unique_ptr<Sink>> base =
      jsonl ? MakeJsonlSink({.path = path, .max_bytes = uint64_t{256} << 20, .max_files = 1})
            : absl::StatusOr<std::unique_ptr<Sink>>(
                  std::make_unique<CallbackSink>([](const Batch&) {}));
  if (!metrics.ok() || !base.ok()) {
    state.SkipWithError("sink");
    return;
  }
  OtlpMetricsSink* msink = metrics->get();
  Options o;
  o.sinks.push_back(std::move(*base));
  auto sw = std::make_unique<Switch>(std::move(*metrics), &metrics_on, export_each_pass);
  Switch* metrics_switch = sw.get();
  o.sinks.push_back(std::move(sw));
  o.flush_interval = std::chrono::hours(1);
  o.ring_bytes = size_t{128} << 20;
  o.high_water = 1.0;
  auto rt = Runtime::Start(std::move(o));
  if (!rt.ok()) {
    state.SkipWithError(std::string(rt.status().message()).c_str());
    return;
  }
  int64_t input = 812;
  benchmark::DoNotOptimize(input);
  {
    TOK_TRACE_NAMED(trace, "session", "s-bench");
    trace.Tag("session", "s-bench").Tag("channel", "cli");
    // Untimed passes of the same size first (buffers grow once), with and
    // without the metrics sink.
    for (bool on : {false, true}) {
      metrics_on = on;
      for (int i = 0; i < spans; ++i) RecordLlmSpan(input);
      (void)(*rt)->Flush();
    }
    auto cpu_now = [] { return Switch::ThreadCpuNs(); };
    const double sink_ns0 = metrics_switch->write_cpu_ns();  // the untimed passes'
    const double sink_wall0 = metrics_switch->write_wall_ns();
    double wall[2] = {0, 0}, cpu[2] = {0, 0};
    int64_t passes[2] = {0, 0};
    for (auto _ : state) {
      const int k = int(passes[0] + passes[1]) % 2;
      metrics_on = k == 1;
      for (int i = 0; i < spans; ++i) RecordLlmSpan(input);
      double c0 = cpu_now();
      auto t0 = std::chrono::steady_clock::now();
      (void)(*rt)->Flush();
      auto t1 = std::chrono::steady_clock::now();
      double c1 = cpu_now();
      double d = std::chrono::duration<double>(t1 - t0).count();
      state.SetIterationTime(d);
      wall[k] += d * 1e9;
      cpu[k] += c1 - c0;
      ++passes[k];
    }
    auto per_span = [&](const double* v, int k) {
      return passes[k] ? v[k] / double(passes[k] * spans) : 0;
    };
    auto pct = [](double base, double with) { return base > 0 ? (with - base) / base * 100 : 0; };
    state.counters["base_cpu_ns_per_span"] = per_span(cpu, 0);
    state.counters["metrics_cpu_ns_per_span"] = per_span(cpu, 1);
    state.counters["overhead_cpu_pct"] = pct(per_span(cpu, 0), per_span(cpu, 1));
    state.counters["overhead_wall_pct"] = pct(per_span(wall, 0), per_span(wall, 1));
    // The metrics sink's own time (Write, and Flush when forwarded), timed
    // inside the pass: what it adds, without the noise of comparing passes.
    const double sink_ns =
        passes[1] ? (metrics_switch->write_cpu_ns() - sink_ns0) / double(passes[1] * spans) : 0;
    state.counters["sink_cpu_ns_per_span"] = sink_ns;
    state.counters["timer_ns"] = metrics_switch->timer_ns();
    state.counters["sink_wall_ns_per_span"] =
        passes[1] ? (metrics_switch->write_wall_ns() - sink_wall0) / double(passes[1] * spans) : 0;
    state.counters["sink_share_pct"] = per_span(cpu, 0) > 0 ? sink_ns / per_span(cpu, 0) * 100 : 0;
  }
  state.SetItemsProcessed(state.iterations() * spans);
  metrics_on = true;
  (void)(*rt)->Shutdown();  // Close: the final export
  state.counters["metric_exports"] = double(msink->stats().exports);
  state.counters["spans_aggregated"] = double(msink->stats().spans_recorded);
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".1");
}
// 2,048 spans per pass (a 2 ms flush at 1 M spans/s), 32,768, and 262,144
// (the default 200 ms flush interval at ~1.3 M spans/s, with rings large
// enough); JSONL and discard; steady state and an export per pass. Passes
// alternate without and with the sink: 1,024 of 2,048 spans, 64 of the
// larger (a few hundred ms of passes each, to average out a noisy machine).
BENCHMARK(BM_DrainMetricsOverhead)
    ->ArgNames({"spans", "jsonl", "export"})
    ->Args({2048, 1, 0})
    ->Args({2048, 1, 1})
    ->Args({2048, 0, 0})
    ->Iterations(1024)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DrainMetricsOverhead)
    ->ArgNames({"spans", "jsonl", "export"})
    ->Args({1 << 15, 1, 0})
    ->Args({1 << 15, 1, 1})
    ->Args({1 << 15, 0, 0})
    ->Iterations(64)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DrainMetricsOverhead)
    ->ArgNames({"spans", "jsonl", "export"})
    ->Args({1 << 18, 1, 0})
    ->Args({1 << 18, 1, 1})
    ->Iterations(64)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// The metrics sink's target as stated, at 1 M spans/s: `producers` threads
// record the metrics benchmark's span at 1 M spans/s in all for 1 s (bursts
// every 100 us, sleeping between them, as agent threads would), with
// default options (1 MiB rings, 200 ms interval: the flusher drains when a
// ring is a quarter full), into JSONL and, with metrics:1, the metrics sink
// (no export in that second: it exports once a minute). The flusher's CPU time
// is the process's less the producers' (this thread sleeps, then runs the
// last pass); the sink's is timed inside its Writes. Counters: pass size,
// the flusher's CPU a span, the sink's, and the sink's share of the rest of
// the drain (sink_share_pct). The passes of several threads' spans sorted
// by time interleave their runs (2 threads: runs of ~6 spans).
void BM_Sustained1MMetrics(benchmark::State& state) {
  const int producers = int(state.range(0));
  const bool with_metrics = state.range(1) != 0;
  const double rate_per_thread = 1e6 / producers;
  const auto duration = std::chrono::seconds(1);
  for (auto _ : state) {
    SinkReceiver rx;
    OtlpMetricsOptions mo;
    mo.otlp.endpoint = rx.endpoint();
    auto metrics = MakeOtlpMetricsSink(mo);
    const std::string path = BenchPath("metrics_sustained.jsonl");
    auto jsonl = MakeJsonlSink({.path = path, .max_bytes = uint64_t{1} << 30, .max_files = 1});
    if (!metrics.ok() || !jsonl.ok()) {
      state.SkipWithError("sink");
      return;
    }
    bool on = with_metrics;
    Options o;
    o.sinks.push_back(std::move(*jsonl));
    auto sw = std::make_unique<Switch>(std::move(*metrics), &on, false);
    Switch* metrics_switch = sw.get();
    o.sinks.push_back(std::move(sw));
    auto rt = Runtime::Start(std::move(o));
    if (!rt.ok()) {
      state.SkipWithError(std::string(rt.status().message()).c_str());
      return;
    }
    std::atomic<int64_t> produced{0};
    std::atomic<int64_t> producer_cpu_ns{0};
    const auto start = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
      threads.emplace_back([&] {
        int64_t input = 812;
        benchmark::DoNotOptimize(input);
        TOK_TRACE_NAMED(trace, "session", "s-bench");
        trace.Tag("session", "s-bench").Tag("channel", "cli");
        std::this_thread::sleep_until(start);
        const double cpu0 = Switch::ThreadCpuNs();
        int64_t done = 0;
        auto next = start;
        for (;;) {
          const auto now = std::chrono::steady_clock::now();
          if (now - start >= duration) break;
          const int64_t owed =
              int64_t(std::chrono::duration<double>(now - start).count() * rate_per_thread) - done;
          for (int64_t i = 0; i < owed; ++i) RecordLlmSpan(input);
          done += std::max<int64_t>(owed, 0);
          next += std::chrono::microseconds(100);
          std::this_thread::sleep_until(next);
        }
        producer_cpu_ns += int64_t(Switch::ThreadCpuNs() - cpu0);
        produced += done;
      });
    }
    // The window: from the producers' start to the end of the flush after
    // them (this thread sleeps meanwhile; that last pass runs on it).
    std::this_thread::sleep_until(start);
    const tokmeter::Stats s0 = (*rt)->stats();
    const double process0 = Switch::CpuNs(CLOCK_PROCESS_CPUTIME_ID);
    const double sink0 = metrics_switch->write_cpu_ns();
    for (auto& t : threads) t.join();
    (void)(*rt)->Flush();  // the last pass runs here; counted as the flusher's
    const double process1 = Switch::CpuNs(CLOCK_PROCESS_CPUTIME_ID);
    const tokmeter::Stats s1 = (*rt)->stats();
    const double spans = double(s1.spans - s0.spans);
    const double flusher = process1 - process0 - double(producer_cpu_ns.load());
    const double sink = metrics_switch->write_cpu_ns() - sink0;
    (void)(*rt)->Shutdown();
    state.counters["spans_per_s"] =
        double(produced.load()) / std::chrono::duration<double>(duration).count();
    state.counters["dropped"] = double(s1.dropped);
    state.counters["spans_per_pass"] =
        spans / double(std::max<uint64_t>(s1.flushes - s0.flushes, 1));
    state.counters["flusher_cpu_ns_per_span"] = flusher / spans;
    state.counters["sink_cpu_ns_per_span"] = sink / spans;
    state.counters["sink_share_pct"] = flusher > sink ? sink / (flusher - sink) * 100 : 0;
    std::filesystem::remove(path);
    std::filesystem::remove(path + ".1");
  }
}
BENCHMARK(BM_Sustained1MMetrics)
    ->ArgNames({"producers", "metrics"})
    ->Args({1, 1})
    ->Args({2, 0})
    ->Args({2, 1})
    ->Args({8, 1})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The aggregation alone: Record of decoded spans (one series), per span.
void BM_MetricsRecord(benchmark::State& state) {
  testing::SampleBatch b(kPairs);
  auto agg = otlp::MetricsAggregator::Make(OtlpMetricsOptions{}.attributes,
                                           OtlpTemporality::kCumulative, 2000, 0);
  for (auto _ : state) {
    agg->BeginBatch();
    for (const SpanRecord& s : b.batch.spans) agg->Record(s, "");
  }
  state.SetItemsProcessed(state.iterations() * int64_t(b.batch.spans.size()));
}
BENCHMARK(BM_MetricsRecord);

// The drain benchmark's span decoded: 4 counters, 3 literal tags, trace tags.
// Arg 0: Record one span at a time (as `tokmeter export` does); 1: the GenAI
// facts alone; 2: RecordSpans of the batch (as the metrics sink does); 3:
// the same with the spans of two sessions in turns of 6, 4: of eight in
// turns of 13 (threads' spans sorted by time: the batches of
// BM_Sustained1MMetrics with 2 and 8 recording threads have runs of ~6
// and ~13 spans).
void BM_MetricsRecordLlm(benchmark::State& state) {
  std::vector<Tag> tags = {{"provider", TagType::kString, "anthropic", 0},
                           {"model", TagType::kString, "claude-sonnet-4-5", 0},
                           {"status", TagType::kInt, "", 200}};
  std::vector<Tag> trace_tags = {{"session", TagType::kString, "s-bench", 0},
                                 {"channel", TagType::kString, "cli", 0}};
  // Modes 3 and 4: the trace tags of 2 and 8 sessions.
  std::vector<std::vector<Tag>> sessions;
  for (int i = 0; i < 8; ++i) {
    sessions.push_back({{"session", TagType::kString, i == 0 ? "s-bench" : "s-other", i},
                        {"channel", TagType::kString, "cli", 0}});
  }
  std::vector<SpanRecord> spans(size_t(state.range(1)));
  for (size_t i = 0; i < spans.size(); ++i) {
    SpanRecord& s = spans[i];
    s.trace_id = {1, 2};
    s.span_id = 3 + i;
    s.start_unix_ns = int64_t(i) * 1000;
    s.end_unix_ns = s.start_unix_ns + 1733;
    s.kind = "llm";
    s.name = "messages";
    s.counters.Add(Counter::kInputTokens, 812);
    s.counters.Add(Counter::kOutputTokens, 230);
    s.counters.Add(Counter::kCacheReadTokens, 40000);
    s.counters.Add(Counter::kRequests, 1);
    s.tags = tags;
    s.trace_tags = state.range(0) == 3   ? sessions[i / 6 % 2]
                   : state.range(0) == 4 ? sessions[i / 13 % 8]
                                         : trace_tags;
  }
  auto agg = otlp::MetricsAggregator::Make(OtlpMetricsOptions{}.attributes,
                                           OtlpTemporality::kCumulative, 2000, 0);
  if (state.range(0) == 1) {  // the GenAI facts alone
    for (auto _ : state) {
      for (const SpanRecord& s : spans) {
        otlp::GenAiFacts f;
        otlp::Describe(s, "", f);
        benchmark::DoNotOptimize(f);
      }
    }
  } else if (state.range(0) >= 2) {  // what the metrics sink does per Write
    for (auto _ : state) agg->RecordSpans(spans);
  } else {
    for (auto _ : state) {
      agg->BeginBatch();
      for (const SpanRecord& s : spans) agg->Record(s, "");
    }
  }
  state.SetItemsProcessed(state.iterations() * int64_t(spans.size()));
}
BENCHMARK(BM_MetricsRecordLlm)
    ->Args({0, 2048})
    ->Args({1, 2048})
    ->Args({2, 2048})
    ->Args({2, 128})
    ->Args({3, 2048})
    ->Args({4, 2048});

}  // namespace
}  // namespace tokmeter

BENCHMARK_MAIN();
