// Claude Code transcripts: streaming snapshots, a resumed
// session that copies lines into a new file, a sidechain replay, lines
// without requestId, progress copies, a synthetic 429 line, malformed and cut
// lines. Totals computed by hand below.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/analysis/reader.h"
#include "tests/readers/test_util.h"

namespace tokmeter::analysis {
namespace {

using testing::Collected;
using ::testing::ElementsAre;
using testing::ReadAll;
using testing::TempDir;

struct Line {
  std::string session = "sess-a";
  std::string msg_id;
  std::string request_id;  // empty: no requestId field
  bool sidechain = false;
  int in = 0, cw = 0, cr = 0, out = 0;
  std::string ttl = "5m";  // "5m", "1h", or "none" (no cache_creation object)
  std::string ts = "2026-08-18T09:16:36.727Z";
  std::string stop = "null";
  std::string content = R"([{"type":"text","text":"ok"}])";
  std::string agent;
};

std::string Assistant(const Line& l) {
  std::string usage = "{\"input_tokens\":" + std::to_string(l.in) +
                      ",\"cache_creation_input_tokens\":" + std::to_string(l.cw) +
                      ",\"cache_read_input_tokens\":" + std::to_string(l.cr);
  if (l.ttl == "5m") {
    usage += ",\"cache_creation\":{\"ephemeral_5m_input_tokens\":" + std::to_string(l.cw) +
             ",\"ephemeral_1h_input_tokens\":0}";
  } else if (l.ttl == "1h") {
    usage += ",\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,\"ephemeral_1h_input_tokens\":" +
             std::to_string(l.cw) + "}";
  }
  usage += ",\"output_tokens\":" + std::to_string(l.out) + ",\"service_tier\":\"standard\"}";
  std::string s =
      "{\"parentUuid\":\"p0\",\"isSidechain\":" + std::string(l.sidechain ? "true" : "false");
  if (!l.agent.empty()) s += ",\"agentId\":\"" + l.agent + "\"";
  s += ",\"message\":{\"model\":\"claude-sonnet-4-5-20250929\",\"id\":\"" + l.msg_id +
       "\",\"type\":\"message\",\"role\":\"assistant\",\"content\":" + l.content +
       ",\"stop_reason\":" + l.stop + ",\"stop_sequence\":null,\"usage\":" + usage + "}";
  if (!l.request_id.empty()) s += ",\"requestId\":\"" + l.request_id + "\"";
  s += ",\"type\":\"assistant\",\"uuid\":\"u-" + l.msg_id + "\",\"timestamp\":\"" + l.ts +
       "\",\"userType\":\"external\",\"cwd\":\"/home/dev/api\",\"sessionId\":\"" + l.session +
       "\",\"version\":\"2.1.200\",\"gitBranch\":\"main\"}";
  return s;
}

std::string User(const std::string& session, size_t payload) {
  // A tool result whose text mentions "usage":{ — escaped inside the string,
  // so it must not look like usage.
  std::string text = R"(log: \"usage\":{\"input_tokens\":999} )" + std::string(payload, 'z');
  return "{\"parentUuid\":\"p1\",\"isSidechain\":false,\"userType\":\"external\",\"cwd\":\"/home/"
         "dev/api\",\"sessionId\":\"" +
         session +
         "\",\"version\":\"2.1.200\",\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":["
         "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"" +
         text +
         "\"}]},\"uuid\":\"u1\",\"timestamp\":\"2026-08-18T09:16:30.000Z\",\"toolUseResult\":{"
         "\"stdout\":\"" +
         std::string(payload, 'y') + "\"}}";
}

// Fixture (three files, read in sorted order: sess-a.jsonl, sess-a/subagents/agent-x.jsonl,
// sess-b.jsonl):
//
// sess-a.jsonl (session sess-a)
//   1 user
//   2 msg_1 req_1  in 3, cw 1000 (5m), cr 20000, out 1    snapshot
//   3 msg_1 req_1  same, out 5                             snapshot
//   4 msg_1 req_1  same, out 120, stop end_turn            final
//   5 user
//   6 msg_2 (no requestId) in 10, cr 21000, out 7          snapshot
//   7 msg_2 (no requestId) in 10, cr 21000, out 300        final
//   8 malformed
//   9 synthetic 429 line (message.id err_1, <synthetic>, zero usage)
//  10 summary line (no usage)
//  11 progress line nesting msg_5's final snapshot (subagent x)
// sess-a/subagents/agent-x.jsonl (sidechain, parent session sess-a)
//   1 msg_1 replayed with requestId req_9, isSidechain, final usage
//   2 msg_5 in 2, cr 1000, out 3     snapshot
//   3 msg_5 in 2, cr 1000, out 40    final
// sess-b.jsonl (resumed session sess-b: copies of sess-a lines, then new work)
//   1 copy of msg_1 final
//   2 copy of msg_2 final (no requestId)
//   3 msg_3 in 5, cw 2000 (1h), cr 22000, out 50
//   4 cut line (no newline): {"...msg_4...","usage":{"input_tokens":9
//
// Expected, one event per message id:
//   msg_1: in 3,  cw5 1000, cr 20000, out 120   (session sess-a, non-sidechain)
//   msg_2: in 10,            cr 21000, out 300
//   err_1: 0 tokens, rate_limited 1, errors 1
//   msg_3: in 5,  cw1h 2000, cr 22000, out 50   (session sess-b)
//   msg_5: in 2,             cr 1000,  out 40   (sidechain only)
//   totals: input 20, cache_read 64000, cw5 1000, cw1h 2000, output 510,
//           total 67530, 5 requests, 1 rate-limited.
//   Summing every line instead would give input 3*3+3+10*2+10+2*2+2+5 = 53 ... (not used)
class ClaudeCodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Line m1{.msg_id = "msg_1",
            .request_id = "req_1",
            .in = 3,
            .cw = 1000,
            .cr = 20000,
            .out = 1,
            .ts = "2026-08-18T09:16:40.000Z"};
    Line m1b = m1;
    m1b.out = 5;
    // A tool_use whose input has keys named like the ones we read: inside an
    // array, so they must be ignored.
    m1b.content =
        R"([{"type":"tool_use","id":"toolu_X","name":"Fake","input":{"id":"fake","model":"fake","usage":{"input_tokens":999999}}}])";
    Line m1f = m1;
    m1f.out = 120;
    m1f.stop = "\"end_turn\"";
    Line m2{.msg_id = "msg_2", .in = 10, .cr = 21000, .out = 7, .ts = "2026-08-18T09:17:00.000Z"};
    Line m2f = m2;
    m2f.out = 300;
    m2f.stop = "\"end_turn\"";
    std::string synthetic =
        R"({"parentUuid":"p","isSidechain":false,"message":{"id":"err_1","model":"<synthetic>","role":"assistant","type":"message","content":[{"type":"text","text":"API Error: Rate limit reached"}],"usage":{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}},"type":"assistant","uuid":"e1","timestamp":"2026-08-18T09:18:00.000Z","sessionId":"sess-a","cwd":"/home/dev/api","isApiErrorMessage":true,"error":"rate_limit","apiErrorStatus":429})";
    Line m5{.session = "sess-a",
            .msg_id = "msg_5",
            .request_id = "req_5",
            .sidechain = true,
            .in = 2,
            .cr = 1000,
            .out = 3,
            .ts = "2026-08-18T09:19:00.000Z",
            .agent = "x"};
    Line m5f = m5;
    m5f.out = 40;
    m5f.stop = "\"end_turn\"";
    std::string progress =
        R"({"parentUuid":"p","isSidechain":false,"type":"progress","data":{"type":"agent_progress","agentId":"x","message":)" +
        Assistant(m5f) +
        R"(},"uuid":"pr1","timestamp":"2026-08-18T09:19:01.000Z","sessionId":"sess-a","cwd":"/home/dev/api"})";
    std::string a;
    a += User("sess-a", 3000) + "\n";
    a += Assistant(m1) + "\n";
    a += Assistant(m1b) + "\n";
    a += Assistant(m1f) + "\n";
    a += User("sess-a", 70000) + "\n";
    a += Assistant(m2) + "\n";
    a += Assistant(m2f) + "\n";
    a += R"({"parentUuid":"p","type":"assistant","message":{"id":"msg_9","usage":{"input_tokens":)"
         "\n";
    a += synthetic + "\n";
    a += R"({"type":"summary","summary":"Fix the build","leafUuid":"u9"})"
         "\n";
    a += progress + "\n";
    dir_.Write("projects/-home-dev-api/sess-a.jsonl", a);

    Line m1side = m1f;
    m1side.request_id = "req_9";
    m1side.sidechain = true;
    m1side.agent = "x";
    std::string side;
    side += Assistant(m1side) + "\n";
    side += Assistant(m5) + "\n";
    side += Assistant(m5f) + "\n";
    dir_.Write("projects/-home-dev-api/sess-a/subagents/agent-x.jsonl", side);

    Line m1copy = m1f;
    m1copy.session = "sess-b";
    Line m2copy = m2f;
    m2copy.session = "sess-b";
    Line m3{.session = "sess-b",
            .msg_id = "msg_3",
            .request_id = "req_3",
            .in = 5,
            .cw = 2000,
            .cr = 22000,
            .out = 50,
            .ttl = "1h",
            .ts = "2026-08-19T08:00:00.000Z"};
    std::string b;
    b += Assistant(m1copy) + "\n";
    b += Assistant(m2copy) + "\n";
    b += Assistant(m3) + "\n";
    b +=
        R"({"parentUuid":"p","isSidechain":false,"message":{"model":"claude-sonnet-4-5-20250929","id":"msg_4","usage":{"input_tokens":9)";
    dir_.Write("projects/-home-dev-api/sess-b.jsonl", b);
  }

  void Check(const Collected& c) {
    ASSERT_TRUE(c.status.ok()) << c.status;
    ASSERT_EQ(c.events.size(), 5u);
    EXPECT_EQ(c.totals.input, 20);
    EXPECT_EQ(c.totals.cache_read, 64000);
    EXPECT_EQ(c.totals.cache_write_5m, 1000);
    EXPECT_EQ(c.totals.cache_write_1h, 2000);
    EXPECT_EQ(c.totals.output, 510);
    EXPECT_EQ(c.totals.total(), 67530);
    EXPECT_EQ(c.requests, 5);
    EXPECT_EQ(c.rate_limited, 1);

    // Sorted by time: msg_1 (09:16:40), msg_2, err_1, msg_5, msg_3 (next day).
    const auto& m1 = c.events[0];
    EXPECT_EQ(m1.e.tokens.output, 120);
    EXPECT_EQ(m1.tag("session"), "sess-a");
    EXPECT_EQ(m1.tag("project"), "/home/dev/api");
    EXPECT_EQ(m1.tag("sidechain"), "");
    EXPECT_EQ(m1.tag("request_id"), "req_1");
    EXPECT_EQ(m1.model, "claude-sonnet-4-5-20250929");
    EXPECT_EQ(m1.provider, "anthropic");
    EXPECT_EQ(m1.e.line, 2);  // the first non-sidechain copy
    EXPECT_FALSE(m1.e.ttl_unknown);
    const auto& m2 = c.events[1];
    EXPECT_EQ(m2.e.tokens.output, 300);
    EXPECT_EQ(m2.tag("session"), "sess-a");
    const auto& err = c.events[2];
    EXPECT_EQ(err.e.rate_limited, 1);
    EXPECT_EQ(err.e.errors, 1);
    EXPECT_EQ(err.e.status, 429);
    EXPECT_EQ(err.e.tokens.total(), 0);
    EXPECT_EQ(err.model, "<synthetic>");
    const auto& m5 = c.events[3];
    EXPECT_EQ(m5.e.tokens.output, 40);
    EXPECT_EQ(m5.tag("sidechain"), "true");
    EXPECT_EQ(m5.tag("agent"), "x");
    const auto& m3 = c.events[4];
    EXPECT_EQ(m3.tag("session"), "sess-b");
    EXPECT_EQ(m3.e.tokens.cache_write_1h, 2000);

    const InputSummary* a = c.input("sess-a.jsonl");
    const InputSummary* side = c.input("agent-x.jsonl");
    const InputSummary* b = c.input("sess-b.jsonl");
    ASSERT_TRUE(a && side && b);
    EXPECT_EQ(a->format, "claude-code");
    EXPECT_EQ(a->lines, 11);
    EXPECT_EQ(a->skipped_lines, 1);
    EXPECT_THAT(a->first_bad_lines, ElementsAre(8));
    EXPECT_EQ(b->lines, 4);
    EXPECT_EQ(b->skipped_lines, 1);  // the cut last line
    EXPECT_THAT(b->first_bad_lines, ElementsAre(4));
    // Candidates: a has 2,3,4,6,7,9,11 (7) and keeps msg_1, msg_2, err_1, msg_5
    // (msg_5 was first seen there, in the progress copy); side has 3, keeps 0;
    // b has 3, keeps msg_3.
    EXPECT_EQ(a->records, 4);
    EXPECT_EQ(a->duplicates, 3);
    EXPECT_EQ(side->records, 0);
    EXPECT_EQ(side->duplicates, 3);
    EXPECT_FALSE(side->empty);
    EXPECT_EQ(b->records, 1);
    EXPECT_EQ(b->duplicates, 2);
  }

  TempDir dir_;
};

TEST_F(ClaudeCodeTest, DedupAcrossFilesOneThread) {
  ReadOptions o;
  o.threads = 1;
  Check(ReadAll({dir_.path()}, o));
}

TEST_F(ClaudeCodeTest, DedupAcrossFilesTwoThreads) {
  ReadOptions o;
  o.threads = 2;
  Check(ReadAll({dir_.path()}, o));
}

TEST_F(ClaudeCodeTest, FilesNamedInAnyOrderGiveTheSameTotals) {
  std::string root = dir_.path() + "/projects/-home-dev-api/";
  Collected c = ReadAll(
      {root + "sess-b.jsonl", root + "sess-a/subagents/agent-x.jsonl", root + "sess-a.jsonl"});
  ASSERT_EQ(c.events.size(), 5u);
  EXPECT_EQ(c.totals.total(), 67530);
  // msg_1's attribution comes from the first non-sidechain copy read: sess-b here.
  EXPECT_EQ(c.events[0].tag("session"), "sess-b");
}

TEST(ClaudeCodeLineTest, MissingCacheBreakdownIsFiveMinuteAndFlagged) {
  TempDir dir;
  Line l{.msg_id = "m", .request_id = "r", .in = 1, .cw = 500, .cr = 0, .out = 2, .ttl = "none"};
  Collected c = ReadAll({dir.Write("s.jsonl", Assistant(l) + "\n")});
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].e.tokens.cache_write_5m, 500);
  EXPECT_TRUE(c.events[0].e.ttl_unknown);
}

TEST(ClaudeCodeLineTest, NullCacheFieldsCountAsZero) {
  TempDir dir;
  std::string line =
      R"({"parentUuid":null,"isSidechain":false,"message":{"model":"claude-opus-4-6","id":"m1","usage":{"input_tokens":4,"cache_creation_input_tokens":null,"cache_read_input_tokens":null,"output_tokens":9}},"type":"assistant","timestamp":"2026-08-18T09:16:41.002Z","sessionId":"s"})";
  Collected c = ReadAll({dir.Write("s.jsonl", line + "\n")});
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].e.tokens.total(), 13);
}

TEST(ClaudeCodeLineTest, ThirdPartyPartialSnapshotsUseTheLargestTotal) {
  // Partial lines may hold an undifferentiated input total that
  // the final line splits into cache read. Largest total wins, not max per field:
  // snapshot in 5000 out 1 (total 5001); final in 200, cr 4800, out 90 (5090).
  TempDir dir;
  Line a{.msg_id = "m", .in = 5000, .out = 1, .ttl = "none"};
  Line b{.msg_id = "m", .in = 200, .cr = 4800, .out = 90, .ttl = "none"};
  Collected c = ReadAll({dir.Write("s.jsonl", Assistant(a) + "\n" + Assistant(b) + "\n")});
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].e.tokens.input, 200);
  EXPECT_EQ(c.events[0].e.tokens.cache_read, 4800);
  EXPECT_EQ(c.events[0].e.tokens.output, 90);
}

// A compacting request in a transcript: usage.iterations[] is what was
// billed (iteration 0: in 180, cache read 9000, out 400; iteration 1: in 25,
// write 700 with the 1-hour TTL, out 60), not the top level (the last one).
TEST(ClaudeCodeLineTest, IterationsAreSummed) {
  TempDir dir;
  std::string line =
      R"({"parentUuid":"p","isSidechain":false,"message":{"model":"claude-sonnet-4-6","id":"m1","content":[{"type":"text","text":"ok"}],"usage":{"input_tokens":25,"cache_creation_input_tokens":700,"cache_read_input_tokens":0,"output_tokens":60,"iterations":[{"type":"compaction","input_tokens":180,"cache_read_input_tokens":9000,"cache_creation_input_tokens":0,"output_tokens":400},{"type":"message","input_tokens":25,"cache_read_input_tokens":0,"cache_creation_input_tokens":700,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":700},"output_tokens":60}],"speed":"standard"}},"requestId":"r1","type":"assistant","timestamp":"2026-08-18T09:16:41.002Z","sessionId":"s"})";
  Collected c = ReadAll({dir.Write("s.jsonl", line + "\n")});
  ASSERT_EQ(c.events.size(), 1u);
  const TokenBuckets& t = c.events[0].e.tokens;
  EXPECT_EQ(t.input, 180 + 25);
  EXPECT_EQ(t.cache_read, 9000);
  EXPECT_EQ(t.cache_write_1h, 700);
  EXPECT_EQ(t.cache_write_5m, 0);
  EXPECT_EQ(t.output, 400 + 60);
  EXPECT_FALSE(c.events[0].e.ttl_unknown);
}

}  // namespace
}  // namespace tokmeter::analysis
