// Deterministic pieces of the benchmark corpora: the random numbers, hex ids,
// and tokmeter JSONL trace and span lines as the JSONL sink writes them
// (reader_benchmark gen-jsonl, follow_benchmark's appended lines).
#ifndef TOKMETER_BENCH_CORPUS_GEN_H_
#define TOKMETER_BENCH_CORPUS_GEN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace tokmeter::bench {

// splitmix64: deterministic across platforms.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  int Range(int lo, int hi) { return lo + int(Next() % uint64_t(hi - lo + 1)); }
  bool Chance(int pct) { return int(Next() % 100) < pct; }
};

inline std::string Hex(Rng& r, int n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < n; ++i) s += d[r.Next() & 15];
  return s;
}

// Starts trace number `n`: appends its trace line (a session "s-<n / 20>" of
// workflow "wf-<n % 7>", at `timestamp`) and returns the trace id.
inline std::string AppendTraceLine(std::string& out, Rng& r, std::string_view timestamp, int n) {
  std::string trace = Hex(r, 32);
  const std::string span_id = Hex(r, 16);
  out += "{\"type\":\"trace\",\"trace_id\":\"";
  out += trace;
  out += "\",\"span_id\":\"" + span_id + "\",\"timestamp\":\"";
  out += timestamp;
  out += "\",\"kind\":\"session\",\"name\":\"s-" + std::to_string(n) +
         "\",\"tags\":{\"session\":\"s-" + std::to_string(n / 20) + "\",\"workflow\":\"wf-" +
         std::to_string(n % 7) + "\",\"heartbeat\":false}}\n";
  return trace;
}

// Appends one span line of `trace`: an llm span (anthropic, with token
// counts) or a tool span (Bash). `times(r)` returns its timestamp and start
// (a pair of strings). The draws come in a fixed order: thread, parent id,
// span id, duration, `times`, then the token counts from cache writes back to
// input, then the fingerprint. That is the order in which GCC evaluated the
// chains of `+` the generators were first written as (right to left), so the
// corpora stay the same byte for byte; change it and they change.
template <typename Times>
void AppendSpanLine(std::string& out, Rng& r, std::string_view trace, bool llm, Times times) {
  const int thread = r.Range(1000, 1100);
  const std::string parent_id = Hex(r, 16);
  const std::string span_id = Hex(r, 16);
  const int duration_ms = r.Range(10, 9000);
  const std::pair<std::string, std::string> at = times(r);
  out += "{\"type\":\"span\",\"timestamp\":\"" + at.first + "\",\"start\":\"" + at.second +
         "\",\"duration_ms\":" + std::to_string(duration_ms) + ".125,\"trace_id\":\"";
  out += trace;
  out += "\",\"span_id\":\"" + span_id + "\",\"parent_id\":\"" + parent_id + "\",\"kind\":\"" +
         (llm ? "llm" : "tool") + "\",\"name\":\"" + (llm ? "messages" : "Bash") +
         "\",\"thread\":" + std::to_string(thread);
  if (llm) {
    const int cache_write = r.Range(0, 4000);
    const int cache_read = r.Range(1000, 150000);
    const int output = r.Range(10, 3000);
    const int input = r.Range(1, 900);
    out +=
        ",\"provider\":\"anthropic\",\"model\":\"claude-sonnet-4-5\",\"status\":200,"
        "\"streaming\":true,\"input_tokens\":" +
        std::to_string(input) + ",\"output_tokens\":" + std::to_string(output) +
        ",\"cache_read_tokens\":" + std::to_string(cache_read) +
        ",\"cache_write_tokens\":" + std::to_string(cache_write) + ",\"requests\":1";
  } else {
    out += ",\"tool\":\"Bash\",\"tool_calls\":1";
  }
  out += ",\"fingerprint\":\"" + Hex(r, 16) + "\",\"tags\":{\"attempt\":1,\"channel\":\"cli\"}}\n";
}

}  // namespace tokmeter::bench

#endif  // TOKMETER_BENCH_CORPUS_GEN_H_
