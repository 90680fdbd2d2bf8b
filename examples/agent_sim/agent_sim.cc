// agent_sim — a small multi-threaded agent runtime simulator that records a
// day of agent activity with tokmeter and writes it as JSONL.
//
//   agent_sim --seed 7 --out day.jsonl                 # scenario "full"
//   agent_sim --seed 7 --out clean.jsonl --scenario clean --sessions 20
//   agent_sim --seed 7 --out day.jsonl --monitor       # the live guard too
//
// Time is SIMULATED: every span gets explicit times (Span::SetTimes) on a
// clock that starts at --start (default 2026-11-22T00:00:00Z), so a whole day
// is generated in well under a second. The same --seed gives the same records
// (counters, tags, fingerprints, times); only trace/span ids and OS thread ids
// differ between runs. All values are drawn on the main thread from
// std::mt19937_64 streams (one per session / job run), so adding or removing
// a scenario feature does not shift the other sessions.
//
// What the API calls demonstrate: Runtime::Start with MakeJsonlSink;
// TOK_TRACE_NAMED + trace tags; TOK_SPAN_NAMED for turns and LLM calls;
// tokmeter::Current() from a "transport" layer that did not open the span;
// CurrentContext() + TOK_SPAN_IN on worker threads (tool fan-out, parallel
// sub-agent calls); Span::Fingerprint of request bodies and tool arguments;
// Span::AddUsage; Span::SetTimes.
//
// The day (--scenario full, the default):
//  * Interactive sessions (trace kind "session"; trace tags session, channel,
//    agent, user, heartbeat=false) start between 08:00 and 17:30 UTC, each
//    with 4-9 turns (span kind "turn") 40 s - 6 min apart. A turn is 1-3 LLM
//    calls (kind "llm"; tags provider, model, status=200, streaming,
//    request_id; Usage with input / cache_read / cache_write / output) with
//    tool fan-out on worker threads in between (kind "tool", tag tool,
//    fingerprint of the tool's arguments, tool_calls=1), at most 8 tools per
//    turn. The first request of a session writes the 14k-token system prompt
//    to the cache; later requests read the cached prefix and write what is new
//    (tool results, the previous answer); output is 120-700 tokens. Sessions
//    compact their history once the prompt passes 36k tokens, so a normal
//    session's prompt stays below 2.6x its first prompt.
//  * Context bloat: session 0 is a long session (22 turns from ~09:00) that
//    never compacts: its prompt grows from ~14k to ~180k tokens.
//  * Hidden loop: session 1 re-runs `run_tests` with the SAME arguments three
//    times in every turn of >= 5 turns (>= 15 identical tool fingerprints in
//    one session).
//  * Retry storm: session 2 starts at 13:55; its second turn (~14:00) sends 6
//    parallel sub-agent LLM calls that all get HTTP 429 four or five times
//    (llm spans with status=429, rate_limited=1; retries=1 and retry_wait_ms
//    on each retried attempt; the same request fingerprint on every attempt)
//    before succeeding: ~27 429s within ~2 minutes.
//  * Background spend: a heartbeat job (trace kind "job", name
//    heartbeat-audit, trace tags job=heartbeat-audit, heartbeat=true,
//    agent=ops-bot, session=heartbeat-audit-K for the run at K x 15 min)
//    runs every 15 minutes from 00:00 to 07:30 and from 20:00 to 23:45
//    (never while a session runs): 2 LLM calls of ~40-50k prompt tokens and
//    2 tools each, ~4M tokens in all, 20-30% of the day's tokens.
//
// --scenario clean: the same sessions (same seeds, same times) with sane
// behaviour: session 0 compacts like the others, session 1 runs its tests
// once per turn with distinct arguments, session 2's parallel calls succeed
// first time, and there is no heartbeat job. No 429s, no repeated
// fingerprints, no job or heartbeat traces.
//
// Caveat (runtime, not this program): a `trace` line's timestamp, and the
// start of a scope=trace turn_summary, are taken when the Trace object is
// built, i.e. real time, even though the root span's SetTimes is simulated;
// span lines and scope=turn summaries carry simulated times only.
//
// --monitor runs the live monitor (tokmeter/monitor.h) in the runtime, with
// two budgets: --heartbeat_budget (default job:heartbeat-audit=2M/day: the
// night's heartbeat runs cross 50 %, 80 % and 100 % of it before 08:00) and
// --session_budget (default session=5M,hard: a session is denied its next
// call once it has used 5M tokens: the never-compacting s-long-refactor is
// stopped partway), the detector rules, and deny_on_loop with
// loop_repeats=5. on_alert prints each alert to stderr ("agent_sim: alert
// TIME RULE [SEVERITY] SUBJECT: MESSAGE"); the sinks write them as `alert`
// lines. Before each LLM call and each tool batch a session asks
// TOK_GUARD("session", key); when it is denied the session stops there ("guard
// denied SESSION at TIME: WHY" on stderr) and does not resume. In the full
// scenario the loop rule trips on the 5th identical run_tests call of
// s-flaky-fix (the second of its second turn: three a turn), so that session
// records 5 run_tests calls instead of >= 15; the retry storm alerts too.
// How the monitor sees simulated time: its clock is the newest record's time
// (plus the little wall time since), and it sees a span at the flusher's next
// pass. The day is generated much faster than the flush interval, so each
// guard check first calls Runtime::Flush(): the monitor has then seen every
// span closed before the call, as it would a flush interval later in a live
// agent. The records are produced roughly in time order: the morning
// heartbeats, then the sessions by start time, each session whole (sessions
// that overlap in time are not interleaved), then the evening heartbeats.
// Without --monitor the records are the same, but that the sessions the
// guard stopped run to their end and there are no alert lines.
//
// --sessions N scales the number of sessions (default 12). The heartbeat does
// not scale: past ~220 sessions its ~4M night tokens drop below 5 % of the
// day's tokens (the background rule's share). The file given by --out is
// replaced. The runtime uses the block policy (a full ring waits for the
// flusher), so the log is complete: no drops line is ever written.
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <latch>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "tokmeter/monitor.h"
#include "tokmeter/tokmeter.h"

ABSL_FLAG(uint64_t, seed, 1, "PRNG seed; the same seed gives the same records (ids aside)");
ABSL_FLAG(std::string, out, "agent_sim.jsonl", "JSONL file to write (replaced)");
ABSL_FLAG(std::string, scenario, "full", "full (retry storm, loop, night heartbeat) or clean");
ABSL_FLAG(int, sessions, 12, "interactive sessions in the day");
ABSL_FLAG(std::string, start, "2026-11-22T00:00:00Z", "start of the simulated day (RFC 3339)");
ABSL_FLAG(int, workers, 4, "worker threads for tool fan-out");
ABSL_FLAG(bool, monitor, false,
          "run the live monitor: budgets, rule alerts printed to stderr and written to the "
          "log, and the guard asked before each call of a session");
ABSL_FLAG(std::string, heartbeat_budget, "job:heartbeat-audit=2M/day",
          "with --monitor: the heartbeat job's budget (the budget grammar)");
ABSL_FLAG(std::string, session_budget, "session=5M,hard",
          "with --monitor: each session's budget (the budget grammar)");

namespace {

using tokmeter::Counter;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSec = 1000 * kMs;
constexpr int64_t kMin = 60 * kSec;
constexpr int64_t kHour = 60 * kMin;

constexpr int64_t kSystemPromptTokens = 14'000;
constexpr int64_t kCompactAbove = 36'000;   // prompt size that triggers compaction
constexpr int64_t kContextLimit = 190'000;  // the model's window, minus headroom

// A deterministic stream of draws. Only the raw mt19937_64 output is used
// (no std distributions), so values are the same with every standard library.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) : gen_(Mix(seed * 0x9e3779b97f4a7c15ull + stream)) {}
  uint64_t Next() { return gen_(); }
  // Uniform in [lo, hi].
  int64_t Uniform(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(gen_() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool Chance(double p) { return static_cast<double>(gen_() >> 11) * 0x1.0p-53 < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[gen_() % v.size()];
  }

 private:
  static uint64_t Mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::mt19937_64 gen_;
};

// A fixed pool of worker threads: tool calls and parallel sub-agent calls run
// here, each continuing its turn's trace through a captured Context.
class WorkerPool {
 public:
  explicit WorkerPool(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  // Runs every job on the pool and returns when all have finished.
  void RunAll(std::vector<std::function<void()>> jobs) {
    if (jobs.empty()) return;
    std::latch done(static_cast<std::ptrdiff_t>(jobs.size()));
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& j : jobs) {
        queue_.push_back([&done, j = std::move(j)] {
          j();
          done.count_down();
        });
      }
    }
    cv_.notify_all();
    done.wait();
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

struct Agent {
  std::string name;
  std::string provider;
  std::string model;
  std::string endpoint;  // span name of its LLM calls
};

const std::vector<Agent>& Agents() {
  static const std::vector<Agent> kAgents = {
      {"coder", "anthropic", "claude-sonnet-4-5", "messages"},
      {"reviewer", "anthropic", "claude-sonnet-4-5", "messages"},
      {"researcher", "openai", "gpt-5.1", "responses"},
      {"support", "anthropic", "claude-haiku-4-5", "messages"},
  };
  return kAgents;
}
const std::vector<std::string> kChannels = {"discord", "slack", "cli", "web"};
const std::vector<std::string> kTools = {"read_file", "grep",     "web_search",
                                         "list_dir",  "git_diff", "fetch_url"};
const std::vector<std::string> kPaths = {
    "src/server.cc",  "src/auth/token.cc", "docs/api.md",    "tests/auth_test.cc",
    "src/db/pool.cc", "config/prod.yaml",  "src/cli/main.cc"};

// One LLM call's outcome, computed on the main thread.
struct LlmCall {
  int64_t start = 0, end = 0;
  int status = 200;
  int attempt = 1;            // 1 = first try
  int64_t retry_wait_ms = 0;  // waited before this attempt
  tokmeter::TokenBuckets usage;
  std::string request_id;
  std::string request;  // what is fingerprinted: the request body's identity
};

struct Totals {
  int64_t guard_denials = 0;
  int64_t tokens = 0;
  int64_t llm_calls = 0;
  int64_t tool_calls = 0;
  int64_t rate_limited = 0;
  int64_t min_ns = INT64_MAX;
  int64_t max_ns = INT64_MIN;
  void Time(int64_t a, int64_t b) {
    min_ns = std::min(min_ns, a);
    max_ns = std::max(max_ns, b);
  }
};

std::string Iso(int64_t ns) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixNanos(ns), absl::UTCTimeZone());
}

// With --monitor, a session asks the guard before each LLM call and each tool
// batch. The monitor sees a span when the flusher hands it a pass; the
// simulated day runs far faster than the flush interval, so a check first
// flushes (Runtime::Flush): the monitor has then seen every span closed
// before the call, as a live agent's would a flush interval after it.
struct SessionGuard {
  tokmeter::Runtime* rt = nullptr;  // null: no monitor, always allow

  bool Allow(const std::string& session, int64_t at, Totals& totals) const {
    if (rt == nullptr) return true;
    if (absl::Status st = rt->Flush(); !st.ok()) {
      std::fprintf(stderr, "agent_sim: flush: %s\n", st.ToString().c_str());
    }
    const tokmeter::GuardResult g = TOK_GUARD("session", session);
    if (!g.denied()) return true;
    ++totals.guard_denials;
    std::fprintf(stderr, "agent_sim: guard denied %s at %s: %s\n", session.c_str(), Iso(at).c_str(),
                 g.message().c_str());
    return false;
  }
};

std::string RequestId(Rng& rng) { return absl::StrFormat("req_%016x", rng.Next()); }

// The "HTTP layer": sees the provider's response and adds it to whatever span
// is current on this thread, without having opened it.
void RecordResponse(const LlmCall& c) {
  tokmeter::Span& s = tokmeter::Current();
  s.Add(Counter::kRequests, 1).Tag("status", c.status).Tag("request_id", c.request_id);
  if (c.status == 429) {
    s.Add(Counter::kRateLimited, 1).Add(Counter::kResponseBytes, 180);
  } else {
    s.AddUsage(c.usage).Add(Counter::kResponseBytes, 600 + 4 * c.usage.output);
  }
  if (c.attempt > 1) {
    s.Add(Counter::kRetries, 1)
        .Add(Counter::kRetryWaitMs, c.retry_wait_ms)
        .Tag("attempt", c.attempt);
  }
}

// Records one LLM call as a child of the calling thread's current span.
void EmitLlm(const Agent& a, const LlmCall& c) {
  TOK_SPAN_NAMED(llm, "llm", a.endpoint);
  llm.Tag("provider", a.provider).Tag("model", a.model).Tag("streaming", c.status == 200);
  llm.Fingerprint(c.request);
  RecordResponse(c);
  llm.SetTimes(c.start, c.end);
}

// Same, on a worker thread, under `ctx` (a span of another thread).
void EmitLlmIn(const tokmeter::Context& ctx, const Agent& a, const LlmCall& c) {
  TOK_SPAN_IN_NAMED(llm, ctx, "llm", a.endpoint);
  llm.Tag("provider", a.provider).Tag("model", a.model).Tag("streaming", c.status == 200);
  llm.Fingerprint(c.request);
  RecordResponse(c);
  llm.SetTimes(c.start, c.end);
}

struct ToolCall {
  std::string tool;
  std::string args;  // fingerprinted: equal args mean a repeated call
  int64_t start = 0, end = 0;
  int64_t response_bytes = 0;
};

// Runs the tool calls in parallel on the pool, each a child of `ctx`.
void EmitTools(WorkerPool& pool, const tokmeter::Context& ctx, const std::vector<ToolCall>& calls) {
  std::vector<std::function<void()>> jobs;
  for (const ToolCall& tc : calls) {
    jobs.push_back([&ctx, &tc] {
      TOK_SPAN_IN_NAMED(tool, ctx, "tool", tc.tool);
      tool.Tag("tool", tc.tool).Fingerprint(tc.args);
      tool.Add(Counter::kToolCalls, 1).Add(Counter::kResponseBytes, tc.response_bytes);
      tool.SetTimes(tc.start, tc.end);
    });
  }
  pool.RunAll(std::move(jobs));
}

// A session's prompt: the cached prefix and what is new since the last call.
struct Context {
  int64_t cached = 0;   // tokens already in the prompt cache
  int64_t pending = 0;  // new tokens (tool results, last answer) to write
};

// Fills the usage of the next request and advances the context.
tokmeter::TokenBuckets NextUsage(Rng& rng, Context& cx, int64_t user_tokens, int64_t output,
                                 bool compacts, int64_t* compactions) {
  tokmeter::TokenBuckets u;
  if (compacts && cx.cached + cx.pending > kCompactAbove) {
    // Summarise the history: the prompt restarts from the system prompt plus
    // a summary; the summary is new content.
    cx.cached = kSystemPromptTokens;
    cx.pending = rng.Uniform(1500, 2500);
    ++*compactions;
  }
  if (cx.cached + cx.pending > kContextLimit)
    cx.pending = std::max<int64_t>(0, kContextLimit - cx.cached);
  u.input = user_tokens;
  u.cache_read = cx.cached;
  u.cache_write_5m = cx.pending;
  u.output = output;
  u.reasoning = output / 4;
  cx.cached += cx.pending + user_tokens;
  cx.pending = output;
  return u;
}

int64_t TotalTokens(const tokmeter::TokenBuckets& u) { return u.total(); }

int64_t LlmDuration(Rng& rng, int64_t output) {
  return rng.Uniform(600, 1800) * kMs + output * rng.Uniform(12, 22) * kMs;
}

struct SessionPlan {
  int index = 0;
  std::string key;
  Agent agent;
  std::string channel, user;
  int64_t start = 0;
  int turns = 0;
  // Roles, the same in both scenarios; `full` turns the misbehaviour on.
  bool bloat_host = false;  // the long session; never compacts when `full`
  bool loop_host = false;   // runs tests 3 times a turn; the same test when `full`
  bool storm_host = false;  // parallel sub-agent turn; 429 storm when `full`
  bool full = false;
};

struct Interval {
  int64_t start, end;
};

// Simulates one session on the calling (main) thread.
Interval RunSession(const SessionPlan& p, uint64_t seed, WorkerPool& pool,
                    const SessionGuard& guard, Totals& totals) {
  Rng rng(seed, 1000 + static_cast<uint64_t>(p.index));
  const Agent& a = p.agent;
  TOK_TRACE_NAMED(session, "session", p.key);
  session.Tag("session", p.key).Tag("channel", p.channel).Tag("agent", a.name);
  session.Tag("user", p.user).Tag("heartbeat", false);

  Context cx;
  cx.pending = kSystemPromptTokens;  // first request writes the system prompt
  int64_t compactions = 0;
  int64_t t = p.start;
  bool stopped = false;  // the guard denied: the session stops
  for (int turn_no = 1; turn_no <= p.turns; ++turn_no) {
    const int64_t turn_start = t;
    TOK_SPAN_NAMED(turn, "turn", absl::StrCat("turn-", turn_no));
    // The storm host's second turn (at ~14:08) fans out sub-agent calls.
    const bool parallel_turn = p.storm_host && turn_no == 2;
    int steps =
        p.bloat_host ? static_cast<int>(rng.Uniform(2, 3)) : static_cast<int>(rng.Uniform(1, 3));
    if (p.loop_host) steps = 5;  // look, edit+test, test, test, answer
    int tools_left = 8;
    int64_t user_tokens = rng.Uniform(40, 400);
    for (int step = 0; step < steps; ++step) {
      if (!guard.Allow(p.key, t, totals)) {
        stopped = true;
        break;
      }
      LlmCall c;
      c.start = t;
      int64_t output = rng.Uniform(120, 700);
      c.usage = NextUsage(rng, cx, step == 0 ? user_tokens : rng.Uniform(5, 60), output,
                          !(p.bloat_host && p.full), &compactions);
      c.end = t + LlmDuration(rng, output);
      c.request_id = RequestId(rng);
      c.request = absl::StrCat(p.key, "/", turn_no, "/", step, "/",
                               c.usage.cache_read + c.usage.cache_write_5m);
      EmitLlm(a, c);
      totals.tokens += TotalTokens(c.usage);
      ++totals.llm_calls;
      t = c.end;
      if (step + 1 == steps) break;
      if (!guard.Allow(p.key, t, totals)) {
        stopped = true;
        break;
      }

      // Tools the model asked for, run in parallel.
      std::vector<ToolCall> calls;
      int64_t results = 0;
      if (p.loop_host && step >= 1) {
        // The fix-up loop: weak success detection re-runs the very same test
        // command again and again (full); sane runs test something new each
        // time (clean).
        ToolCall tc;
        tc.tool = "run_tests";
        tc.args =
            p.full ? std::string(R"({"cmd":"pytest -x tests/test_auth.py::test_refresh"})")
                   : absl::StrFormat(R"({"cmd":"pytest -x tests/test_auth.py::test_case_%d_%d"})",
                                     turn_no, step);
        tc.start = t + rng.Uniform(20, 80) * kMs;
        tc.end = tc.start + rng.Uniform(4000, 9000) * kMs;
        tc.response_bytes = rng.Uniform(3000, 9000);
        calls.push_back(tc);
      } else {
        int n = static_cast<int>(rng.Uniform(1, std::min(4, tools_left)));
        for (int k = 0; k < n; ++k) {
          ToolCall tc;
          tc.tool = rng.Pick(kTools);
          tc.args = absl::StrFormat(R"({"target":"%s","turn":%d,"step":%d,"call":%d})",
                                    rng.Pick(kPaths), turn_no, step, k);
          tc.start = t + rng.Uniform(10, 60) * kMs;
          tc.end = tc.start + rng.Uniform(150, 6000) * kMs;
          tc.response_bytes = rng.Uniform(500, 20000);
          calls.push_back(tc);
        }
      }
      tools_left -= static_cast<int>(calls.size());
      int64_t end = t;
      for (const ToolCall& tc : calls) {
        end = std::max(end, tc.end);
        results += tc.response_bytes / 4;  // ~4 bytes per token
      }
      EmitTools(pool, tokmeter::CurrentContext(), calls);
      totals.tool_calls += static_cast<int64_t>(calls.size());
      cx.pending += p.bloat_host && p.full ? results + rng.Uniform(1500, 3000) : results;
      t = end + rng.Uniform(30, 200) * kMs;
      if (tools_left <= 0) steps = step + 2;  // one last call to answer
    }

    if (parallel_turn && !stopped && !guard.Allow(p.key, t, totals)) stopped = true;
    if (parallel_turn && !stopped) {
      // Research fan-out: 6 sub-agent calls in parallel on the workers. In
      // the full scenario the provider answers 429 to every one of them 4-5
      // times (thundering herd) before letting them through.
      const tokmeter::Context ctx = tokmeter::CurrentContext();
      std::vector<std::vector<LlmCall>> attempts(6);
      int64_t end = t;
      for (int k = 0; k < 6; ++k) {
        std::string request = absl::StrCat(p.key, "/", turn_no, "/subagent-", k);
        int64_t at = t + rng.Uniform(5, 120) * kMs;
        int fails = p.full ? static_cast<int>(rng.Uniform(4, 5)) : 0;
        int64_t wait_ms = 0;
        for (int i = 0; i <= fails; ++i) {
          LlmCall c;
          c.attempt = i + 1;
          c.retry_wait_ms = wait_ms;
          c.start = at;
          c.request = request;
          c.request_id = RequestId(rng);
          if (i < fails) {
            c.status = 429;
            c.end = at + rng.Uniform(80, 250) * kMs;
            // Aggressive backoff: 1 s, 2 s, 4 s, 8 s ... plus a little jitter.
            wait_ms = (int64_t{1000} << i) + rng.Uniform(0, 400);
            at = c.end + wait_ms * kMs;
            ++totals.rate_limited;
          } else {
            int64_t output = rng.Uniform(300, 900);
            c.usage.input = rng.Uniform(200, 600);
            c.usage.cache_read = kSystemPromptTokens;
            c.usage.cache_write_5m = rng.Uniform(3000, 8000);
            c.usage.output = output;
            c.end = at + LlmDuration(rng, output);
            totals.tokens += TotalTokens(c.usage);
            cx.pending += output;
          }
          ++totals.llm_calls;
          attempts[k].push_back(c);
        }
        end = std::max(end, attempts[k].back().end);
      }
      std::vector<std::function<void()>> jobs;
      for (const auto& list : attempts) {
        jobs.push_back([&ctx, &a, &list] {
          for (const LlmCall& c : list) EmitLlmIn(ctx, a, c);
        });
      }
      pool.RunAll(std::move(jobs));
      // ...and a final call to merge the results.
      t = end;
      if (!guard.Allow(p.key, t, totals)) {
        stopped = true;
      } else {
        LlmCall c;
        c.start = end + rng.Uniform(20, 200) * kMs;
        int64_t output = rng.Uniform(400, 900);
        c.usage =
            NextUsage(rng, cx, rng.Uniform(5, 60), output, !(p.bloat_host && p.full), &compactions);
        c.end = c.start + LlmDuration(rng, output);
        c.request_id = RequestId(rng);
        c.request = absl::StrCat(p.key, "/", turn_no, "/merge");
        EmitLlm(a, c);
        totals.tokens += TotalTokens(c.usage);
        ++totals.llm_calls;
        t = c.end;
      }
    }

    turn.SetTimes(turn_start, t);
    turn.End();
    if (stopped) break;
    // The user reads, thinks, types.
    t += rng.Uniform(40, 360) * kSec;
  }
  const int64_t end = stopped ? t : t - 30 * kSec;
  session.span().SetTimes(p.start - kSec, end);
  totals.Time(p.start - kSec, end);
  return {p.start - kSec, end};
}

// One run of the heartbeat audit job at `at`.
void RunHeartbeat(int64_t at, uint64_t seed, int run, WorkerPool& pool, Totals& totals) {
  Rng rng(seed, 500'000 + static_cast<uint64_t>(run));
  const Agent a{"ops-bot", "anthropic", "claude-sonnet-4-5", "messages"};
  const std::string since = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%SZ", absl::FromUnixNanos(at - 15 * kMin), absl::UTCTimeZone());
  TOK_TRACE_NAMED(job, "job", "heartbeat-audit");
  job.Tag("job", "heartbeat-audit").Tag("heartbeat", true).Tag("agent", a.name);
  // Each run is its own conversation (else the runtime's default, the trace
  // name, would make the whole night one session).
  job.Tag("session", absl::StrCat("heartbeat-audit-", run));

  // One LLM call of the job from `start` (its request names `step`): tokens
  // drawn from [lo, hi] ranges, the cache read `cached` plus up to 4,000.
  // Returns when the call ends.
  struct Draws {
    std::pair<int64_t, int64_t> input;
    int64_t cached = 0;
    std::pair<int64_t, int64_t> cache_write, output;
  };
  auto llm_call = [&](int64_t start, const Draws& d, const char* step) {
    LlmCall c;
    c.start = start;
    c.usage.input = rng.Uniform(d.input.first, d.input.second);
    c.usage.cache_read = d.cached + rng.Uniform(0, 4000);
    c.usage.cache_write_5m = rng.Uniform(d.cache_write.first, d.cache_write.second);
    c.usage.output = rng.Uniform(d.output.first, d.output.second);
    c.end = start + LlmDuration(rng, c.usage.output);
    c.request_id = RequestId(rng);
    c.request = absl::StrCat("heartbeat-audit/", step, "/since=", since);
    EmitLlm(a, c);
    totals.tokens += TotalTokens(c.usage);
    return c.end;
  };

  int64_t t = at + rng.Uniform(50, 900) * kMs;
  // 1. Audit: re-sends the repository snapshot and the open-PR list each poll.
  t = llm_call(
      t,
      {.input = {1500, 3000}, .cached = 38'000, .cache_write = {500, 2000}, .output = {400, 900}},
      "audit");

  // 2. Two checks in parallel.
  std::vector<ToolCall> calls(2);
  calls[0].tool = "list_open_prs";
  calls[0].args = absl::StrCat(R"({"repo":"acme/api","since":")", since, "\"}");
  calls[1].tool = "fetch_ci_status";
  calls[1].args = absl::StrCat(R"({"branch":"main","since":")", since, "\"}");
  int64_t end = t;
  for (ToolCall& tc : calls) {
    tc.start = t + rng.Uniform(10, 50) * kMs;
    tc.end = tc.start + rng.Uniform(300, 2500) * kMs;
    tc.response_bytes = rng.Uniform(2000, 12000);
    end = std::max(end, tc.end);
  }
  EmitTools(pool, tokmeter::CurrentContext(), calls);
  totals.tool_calls += 2;
  t = end + rng.Uniform(30, 200) * kMs;

  // 3. Summary: the same context again plus the check results.
  const int64_t summary_end = llm_call(
      t, {.input = {300, 900}, .cached = 42'000, .cache_write = {1000, 4000}, .output = {200, 500}},
      "summary");
  totals.llm_calls += 2;
  job.span().SetTimes(at, summary_end + 100 * kMs);
  totals.Time(at, summary_end + 100 * kMs);
}

// The monitor's on_alert: one line per alert on stderr.
void PrintAlert(const tokmeter::AlertRecord& a) {
  const tokmeter::Finding& f = a.finding;
  std::fprintf(stderr, "agent_sim: alert %s %s [%s] %s: %s\n", Iso(a.time_unix_ns).c_str(),
               f.kind.c_str(), std::string(tokmeter::SeverityName(f.severity)).c_str(),
               f.subject.c_str(), f.recommendation.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Simulates a day of agent activity and records it with tokmeter as JSONL.\n"
      "  agent_sim --seed 7 --out day.jsonl [--scenario full|clean] [--sessions N]");
  absl::ParseCommandLine(argc, argv);
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  const std::string out = absl::GetFlag(FLAGS_out);
  const std::string scenario = absl::GetFlag(FLAGS_scenario);
  const int sessions = absl::GetFlag(FLAGS_sessions);
  const int workers = absl::GetFlag(FLAGS_workers);
  if (scenario != "full" && scenario != "clean") {
    std::fprintf(stderr, "agent_sim: --scenario must be full or clean, not '%s'\n",
                 scenario.c_str());
    return 2;
  }
  if (sessions < 0 || workers < 1) {
    std::fprintf(stderr, "agent_sim: --sessions must be >= 0 and --workers >= 1\n");
    return 2;
  }
  absl::Time day_time;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, absl::GetFlag(FLAGS_start), &day_time, &err)) {
    std::fprintf(stderr, "agent_sim: bad --start: %s\n", err.c_str());
    return 2;
  }
  const int64_t day = absl::ToUnixNanos(day_time);
  const bool full = scenario == "full";

  std::remove(out.c_str());  // a fresh log, not appended to an old one
  auto sink = tokmeter::MakeJsonlSink({.path = out});
  if (!sink.ok()) {
    std::fprintf(stderr, "agent_sim: %s\n", sink.status().ToString().c_str());
    return 1;
  }
  tokmeter::Options options;
  options.sinks.push_back(std::move(*sink));
  options.full_ring = tokmeter::FullRingPolicy::kBlock;  // a complete log
  uint64_t sink_errors = 0;
  options.on_error = [&sink_errors](std::string_view sink_name, const absl::Status& e) {
    ++sink_errors;
    std::fprintf(stderr, "agent_sim: sink %.*s: %s\n", static_cast<int>(sink_name.size()),
                 sink_name.data(), e.ToString().c_str());
  };
  std::shared_ptr<tokmeter::Monitor> monitor;
  if (absl::GetFlag(FLAGS_monitor)) {
    tokmeter::MonitorOptions mo;
    mo.budgets = {absl::GetFlag(FLAGS_heartbeat_budget), absl::GetFlag(FLAGS_session_budget)};
    mo.deny_on_loop = true;  // the 5th identical call in a session stops it
    mo.loop_repeats = 5;
    mo.on_alert = PrintAlert;
    auto m = tokmeter::Monitor::Create(std::move(mo));
    if (!m.ok()) {
      std::fprintf(stderr, "agent_sim: --monitor: %s\n", m.status().ToString().c_str());
      return 2;
    }
    monitor = *m;
    options.monitor = monitor;
  }
  auto rt = tokmeter::Runtime::Start(std::move(options));
  if (!rt.ok()) {
    std::fprintf(stderr, "agent_sim: %s\n", rt.status().ToString().c_str());
    return 1;
  }

  // Plan the sessions: one PRNG stream per session, so both scenarios (and
  // any --sessions) share the same draws for the same session index.
  std::vector<SessionPlan> plans;
  for (int i = 0; i < sessions; ++i) {
    Rng rng(seed, static_cast<uint64_t>(i));
    SessionPlan p;
    p.index = i;
    p.key = absl::StrFormat("s-%04x", rng.Next() & 0xffff);
    p.agent = rng.Pick(Agents());
    p.channel = rng.Pick(kChannels);
    p.user = absl::StrFormat("u-%02d", rng.Uniform(1, 30));
    p.start = day + 8 * kHour + rng.Uniform(0, 570) * kMin + rng.Uniform(0, 59'999) * kMs;
    p.turns = static_cast<int>(rng.Uniform(4, 9));
    plans.push_back(p);
  }
  auto special = [&](int want) { return std::min(want, sessions - 1); };
  if (sessions > 0) {
    SessionPlan& bloat = plans[special(0)];
    bloat.key = "s-long-refactor";
    bloat.agent = Agents()[0];
    bloat.start = day + 9 * kHour + (bloat.start - day) % (20 * kMin);
    bloat.turns = 22;
    bloat.bloat_host = true;
    SessionPlan& loop = plans[special(1)];
    loop.key = "s-flaky-fix";
    loop.agent = Agents()[0];
    loop.turns = std::max(loop.turns, 5);
    loop.loop_host = true;
    SessionPlan& storm = plans[special(2)];
    storm.key = "s-research-herd";
    storm.agent = Agents()[2];
    storm.start = day + 13 * kHour + 55 * kMin;
    storm.storm_host = true;
  }

  for (SessionPlan& p : plans) p.full = full;

  Totals totals;
  std::vector<Interval> busy;
  SessionGuard guard;
  if (monitor) guard.rt = rt->get();
  {
    WorkerPool pool(workers);
    // Every 15 minutes, at night, never while a session runs; run k of the
    // day is the one at k * 15 min.
    auto heartbeats = [&](int64_t from, int64_t to) {
      if (!full) return;
      int run = static_cast<int>((from - day) / (15 * kMin));
      for (int64_t at = from; at < to; at += 15 * kMin, ++run) {
        int64_t tod = at - day;
        if (tod >= 7 * kHour + 45 * kMin && tod < 20 * kHour) continue;
        bool overlaps = false;
        for (const Interval& b : busy) {
          if (at < b.end + 5 * kMin && at + 5 * kMin > b.start) overlaps = true;
        }
        if (overlaps) continue;
        RunHeartbeat(at, seed, run, pool, totals);
      }
    };
    // Roughly in simulated-time order, as a live monitor would see the day:
    // the morning heartbeats (sessions start at 08:00 or later, so none can
    // overlap them), the sessions by start time (each one whole), then the
    // evening heartbeats.
    heartbeats(day, day + 8 * kHour);
    std::vector<const SessionPlan*> order;
    for (const SessionPlan& p : plans) order.push_back(&p);
    std::stable_sort(order.begin(), order.end(), [](const SessionPlan* a, const SessionPlan* b) {
      return a->start < b->start;
    });
    for (const SessionPlan* p : order) busy.push_back(RunSession(*p, seed, pool, guard, totals));
    heartbeats(day + 8 * kHour, day + 24 * kHour);
  }

  absl::Status st = (*rt)->Shutdown();
  tokmeter::Stats stats = (*rt)->stats();
  if (monitor) {
    monitor->FinishCallbacks();  // every alert printed before the summary
    const tokmeter::MonitorStats ms = monitor->stats();
    std::fprintf(stderr, "agent_sim: monitor: %llu alerts, %lld guard denials\n",
                 static_cast<unsigned long long>(ms.alerts),
                 static_cast<long long>(totals.guard_denials));
  }
  if (!st.ok()) {
    std::fprintf(stderr, "agent_sim: shutdown: %s\n", st.ToString().c_str());
  }
  std::fprintf(stderr,
               "agent_sim: scenario %s, seed %llu: wrote %llu span records, %llu traces and "
               "%llu turn summaries to %s (%llu dropped, %llu sink errors) from %d sessions%s; "
               "%lld LLM calls, %lld tool calls, %lld HTTP 429s, %lld tokens; simulated time "
               "%s .. %s.\n",
               scenario.c_str(), static_cast<unsigned long long>(seed),
               static_cast<unsigned long long>(stats.spans),
               static_cast<unsigned long long>(stats.traces),
               static_cast<unsigned long long>(stats.rollups), out.c_str(),
               static_cast<unsigned long long>(stats.dropped),
               static_cast<unsigned long long>(stats.sink_errors), sessions,
               full ? " plus the night heartbeat job" : "",
               static_cast<long long>(totals.llm_calls), static_cast<long long>(totals.tool_calls),
               static_cast<long long>(totals.rate_limited), static_cast<long long>(totals.tokens),
               totals.min_ns == INT64_MAX ? "-" : Iso(totals.min_ns).c_str(),
               totals.max_ns == INT64_MIN ? "-" : Iso(totals.max_ns).c_str());
  return st.ok() && stats.dropped == 0 && sink_errors == 0 ? 0 : 1;
}
