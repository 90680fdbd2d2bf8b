// Readers never go silent: a byte-order mark, blanks after ':' and ',',
// another key order or CRLF line ends read exactly like the compact form in
// every line format; and the Claude Code fields every rule uses (tool calls,
// fingerprint and the turn's prompt per message). Expected figures are
// computed by hand in the comments.
#include <xxhash.h>

#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/analysis/reader.h"
#include "tests/readers/test_util.h"

namespace tokmeter::analysis {
namespace {

using testing::Collected;
using testing::Gzip;
using testing::ReadAll;
using testing::ReadAllFromStdin;
using testing::TempDir;

const std::string kBom = "\xEF\xBB\xBF";

// Blanks after every ':' and ',' outside strings, and inside the braces:
// what Python's json.dumps writes ({"a": 1, "b": {"c": 2}}).
std::string Spaced(const std::string& compact) {
  std::string out;
  bool in_string = false, escaped = false;
  for (char c : compact) {
    out.push_back(c);
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    if (c == ':' || c == ',') out.push_back(' ');
  }
  return out;
}

// Every line of `text` through Spaced.
std::string SpacedLines(const std::string& text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t nl = text.find('\n', i);
    if (nl == std::string::npos) nl = text.size();
    out += Spaced(text.substr(i, nl - i)) + "\n";
    i = nl + 1;
  }
  return out;
}

std::string Crlf(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

// ---------------------------------------------------------------------------
// One small file per format, with its hand-computed total.

// tokmeter JSONL: a trace line and two llm spans.
//   span 1: in 100, out 20, cache read 900  -> 1020
//   span 2: in 50,  out 10, cache write 300 -> 360        total 1380
const char kTokmeter[] =
    R"({"type":"trace","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","timestamp":"2026-11-23T09:00:00.000000000Z","kind":"session","name":"s-42","tags":{"session":"s-42","channel":"discord"}})"
    "\n"
    R"({"type":"span","timestamp":"2026-11-23T09:00:01.250000000Z","duration_ms":1250.0,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"a3ce929d0e0e4736","parent_id":"00f067aa0ba902b7","kind":"llm","name":"messages","provider":"anthropic","model":"claude-sonnet-4-5","status":200,"input_tokens":100,"output_tokens":20,"cache_read_tokens":900,"requests":1,"fingerprint":"9f3a0c2b1d4e5f60","tags":{"attempt":2}})"
    "\n"
    R"({"type":"span","timestamp":"2026-11-23T09:00:03.000000000Z","duration_ms":500.0,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"b3ce929d0e0e4736","parent_id":"00f067aa0ba902b7","kind":"llm","name":"messages","provider":"anthropic","model":"claude-sonnet-4-5","input_tokens":50,"output_tokens":10,"cache_write_tokens":300,"requests":1})"
    "\n";
constexpr int64_t kTokmeterTotal = 1380;

// token-usage.jsonl: two requests (anthropic: input exclusive of the cache).
//   r1: in 120, out 35                    -> 155
//   r2: in 3, out 418, read 14044, write 26042 -> 40507   total 40662
const char kTokenUsage[] =
    R"({"_schema":"token-usage/v0.26.0","timestamp":"2026-08-20T10:00:01.000Z","event":"token_usage","request_id":"r1","provider":"anthropic","model":"claude-haiku-4.5","path":"/v1/messages","status":200,"input_tokens":120,"output_tokens":35,"cache_read_tokens":0,"cache_write_tokens":0})"
    "\n"
    R"({"timestamp":"2026-08-20T10:00:10.000Z","request_id":"r2","provider":"anthropic","model":"claude-sonnet-4-6","path":"/v1/messages","status":200,"input_tokens":3,"output_tokens":418,"cache_read_tokens":14044,"cache_write_tokens":26042})"
    "\n";
constexpr int64_t kTokenUsageTotal = 40662;

// turn_summary lines: 1200 + 300 and 800 + 100 -> 2400; 3 + 12 tool calls.
const char kTurnSummary[] =
    R"({"ts":"2026-08-20T10:00:00.000Z","kind":"turn_summary","sessionKey":"s-1","channel":"discord","model":"anthropic/claude-sonnet-4-5","tokens_in":1200,"tokens_out":300,"tool_calls":3,"rate_limits":0,"retry_count":0,"duration_ms":4000,"tags":{"heartbeat":false,"cron_job_id":null,"agentId":"main"}})"
    "\n"
    R"({"ts":"2026-08-20T10:05:00.000Z","kind":"turn_summary","sessionKey":"s-1","channel":"discord","model":"anthropic/claude-sonnet-4-5","tokens_in":800,"tokens_out":100,"tool_calls":12,"rate_limits":1,"retry_count":1,"duration_ms":9000,"tags":{"heartbeat":false,"cron_job_id":"nightly","agentId":"main"}})"
    "\n";
constexpr int64_t kTurnSummaryTotal = 2400;

// Claude Code: a prompt, one assistant message (2 snapshots: out 5, then
// 200) and a tool result.  in 3 + cache write 1000 + read 20000 + out 200
// = 21203.
const char kClaude[] =
    R"({"parentUuid":null,"isSidechain":false,"userType":"external","cwd":"/w","sessionId":"s-c","version":"2.1.200","type":"user","message":{"role":"user","content":"fix the build"},"uuid":"u-p1","timestamp":"2026-08-18T09:16:00.000Z"})"
    "\n"
    R"({"parentUuid":"u-p1","isSidechain":false,"userType":"external","cwd":"/w","sessionId":"s-c","version":"2.1.200","message":{"model":"claude-sonnet-4-5","id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"ok"}],"stop_reason":null,"usage":{"input_tokens":3,"cache_creation_input_tokens":1000,"cache_read_input_tokens":20000,"output_tokens":5}},"requestId":"req_1","type":"assistant","uuid":"u-a1","timestamp":"2026-08-18T09:16:05.000Z"})"
    "\n"
    R"({"parentUuid":"u-a1","isSidechain":false,"userType":"external","cwd":"/w","sessionId":"s-c","version":"2.1.200","message":{"model":"claude-sonnet-4-5","id":"msg_1","type":"message","role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"make"}}],"stop_reason":"tool_use","usage":{"input_tokens":3,"cache_creation_input_tokens":1000,"cache_read_input_tokens":20000,"output_tokens":200}},"requestId":"req_1","type":"assistant","uuid":"u-a2","timestamp":"2026-08-18T09:16:06.000Z"})"
    "\n"
    R"({"parentUuid":"u-a2","isSidechain":false,"userType":"external","cwd":"/w","sessionId":"s-c","version":"2.1.200","type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_1","type":"tool_result","content":"done"}]},"uuid":"u-r1","timestamp":"2026-08-18T09:16:09.000Z"})"
    "\n";
constexpr int64_t kClaudeTotal = 21203;

// Codex: one thread, one request: input 5000 (of which 4000 cached), output
// 300 -> input 1000 + read 4000 + out 300 = 5300.
const char kCodex[] =
    R"({"timestamp":"2026-08-18T09:00:00.000Z","type":"session_meta","payload":{"id":"th-1","timestamp":"2026-08-18T09:00:00.000Z","cwd":"/repo","originator":"codex_cli_rs","cli_version":"0.104.0"}})"
    "\n"
    R"({"timestamp":"2026-08-18T09:00:01.000Z","type":"turn_context","payload":{"cwd":"/repo","model":"gpt-5.2","effort":"medium"}})"
    "\n"
    R"({"timestamp":"2026-08-18T09:00:09.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":5000,"cached_input_tokens":4000,"output_tokens":300,"reasoning_output_tokens":0,"total_tokens":5300},"last_token_usage":{"input_tokens":5000,"cached_input_tokens":4000,"output_tokens":300,"reasoning_output_tokens":0,"total_tokens":5300},"model_context_window":272000}}})"
    "\n";
constexpr int64_t kCodexTotal = 5300;

// OTLP JSON: one chat span, input 1000 of which cache read 600, output 50
// -> input 400 + read 600 + out 50 = 1050.
const char kOtlp[] =
    R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"agent"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"chat","startTimeUnixNano":"1763888400000000000","endTimeUnixNano":"1763888401500000000","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.request.model","value":{"stringValue":"claude-sonnet-4-5"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"1000"}},{"key":"gen_ai.usage.cache_read.input_tokens","value":{"intValue":"600"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":"50"}}]}]}]}]})"
    "\n";
constexpr int64_t kOtlpTotal = 1050;

struct Case {
  const char* name;
  const char* text;
  int64_t total;
  size_t events;
  const char* format;
};
const Case kCases[] = {
    {"tokmeter", kTokmeter, kTokmeterTotal, 2, "tokmeter"},
    {"token-usage", kTokenUsage, kTokenUsageTotal, 2, "token-usage"},
    {"turn-summary", kTurnSummary, kTurnSummaryTotal, 2, "turn-summary"},
    {"claude-code", kClaude, kClaudeTotal, 1, "claude-code"},
    {"codex", kCodex, kCodexTotal, 1, "codex"},
    {"otlp-json", kOtlp, kOtlpTotal, 1, "otlp-json"},
};

void ExpectRead(const Collected& c, const Case& k, const std::string& what) {
  ASSERT_TRUE(c.status.ok()) << c.status;
  ASSERT_EQ(c.result.inputs.size(), 1u);
  const InputSummary& in = c.result.inputs[0];
  EXPECT_EQ(in.skipped_lines, 0) << k.name << " " << what;
  EXPECT_FALSE(in.empty) << k.name << " " << what;
  EXPECT_EQ(in.format, k.format) << k.name << " " << what;
  EXPECT_EQ(c.events.size(), k.events) << k.name << " " << what;
  EXPECT_EQ(c.totals.total(), k.total) << k.name << " " << what;
}

TEST(ByteOrderMarkTest, FirstRecordIsReadInEveryFormat) {
  for (const Case& k : kCases) {
    TempDir dir;
    ExpectRead(ReadAll({dir.Write("bom.jsonl", kBom + k.text)}), k, "with a BOM");
  }
}

TEST(ByteOrderMarkTest, CompressedAndStdin) {
  std::string plain = kBom + kTokenUsage;
  TempDir dir;
  ExpectRead(ReadAll({dir.Write("bom.jsonl.gz", Gzip(plain))}), kCases[1], "gzip with a BOM");

  Collected c;
  ASSERT_NO_FATAL_FAILURE(ReadAllFromStdin(plain, &c));
  ExpectRead(c, kCases[1], "stdin with a BOM");
}

TEST(ByteOrderMarkTest, OnlyAtTheStartOfALineIsIgnored) {
  // A BOM-prefixed line in the middle (two files concatenated) reads too;
  // a BOM inside a line is part of a string and changes nothing.
  TempDir dir;
  std::string two = std::string(kTokenUsage) + kBom + kTokenUsage;
  Collected c = ReadAll({dir.Write("cat.jsonl", two)});
  ASSERT_TRUE(c.status.ok());
  EXPECT_EQ(c.result.inputs[0].skipped_lines, 0);
  EXPECT_EQ(c.totals.total(), 2 * kTokenUsageTotal);
}

TEST(SpacingTest, BlanksAfterColonsAndCommasReadLikeTheCompactForm) {
  for (const Case& k : kCases) {
    TempDir dir;
    std::string spaced = SpacedLines(k.text);
    ASSERT_NE(spaced, k.text);
    Collected compact = ReadAll({dir.Write("c.jsonl", k.text)});
    Collected loose = ReadAll({dir.Write("s.jsonl", spaced)});
    ExpectRead(loose, k, "spaced");
    ASSERT_EQ(compact.events.size(), loose.events.size());
    for (size_t i = 0; i < compact.events.size(); ++i) {
      const auto& a = compact.events[i];
      const auto& b = loose.events[i];
      EXPECT_EQ(a.kind, b.kind) << k.name;
      EXPECT_EQ(a.model, b.model) << k.name;
      EXPECT_EQ(a.provider, b.provider) << k.name;
      EXPECT_EQ(a.trace_id, b.trace_id) << k.name;
      EXPECT_EQ(a.parent_id, b.parent_id) << k.name;
      EXPECT_EQ(a.tags, b.tags) << k.name;
      EXPECT_EQ(a.e.time_unix_ns, b.e.time_unix_ns) << k.name;
      EXPECT_EQ(a.e.tokens.total(), b.e.tokens.total()) << k.name;
      EXPECT_EQ(a.e.tool_calls, b.e.tool_calls) << k.name;
      EXPECT_EQ(a.e.rate_limited, b.e.rate_limited) << k.name;
      EXPECT_EQ(a.e.fingerprint, b.e.fingerprint) << k.name;
    }
  }
}

TEST(SpacingTest, CrlfLineEnds) {
  for (const Case& k : kCases) {
    TempDir dir;
    ExpectRead(ReadAll({dir.Write("crlf.jsonl", Crlf(k.text))}), k, "CRLF");
    ExpectRead(ReadAll({dir.Write("crlf-spaced.jsonl", Crlf(SpacedLines(k.text)))}), k,
               "CRLF spaced");
  }
}

TEST(SpacingTest, ClaudeSpacedTranscriptIsNotEmpty) {
  // The reported case: "usage": {"input_tokens": 3, ...}, "type": "assistant".
  TempDir dir;
  Collected c = ReadAll({dir.Write("projects/p/s-c.jsonl", SpacedLines(kClaude))});
  ASSERT_TRUE(c.status.ok());
  ASSERT_EQ(c.events.size(), 1u);
  const auto& m = c.events[0];
  EXPECT_EQ(m.e.tokens.input, 3);
  EXPECT_EQ(m.e.tokens.cache_read, 20000);
  EXPECT_EQ(m.e.tokens.cache_write(), 1000);
  EXPECT_EQ(m.e.tokens.output, 200);  // the final snapshot
  EXPECT_EQ(m.tag("session"), "s-c");
  EXPECT_EQ(m.tag("request_id"), "req_1");
  EXPECT_EQ(m.e.tool_calls, 1);
  EXPECT_EQ(m.parent_id, "u-p1");
  EXPECT_EQ(c.result.inputs[0].duplicates, 1);
  EXPECT_FALSE(c.result.inputs[0].empty);
}

TEST(KeyOrderTest, MarkersAfterTheHeadStillRecognised) {
  TempDir dir;
  // A tokmeter span whose "type" is last (jq -S sorts the keys): in 7 + out
  // 3 = 10; not token-usage although it has input_tokens and provider.
  std::string span =
      R"({"duration_ms":1.0,"input_tokens":7,"kind":"llm","model":"m","name":"messages","output_tokens":3,"parent_id":"00f067aa0ba902b7","provider":"anthropic","requests":1,"span_id":"a3ce929d0e0e4736","tags":{"session":"s-9"},"timestamp":"2026-11-23T09:00:01.000000000Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","type":"span"})";
  Collected c = ReadAll({dir.Write("sorted.jsonl", span + "\n")});
  ASSERT_TRUE(c.status.ok());
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.result.inputs[0].format, "tokmeter");
  EXPECT_EQ(c.events[0].kind, "llm");
  EXPECT_EQ(c.events[0].tag("session"), "s-9");
  EXPECT_EQ(c.events[0].parent_id, "00f067aa0ba902b7");
  EXPECT_EQ(c.totals.total(), 10);

  // A Codex token_count whose "type" comes after a long payload: counted.
  std::string codex = std::string(kCodex);
  std::string late =
      R"({"payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":9000,"cached_input_tokens":4000,"output_tokens":500},"last_token_usage":{"input_tokens":4000,"cached_input_tokens":0,"output_tokens":200}}},"timestamp":"2026-08-18T09:01:00.000Z","type":"event_msg"})";
  // The second request: totals moved by input 4000 (0 cached), output 200
  // -> 4200; with the first (5300): 9500.
  Collected d = ReadAll({dir.Write("late.jsonl", codex + late + "\n")});
  ASSERT_TRUE(d.status.ok());
  EXPECT_EQ(d.result.inputs[0].skipped_lines, 0);
  EXPECT_EQ(d.totals.total(), 9500);
}

// ---------------------------------------------------------------------------
// Claude Code: tool calls, fingerprint and the turn's prompt per message.
//
// sess.jsonl (session s-t)
//   1 user   u-p1  prompt "run the tests"
//   2 asst   msg_a snapshot: thinking            (in 3, read 10000, out 2)
//   3 asst   msg_a snapshot: tool_use t1 Bash {"command":"make test"}
//   4 asst   msg_a final:    tool_use t2 Read {"file_path":"/w/a.c"}  (out 150)
//   5 user   u-r1  tool_result t1, t2 (not a prompt)
//   6 asst   msg_b final:    tool_use t3 Bash {"command": "make test"} (blanks inside input)
//   7 user   u-m   isMeta caveat line (not a prompt)
//   8 user   u-r2  tool_result t3 with a text block appended (a reminder: not a prompt)
//   9 asst   msg_c final:    text only
//  10 user   u-p2  prompt as blocks [{"type":"text",...}]
//  11 asst   msg_d final:    tool_use t4 Bash {"command":"make test"}
//  12 asst   msg_a copy of line 3 (a resumed file would repeat it): no new call
// sess/subagents/agent-x.jsonl (sidechain, agent x)
//   1 user   u-s1  the sub-agent's prompt
//   2 asst   msg_s  tool_use t5 Grep {"pattern":"TODO"}, t6 Grep {"pattern":"FIXME"}
//
// Expected per message:
//   msg_a: 2 tool calls (t1, t2; the copy of t1 is not counted again), parent u-p1
//   msg_b: 1 (t3), parent u-p1 (tool results, with what is appended to them, and meta
//          lines do not start a turn)
//   msg_c: 0, fingerprint 0, parent u-p1
//   msg_d: 1 (t4), parent u-p2; same name and input as msg_b -> same fingerprint
//   msg_s: 2, parent u-s1 (the sub-agent's own prompt)
std::string AsstLine(const std::string& id, const std::string& uuid, const std::string& ts,
                     const std::string& content, int out, bool sidechain = false) {
  return R"({"parentUuid":"x","isSidechain":)" + std::string(sidechain ? "true" : "false") +
         (sidechain ? R"(,"agentId":"x")" : "") +
         R"(,"userType":"external","cwd":"/w","sessionId":"s-t","version":"2.1.200","message":{"model":"claude-sonnet-4-5","id":")" +
         id + R"(","type":"message","role":"assistant","content":)" + content +
         R"(,"stop_reason":null,"usage":{"input_tokens":3,"cache_read_input_tokens":10000,"output_tokens":)" +
         std::to_string(out) + R"(}},"type":"assistant","uuid":")" + uuid + R"(","timestamp":")" +
         ts + R"("})";
}
std::string UserLine(const std::string& uuid, const std::string& ts, const std::string& content,
                     const std::string& extra = "", bool sidechain = false) {
  return R"({"parentUuid":"x","isSidechain":)" + std::string(sidechain ? "true" : "false") +
         (sidechain ? R"(,"agentId":"x")" : "") +
         R"(,"userType":"external","cwd":"/w","sessionId":"s-t","version":"2.1.200","type":"user","message":{"role":"user","content":)" +
         content + "}" + extra + R"(,"uuid":")" + uuid + R"(","timestamp":")" + ts + R"("})";
}

class ClaudeToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string t1 =
        R"({"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"make test"}})";
    std::string s;
    s += UserLine("u-p1", "2026-08-18T09:00:00.000Z", R"("run the tests")") + "\n";
    s += AsstLine("msg_a", "a1", "2026-08-18T09:00:02.000Z",
                  R"([{"type":"thinking","thinking":"hmm","signature":"zz"}])", 2) +
         "\n";
    s += AsstLine("msg_a", "a2", "2026-08-18T09:00:03.000Z", "[" + t1 + "]", 2) + "\n";
    s += AsstLine(
             "msg_a", "a3", "2026-08-18T09:00:04.000Z",
             R"([{"type":"tool_use","id":"toolu_2","name":"Read","input":{"file_path":"/w/a.c"}}])",
             150) +
         "\n";
    s +=
        UserLine(
            "u-r1", "2026-08-18T09:00:10.000Z",
            R"([{"tool_use_id":"toolu_1","type":"tool_result","content":"ok"},{"tool_use_id":"toolu_2","type":"tool_result","content":[{"type":"text","text":"int main"}]}])",
            R"(,"toolUseResult":{"stdout":"ok"})") +
        "\n";
    s +=
        AsstLine(
            "msg_b", "b1", "2026-08-18T09:00:20.000Z",
            R"([{"type":"tool_use","id":"toolu_3","name":"Bash","input":{ "command" : "make test" }}])",
            40) +
        "\n";
    s += UserLine("u-m", "2026-08-18T09:00:21.000Z", R"("<local-command-caveat>")",
                  R"(,"isMeta":true)") +
         "\n";
    s +=
        UserLine(
            "u-r2", "2026-08-18T09:00:30.000Z",
            R"([{"tool_use_id":"toolu_3","type":"tool_result","content":"ok"},{"type":"text","text":"<system-reminder>todo list</system-reminder>"}])") +
        "\n";
    s += AsstLine("msg_c", "c1", "2026-08-18T09:00:40.000Z",
                  R"([{"type":"text","text":"All tests pass."}])", 30) +
         "\n";
    s += UserLine("u-p2", "2026-08-18T09:05:00.000Z",
                  R"([{"type":"text","text":"and once more"}])") +
         "\n";
    s +=
        AsstLine(
            "msg_d", "d1", "2026-08-18T09:05:05.000Z",
            R"([{"type":"tool_use","id":"toolu_4","name":"Bash","input":{"command":"make test"}}])",
            40) +
        "\n";
    s += AsstLine("msg_a", "a2", "2026-08-18T09:00:03.000Z", "[" + t1 + "]", 2) + "\n";
    text_ = s;
    std::string side;
    side += UserLine("u-s1", "2026-08-18T09:01:00.000Z", R"("find the TODOs")", "", true) + "\n";
    side +=
        AsstLine(
            "msg_s", "s1", "2026-08-18T09:01:05.000Z",
            R"([{"type":"tool_use","id":"toolu_5","name":"Grep","input":{"pattern":"TODO"}},{"type":"tool_use","id":"toolu_6","name":"Grep","input":{"pattern":"FIXME"}}])",
            60, true) +
        "\n";
    side_ = side;
  }

  void Check(const Collected& c) {
    ASSERT_TRUE(c.status.ok()) << c.status;
    for (const auto& in : c.result.inputs) EXPECT_EQ(in.skipped_lines, 0) << in.path;
    ASSERT_EQ(c.events.size(), 5u);
    // Events are sorted by time: msg_a (09:00:04), msg_b, msg_c, msg_s (09:01:05), msg_d.
    const auto& a = c.events[0];
    const auto& b = c.events[1];
    const auto& cc = c.events[2];
    const auto& s = c.events[3];
    const auto& d = c.events[4];
    EXPECT_EQ(a.e.tokens.output, 150);
    EXPECT_EQ(a.e.tool_calls, 2);
    EXPECT_EQ(a.parent_id, "u-p1");
    EXPECT_NE(a.e.fingerprint, 0u);
    EXPECT_EQ(b.e.tool_calls, 1);
    EXPECT_EQ(b.parent_id, "u-p1");
    EXPECT_EQ(cc.e.tool_calls, 0);
    EXPECT_EQ(cc.e.fingerprint, 0u);
    EXPECT_EQ(cc.parent_id, "u-p1");
    EXPECT_EQ(d.e.tool_calls, 1);
    EXPECT_EQ(d.parent_id, "u-p2");
    EXPECT_EQ(s.e.tool_calls, 2);
    EXPECT_EQ(s.parent_id, "u-s1");
    EXPECT_EQ(s.tag("sidechain"), "true");
    // Same tool, same input (blanks aside): same fingerprint; other calls differ.
    EXPECT_EQ(b.e.fingerprint, d.e.fingerprint);
    EXPECT_NE(a.e.fingerprint, b.e.fingerprint);
    EXPECT_NE(s.e.fingerprint, b.e.fingerprint);
    // The definition (docs/READERS.md): XXH3-64 of the blocks' hashes, each
    // the XXH3-64 of name, a zero byte, and the input in compact form.
    const std::string block = std::string("Bash") + '\0' + R"({"command":"make test"})";
    const uint64_t h = XXH3_64bits(block.data(), block.size());
    EXPECT_EQ(d.e.fingerprint, XXH3_64bits(&h, sizeof h));
    EXPECT_EQ(c.tool_calls, 6);
  }

  std::string text_, side_;
};

TEST_F(ClaudeToolsTest, PerMessageNotPerSnapshot) {
  TempDir dir;
  dir.Write("projects/p/s-t.jsonl", text_);
  dir.Write("projects/p/s-t/subagents/agent-x.jsonl", side_);
  Check(ReadAll({dir.path()}));
}

TEST_F(ClaudeToolsTest, SpacedTranscriptGivesTheSameFields) {
  TempDir dir;
  dir.Write("projects/p/s-t.jsonl", SpacedLines(text_));
  dir.Write("projects/p/s-t/subagents/agent-x.jsonl", SpacedLines(side_));
  Check(ReadAll({dir.path()}));
}

TEST_F(ClaudeToolsTest, OneThreadAndBomAndCrlf) {
  TempDir dir;
  dir.Write("projects/p/s-t.jsonl", kBom + Crlf(text_));
  dir.Write("projects/p/s-t/subagents/agent-x.jsonl", side_);
  ReadOptions o;
  o.threads = 1;
  Check(ReadAll({dir.path()}, o));
}

}  // namespace
}  // namespace tokmeter::analysis
