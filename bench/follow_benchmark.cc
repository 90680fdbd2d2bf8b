// Follower benchmarks: lines appended between Polls (target: keeps up with
// 200,000 appended tokmeter JSONL lines/s, well under 64 MiB RSS), and Polls
// over a directory of thousands of files where nothing changed.
//
//   follow_benchmark run [LINES_PER_POLL=10000] [POLLS=100]
//       appends LINES_PER_POLL lines, Polls, and again POLLS times; prints the
//       Poll time, lines/s and peak RSS, then the peer on the same bytes: one
//       ReadInputs pass over the final file (1 thread, then 2).
//   follow_benchmark first-poll PATH...
//       what a Follower's first Polls deliver for PATHs against one ReadInputs
//       pass (time, events, totals; e.g. a reader_benchmark gen-claude tree)
//   follow_benchmark [--benchmark_...]   Google Benchmark suites
//
// Run `run` in a fresh process: peak RSS (getrusage ru_maxrss) is per process.
#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/corpus_gen.h"
#include "benchmark/benchmark.h"
#include "src/analysis/follow.h"
#include "src/analysis/reader.h"

namespace tokmeter::analysis {
namespace {

namespace fs = std::filesystem;

using bench::AppendSpanLine;
using bench::AppendTraceLine;
using bench::Rng;

// `n` tokmeter JSONL lines as the JSONL sink writes them: a trace line every
// 20 spans, 70% llm spans with token counts, 30% tool spans.
std::string MakeLines(int n, uint64_t stream, int* spans) {
  Rng r{stream};
  std::string out;
  out.reserve(size_t(n) * 480);  // one allocation: the process RSS stays the reader's
  std::string trace;
  *spans = 0;
  for (int i = 0; i < n; ++i) {
    char ts[40];
    snprintf(ts, sizeof ts, "2026-11-23T09:%02d:%02d.%03dZ", (i / 60) % 60, i % 60, i % 1000);
    if (i % 20 == 0) {
      trace = AppendTraceLine(out, r, ts, i);
      continue;
    }
    ++*spans;
    bool llm = r.Next() % 10 < 7;
    AppendSpanLine(out, r, trace, llm,
                   [&](Rng&) { return std::pair<std::string, std::string>(ts, ts); });
  }
  return out;
}

void WriteAll(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n <= 0) std::abort();
    s.remove_prefix(size_t(n));
  }
}

double RssMiB() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f != nullptr) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return double(resident) * double(::sysconf(_SC_PAGESIZE)) / (1 << 20);
}
// Heap bytes in use (malloc'd, not yet freed).
double HeapBytes() {
  struct mallinfo2 m = mallinfo2();
  return double(m.uordblks) + double(m.hblkhd);
}
double PeakRssMiB() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;
}

struct TempPath {
  fs::path dir;
  TempPath() {
    std::string tmpl = (fs::temp_directory_path() / "tokmeter_follow_XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    dir = p != nullptr ? p : "/tmp";
  }
  ~TempPath() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

// ---- run: the appended-lines figure and its peer -----------------------------

int Run(int per_poll, int polls) {
  TempPath tmp;
  std::string path = (tmp.dir / "usage.jsonl").string();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  // New lines for every Poll (made before the Poll, not timed): 500 new
  // traces per 10,000 lines, so the Follower's trace map reaches its bound.
  int spans_per_batch = 0;
  std::string batch = MakeLines(per_poll, 1000, &spans_per_batch);
  const double rss_before = RssMiB();
  const double heap_before = HeapBytes();

  FollowOptions o;
  Follower follower({path}, o);
  int64_t events = 0;
  TokenBuckets follow_totals;
  auto fn = [&](const UsageEvent& e) {
    ++events;
    follow_totals.Add(e.tokens);
  };
  double poll_s = 0, max_poll_s = 0;
  std::vector<double> each;
  int64_t lines = 0;
  for (int i = 0; i < polls; ++i) {
    if (i > 0) batch = MakeLines(per_poll, 1000 + uint64_t(i), &spans_per_batch);
    WriteAll(fd, batch);
    lines += per_poll;
    auto t0 = std::chrono::steady_clock::now();
    (void)follower.Poll(fn);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    poll_s += s;
    max_poll_s = std::max(max_poll_s, s);
    each.push_back(s);
  }
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) (void)follower.Poll(fn);  // nothing new
  double idle_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::close(fd);
  Follower::Stats st = follower.stats();
  const double bytes = double(fs::file_size(path));
  printf("follow: %d polls x %d lines (%.1f MB): %lld events\n", polls, per_poll, bytes / (1 << 20),
         (long long)events);
  std::sort(each.begin(), each.end());
  printf(
      "  Poll time %.3f s  %.0f lines/s  %.0f MB/s  Poll median %.1f ms, slowest %.1f ms  "
      "idle Poll %.1f us\n",
      poll_s, double(lines) / poll_s, bytes / (1 << 20) / poll_s, each[each.size() / 2] * 1e3,
      max_poll_s * 1e3, idle_s / 100 * 1e6);
  printf(
      "  memory: heap held by the Follower %.1f MiB; process RSS %.1f MiB (%.1f before the "
      "Follower), peak %.1f MiB; unfinished lines %lld B\n",
      (HeapBytes() - heap_before) / double(1 << 20), RssMiB(), rss_before, PeakRssMiB(),
      (long long)st.buffered_bytes);

  // The peer: the batch reader over the same final bytes.
  for (int threads : {1, 2}) {
    ReadOptions ro;
    ro.threads = threads;
    int64_t batch_events = 0;
    TokenBuckets batch_totals;
    auto t1 = std::chrono::steady_clock::now();
    auto r = ReadInputs({path}, ro, [&](const UsageEvent& e) {
      ++batch_events;
      batch_totals.Add(e.tokens);
    });
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    if (!r.ok()) return 2;
    printf("batch reader (threads %d), same bytes: %.3f s  %.0f lines/s  %.0f MB/s  %s\n", threads,
           s, double(lines) / s, bytes / (1 << 20) / s,
           batch_events == events && batch_totals == follow_totals ? "same events and totals"
                                                                   : "DIFFERENT events");
  }
  return 0;
}

// ---- first-poll: a tree read by one Poll, against ReadInputs ----------------

int FirstPoll(const std::vector<std::string>& paths) {
  int64_t events = 0, updates = 0, requests = 0;
  TokenBuckets totals;
  auto fn = [&](const UsageEvent& e) {
    ++events;
    if (e.tag("snapshot_update") == "true") ++updates;
    requests += e.requests;
    if (!IsRollup(e)) totals.Add(e.tokens);
  };
  auto t0 = std::chrono::steady_clock::now();
  Follower follower(paths, FollowOptions{});
  (void)follower.Poll(fn);
  (void)follower.Poll(fn);  // nothing grew: held messages are released
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int64_t bytes = 0, dups = 0;
  for (const InputSummary& in : follower.Summaries()) {
    bytes += in.bytes;
    dups += in.duplicates;
  }
  printf(
      "follower, 2 Polls: %.3f s  %.0f MB/s  events %lld (updates %lld)  requests %lld  "
      "duplicates %lld  tokens %lld  peak RSS %.1f MiB\n",
      s, double(bytes) / (1 << 20) / s, (long long)events, (long long)updates, (long long)requests,
      (long long)dups, (long long)totals.total(), PeakRssMiB());
  int64_t b_events = 0, b_requests = 0, b_dups = 0;
  TokenBuckets b_totals;
  ReadOptions o;
  o.threads = 1;
  t0 = std::chrono::steady_clock::now();
  auto r = ReadInputs(paths, o, [&](const UsageEvent& e) {
    ++b_events;
    b_requests += e.requests;
    if (!IsRollup(e)) b_totals.Add(e.tokens);
  });
  s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r.ok()) return 2;
  for (const InputSummary& in : r->inputs) b_dups += in.duplicates;
  printf(
      "batch reader (threads 1): %.3f s  %.0f MB/s  events %lld  requests %lld  "
      "duplicates %lld  tokens %lld  %s\n",
      s, double(bytes) / (1 << 20) / s, (long long)b_events, (long long)b_requests,
      (long long)b_dups, (long long)b_totals.total(),
      b_totals == totals && b_requests == requests ? "same totals" : "DIFFERENT totals");
  return 0;
}

// ---- Google Benchmark ----------------------------------------------------------

// Poll time for `range(0)` lines appended since the last Poll (the append is
// not timed). The file is truncated every 64 Polls (not timed) to bound the
// disk used.
void BM_FollowAppendedLines(benchmark::State& state) {
  const int per_poll = int(state.range(0));
  TempPath tmp;
  std::string path = (tmp.dir / "usage.jsonl").string();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int spans = 0;
  const std::string lines = MakeLines(per_poll, 7, &spans);
  Follower follower({path}, FollowOptions{});
  int64_t events = 0;
  auto fn = [&](const UsageEvent&) { ++events; };
  int n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    if (++n % 64 == 0) {
      if (::ftruncate(fd, 0) != 0) std::abort();
      (void)follower.Poll(fn);
    }
    WriteAll(fd, lines);
    state.ResumeTiming();
    (void)follower.Poll(fn);
  }
  ::close(fd);
  state.SetItemsProcessed(int64_t(state.iterations()) * per_poll);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(lines.size()));
  state.counters["rss_MiB"] = RssMiB();
}
BENCHMARK(BM_FollowAppendedLines)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

// The peer on the same bytes: one ReadInputs pass over a file of range(0)
// lines (1 thread).
void BM_BatchReadSameLines(benchmark::State& state) {
  const int count = int(state.range(0));
  TempPath tmp;
  std::string path = (tmp.dir / "usage.jsonl").string();
  int spans = 0;
  const std::string lines = MakeLines(count, 7, &spans);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  WriteAll(fd, lines);
  ::close(fd);
  ReadOptions o;
  o.threads = 1;
  for (auto _ : state) {
    auto r = ReadInputs({path}, o, [](const UsageEvent&) {});
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * count);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(lines.size()));
}
BENCHMARK(BM_BatchReadSameLines)->Arg(10000)->Unit(benchmark::kMillisecond);

// A Poll over range(0) files in a directory tree where nothing changed:
// stats only.
void BM_IdlePollDirectory(benchmark::State& state) {
  const int files = int(state.range(0));
  TempPath tmp;
  int spans = 0;
  const std::string lines = MakeLines(20, 3, &spans);
  for (int i = 0; i < files; ++i) {
    fs::path p = tmp.dir / ("p" + std::to_string(i % 50)) / ("s" + std::to_string(i) + ".jsonl");
    fs::create_directories(p.parent_path());
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    WriteAll(fd, lines);
    ::close(fd);
  }
  Follower follower({tmp.dir.string()}, FollowOptions{});
  (void)follower.Poll([](const UsageEvent&) {});
  (void)follower.Poll([](const UsageEvent&) {});
  for (auto _ : state) (void)follower.Poll([](const UsageEvent&) {});
  state.counters["files"] = double(follower.stats().files);
  state.counters["open_fds"] = double(follower.stats().open_files);
  state.counters["rss_MiB"] = RssMiB();
}
BENCHMARK(BM_IdlePollDirectory)->Arg(5000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tokmeter::analysis

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "run") == 0) {
    int per_poll = argc >= 3 ? std::atoi(argv[2]) : 10000;
    int polls = argc >= 4 ? std::atoi(argv[3]) : 100;
    return tokmeter::analysis::Run(per_poll, polls);
  }
  if (argc >= 3 && std::strcmp(argv[1], "first-poll") == 0) {
    return tokmeter::analysis::FirstPoll(std::vector<std::string>(argv + 2, argv + argc));
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
