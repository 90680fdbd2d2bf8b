// Reader benchmarks and corpus generators (issue 3 targets: 500 MB of Claude
// Code transcripts in <= 0.3 s and <= 64 MiB peak RSS; tokmeter JSONL >= 1 GB/s).
//
//   reader_benchmark gen-claude DIR [MB=500]   deterministic Claude-Code-style tree
//   reader_benchmark gen-jsonl FILE [MB=1000]  deterministic tokmeter JSONL
//   reader_benchmark summarize PATH...         one ReadInputs pass over PATHs:
//                                              wall time, MB/s, peak RSS, totals
//   reader_benchmark [--benchmark_...]         Google Benchmark suites (in-memory,
//                                              small generated inputs)
//
// Run summarize on a warm page cache (run it twice) and in a fresh process: peak
// RSS (getrusage ru_maxrss) is per process.
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/corpus_gen.h"
#include "benchmark/benchmark.h"
#include "src/analysis/reader.h"
#include "src/analysis/reader_internal.h"

namespace tokmeter::analysis {
namespace {

using bench::AppendSpanLine;
using bench::AppendTraceLine;
using bench::Hex;
using bench::Rng;

// JSON-safe filler text with escapes, sliced from a fixed pool.
class Filler {
 public:
  explicit Filler(uint64_t seed) {
    Rng r{seed};
    static const char* words[] = {"the",
                                  "build",
                                  "fails",
                                  "in",
                                  "src/core/runtime.cc",
                                  "because",
                                  "\\\"usage\\\":{",
                                  "error:",
                                  "std::string",
                                  "return",
                                  "0;",
                                  "\\n",
                                  "\\t",
                                  "int",
                                  "main()",
                                  "{",
                                  "}",
                                  "TODO",
                                  "const",
                                  "tokens",
                                  "cache",
                                  "\\u00e9t\\u00e9",
                                  "é",
                                  "λ",
                                  "->"};
    while (pool_.size() < (2u << 20)) {
      pool_ += words[r.Next() % (sizeof(words) / sizeof(words[0]))];
      pool_ += ' ';
    }
  }
  // About n bytes of text; never ends inside an escape.
  std::string_view Take(Rng& r, size_t n) {
    n = std::min(n, pool_.size() / 2);
    size_t off = r.Next() % (pool_.size() - n);
    while (off > 0 && pool_[off - 1] != ' ') --off;
    size_t end = off + n;
    while (end < pool_.size() && pool_[end - 1] != ' ') ++end;
    return std::string_view(pool_).substr(off, end - off);
  }

 private:
  std::string pool_;
};

std::string Ts(int64_t s, int ms) {
  time_t t = time_t(s);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[40];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

// One Claude Code session file: user prompts, assistant responses written as
// 2-4 streaming snapshots sharing message.id (placeholder output, then the
// final), large tool-result user lines (content + toolUseResult copy).
struct SessionGen {
  Rng& r;
  Filler& f;
  std::string session, cwd;
  bool sidechain = false;
  std::string agent;
  int64_t t = 1787000000;
  int msg = 0;

  std::string Common(const std::string& type) {
    std::string s = ",\"type\":\"" + type + "\",\"uuid\":\"" + Hex(r, 8) + "-" + Hex(r, 4) +
                    "\",\"timestamp\":\"" + Ts(t, r.Range(0, 999)) +
                    "\",\"userType\":\"external\",\"entrypoint\":\"cli\",\"cwd\":\"" + cwd +
                    "\",\"sessionId\":\"" + session +
                    "\",\"version\":\"2.1.200\",\"gitBranch\":\"main\"";
    if (!agent.empty()) s += ",\"agentId\":\"" + agent + "\"";
    return s + "}";
  }
  std::string Head() {
    return std::string("{\"parentUuid\":\"") + Hex(r, 8) +
           "\",\"isSidechain\":" + (sidechain ? "true" : "false");
  }
  std::string UserPrompt() {
    t += r.Range(5, 120);
    return Head() + ",\"message\":{\"role\":\"user\",\"content\":\"" +
           std::string(f.Take(r, size_t(r.Range(50, 600)))) + "\"}" + Common("user");
  }
  std::string ToolResult() {
    t += r.Range(1, 20);
    size_t n = size_t(r.Range(500, 9000)) * (r.Chance(10) ? 6 : 1);
    std::string text(f.Take(r, n));
    return Head() + ",\"message\":{\"role\":\"user\",\"content\":[{\"tool_use_id\":\"toolu_" +
           Hex(r, 20) + "\",\"type\":\"tool_result\",\"content\":\"" + text +
           "\"}]},\"toolUseResult\":{\"stdout\":\"" + text +
           "\",\"stderr\":\"\",\"interrupted\":false}" + Common("user");
  }
  // Appends 2-4 snapshot lines of one response to out.
  void Response(std::string& out, bool with_request_id) {
    t += r.Range(2, 30);
    std::string id = "msg_01" + Hex(r, 22);
    std::string req = "req_011C" + Hex(r, 20);
    int in = r.Range(1, 50), cw = r.Range(0, 3000), cr = r.Range(10000, 150000);
    int out_final = r.Range(20, 2500);
    int blocks = r.Range(2, 4);
    for (int b = 0; b < blocks; ++b) {
      bool last = b == blocks - 1;
      std::string content;
      if (b == 0 && r.Chance(60)) {
        content = "[{\"type\":\"thinking\",\"thinking\":\"" +
                  std::string(f.Take(r, size_t(r.Range(200, 2500)))) + "\",\"signature\":\"" +
                  Hex(r, 300) + "\"}]";
      } else if (last || r.Chance(50)) {
        content = "[{\"type\":\"tool_use\",\"id\":\"toolu_" + Hex(r, 20) +
                  "\",\"name\":\"Bash\",\"input\":{\"command\":\"" +
                  std::string(f.Take(r, size_t(r.Range(30, 800)))) +
                  "\",\"description\":\"run\"}}]";
      } else {
        content = "[{\"type\":\"text\",\"text\":\"" +
                  std::string(f.Take(r, size_t(r.Range(50, 1500)))) + "\"}]";
      }
      int o = last ? out_final : r.Range(1, 9);
      std::string usage =
          "{\"input_tokens\":" + std::to_string(in) +
          ",\"cache_creation_input_tokens\":" + std::to_string(cw) +
          ",\"cache_read_input_tokens\":" + std::to_string(cr) +
          ",\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,\"ephemeral_1h_input_tokens\":" +
          std::to_string(cw) + "},\"output_tokens\":" + std::to_string(o) +
          ",\"service_tier\":\"standard\"" +
          (last ? ",\"server_tool_use\":{\"web_search_requests\":0,\"web_fetch_requests\":0},"
                  "\"inference_geo\":\"not_available\",\"iterations\":[],\"speed\":\"standard\""
                : "") +
          "}";
      out += Head() + ",\"message\":{\"model\":\"claude-sonnet-4-5-20250929\",\"id\":\"" + id +
             "\",\"type\":\"message\",\"role\":\"assistant\",\"content\":" + content +
             ",\"stop_reason\":" + (last ? "\"tool_use\"" : "null") +
             ",\"stop_sequence\":null,\"usage\":" + usage + "}" +
             (with_request_id ? ",\"requestId\":\"" + req + "\"" : std::string()) +
             Common("assistant") + "\n";
    }
  }
};

void GenClaude(const std::string& dir, int64_t mb) {
  Rng r{42};
  Filler f(7);
  const int64_t target = mb << 20;
  int64_t written = 0;
  int s = 0;
  std::string prev_session_text;
  while (written < target) {
    std::string project = "-home-dev-src-proj" + std::to_string(s % 12);
    std::string session =
        Hex(r, 8) + "-" + Hex(r, 4) + "-" + Hex(r, 4) + "-" + Hex(r, 4) + "-" + Hex(r, 12);
    SessionGen g{r, f, session, "/home/dev/src/proj" + std::to_string(s % 12)};
    g.t += int64_t(s) * 3000;
    std::string text;
    // Resumed session: starts with a copy of part of the previous file.
    if (s % 7 == 6 && !prev_session_text.empty()) {
      text += prev_session_text.substr(
          0, prev_session_text.rfind('\n', prev_session_text.size() / 3) + 1);
    }
    int64_t size = int64_t(r.Range(512, 4096)) << 10;
    bool with_req = s % 9 != 4;  // some sessions lack requestId (third-party endpoints)
    while (int64_t(text.size()) < size) {
      text += g.UserPrompt() + "\n";
      int steps = r.Range(1, 6);
      for (int k = 0; k < steps; ++k) {
        g.Response(text, with_req);
        text += g.ToolResult() + "\n";
      }
    }
    std::filesystem::path p =
        std::filesystem::path(dir) / "projects" / project / (session + ".jsonl");
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    written += int64_t(text.size());
    // A subagent file now and then.
    if (s % 4 == 1) {
      SessionGen sg{r, f, session, g.cwd, true, "a" + Hex(r, 16)};
      sg.t = g.t;
      std::string side;
      for (int k = 0; k < 20; ++k) {
        sg.Response(side, true);
        side += sg.ToolResult() + "\n";
      }
      std::filesystem::path sp = std::filesystem::path(dir) / "projects" / project / session /
                                 "subagents" / ("agent-" + sg.agent + ".jsonl");
      std::filesystem::create_directories(sp.parent_path());
      std::ofstream(sp, std::ios::binary) << side;
      written += int64_t(side.size());
    }
    prev_session_text = std::move(text);
    ++s;
  }
  fprintf(stderr, "gen-claude: %d sessions, %.1f MB in %s\n", s, double(written) / (1 << 20),
          dir.c_str());
}

void GenJsonl(const std::string& path, int64_t mb) {
  Rng r{1234};
  std::ofstream out(path, std::ios::binary);
  const int64_t target = mb << 20;
  int64_t written = 0;
  int64_t t = 1795392000;  // 2026-11-23
  std::string buf;
  int n = 0;
  std::string trace;
  while (written < target) {
    buf.clear();
    if (n % 20 == 0) trace = AppendTraceLine(buf, r, Ts(t, 0), n);
    t += 1;
    bool llm = r.Chance(70);
    AppendSpanLine(buf, r, trace, llm, [&](Rng& rng) {
      return std::pair<std::string, std::string>(Ts(t, rng.Range(0, 999)), Ts(t - 1, 0));
    });
    out << buf;
    written += int64_t(buf.size());
    ++n;
  }
  fprintf(stderr, "gen-jsonl: %d spans, %.1f MB in %s\n", n, double(written) / (1 << 20),
          path.c_str());
}

int Summarize(const std::vector<std::string>& paths, int threads) {
  auto t0 = std::chrono::steady_clock::now();
  TokenBuckets tot;
  int64_t events = 0;
  ReadOptions o;
  o.threads = threads;
  auto r = ReadInputs(paths, o, [&](const UsageEvent& e) {
    if (IsRollup(e)) return;
    tot.Add(e.tokens);
    ++events;
  });
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r.ok()) {
    fprintf(stderr, "%s\n", std::string(r.status().message()).c_str());
    return 2;
  }
  int64_t bytes = 0, lines = 0, bad = 0, dups = 0;
  for (const auto& in : r->inputs) {
    bytes += in.bytes;
    lines += in.lines;
    bad += in.skipped_lines;
    dups += in.duplicates;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("inputs %zu  bytes %.1f MB  lines %lld  bad %lld  duplicates %lld  events %lld\n",
         r->inputs.size(), double(bytes) / (1 << 20), (long long)lines, (long long)bad,
         (long long)dups, (long long)events);
  printf("tokens: input %lld output %lld cache_read %lld cache_write %lld total %lld\n",
         (long long)tot.input, (long long)tot.output, (long long)tot.cache_read,
         (long long)tot.cache_write(), (long long)tot.total());
  printf("wall %.3f s  %.0f MB/s  peak RSS %.1f MiB  (threads %d)\n", wall,
         double(bytes) / (1 << 20) / wall, double(ru.ru_maxrss) / 1024.0, threads);
  return 0;
}

// ---- Google Benchmark: in-memory inputs through the whole pipeline ---------

std::string MakeClaudeBuffer() {
  Rng r{5};
  Filler f(9);
  SessionGen g{r, f, "s", "/p"};
  std::string text;
  while (text.size() < (8u << 20)) {
    text += g.UserPrompt() + "\n";
    g.Response(text, true);
    text += g.ToolResult() + "\n";
  }
  return text;
}

std::string MakeJsonlBuffer() {
  std::string path = std::filesystem::temp_directory_path() / "tokmeter_bench_spans.jsonl";
  GenJsonl(path, 16);
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  return s;
}

void RunBuffer(benchmark::State& state, const std::string& data) {
  ReadOptions o;
  o.threads = int(state.range(0));
  int64_t events = 0;
  for (auto _ : state) {
    auto r = reader_internal::ReadWith(
        {"mem"}, [&](const std::string&) { return reader_internal::MemorySource(data); }, o,
        [&](const UsageEvent&) { ++events; });
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(data.size()));
  state.counters["events"] = double(events) / double(state.iterations());
}

void BM_ReadClaudeCode(benchmark::State& state) {
  static const std::string data = MakeClaudeBuffer();
  RunBuffer(state, data);
}
BENCHMARK(BM_ReadClaudeCode)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ReadTokmeterJsonl(benchmark::State& state) {
  static const std::string data = MakeJsonlBuffer();
  RunBuffer(state, data);
}
BENCHMARK(BM_ReadTokmeterJsonl)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace tokmeter::analysis

int main(int argc, char** argv) {
  using namespace tokmeter::analysis;
  if (argc >= 3 && std::strcmp(argv[1], "gen-claude") == 0) {
    GenClaude(argv[2], argc >= 4 ? std::atoll(argv[3]) : 500);
    return 0;
  }
  if (argc >= 3 && std::strcmp(argv[1], "gen-jsonl") == 0) {
    GenJsonl(argv[2], argc >= 4 ? std::atoll(argv[3]) : 1000);
    return 0;
  }
  if (argc >= 3 && std::strcmp(argv[1], "summarize") == 0) {
    int threads = 0;
    std::vector<std::string> paths;
    for (int i = 2; i < argc; ++i) {
      if (std::strncmp(argv[i], "--threads=", 10) == 0) {
        threads = std::atoi(argv[i] + 10);
      } else {
        paths.push_back(argv[i]);
      }
    }
    return Summarize(paths, threads);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
