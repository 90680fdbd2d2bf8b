// Follower: files written in pieces, rotated, truncated, copied, deleted and
// created while followed; every format; Claude Code snapshots; the events
// equal the batch reader's on the finished files. Polls are called directly
// (no sleeping, no timing). Expected numbers are computed by hand next to
// the data.
#include "src/analysis/follow.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/analysis/reader_internal.h"
#include "tests/readers/codex_lines.h"
#include "tests/readers/test_util.h"

#if defined(TOKMETER_TEST_PROTO)
#include "src/proto/records.h"
#include "tests/proto/sample_batch.h"
#endif

namespace tokmeter::analysis {
namespace {

namespace fs = std::filesystem;
using testing::CodexTs;
using testing::CodexUsageJson;
using testing::Collected;
using testing::CopyEvent;
using testing::Ev;
using testing::ReadAll;
using testing::TempDir;

void Append(const std::string& path, std::string_view s) {
  std::ofstream(path, std::ios::binary | std::ios::app) << s;
}

// Everything an event says, as one comparable string.
std::string Key(const Ev& v) {
  const UsageEvent& e = v.e;
  std::string k = std::to_string(int(e.format)) + "|" + v.kind + "|" + v.name + "|" + v.provider +
                  "|" + v.model + "|" + v.trace_id + "|" + v.span_id + "|" + v.parent_id;
  for (int64_t x :
       {e.time_unix_ns, e.duration_ns, e.tokens.input, e.tokens.cache_read, e.tokens.cache_write_5m,
        e.tokens.cache_write_1h, e.tokens.output, e.tokens.reasoning, int64_t(e.ttl_unknown),
        e.requests, e.tool_calls, e.retries, e.retry_wait_ms, e.rate_limited, e.errors,
        e.response_bytes, e.status, int64_t(e.fingerprint), e.line}) {
    k += "|" + std::to_string(x);
  }
  for (const auto& [t, val] : v.tags) k += "|" + t + "=" + val;
  return k;
}
std::vector<std::string> Keys(const std::vector<Ev>& evs, bool sorted) {
  std::vector<std::string> out;
  for (const Ev& e : evs) out.push_back(Key(e));
  if (sorted) std::sort(out.begin(), out.end());
  return out;
}

// A Follower and what its Polls delivered.
struct Watch {
  explicit Watch(std::vector<std::string> paths, FollowOptions o = {})
      : f(std::move(paths), std::move(o)) {}
  // One Poll: the events it delivered.
  std::vector<Ev> Poll() {
    std::vector<Ev> got;
    absl::Status st = f.Poll([&](const UsageEvent& e) { got.push_back(CopyEvent(e)); });
    EXPECT_TRUE(st.ok()) << st;
    for (const Ev& e : got) {
      if (e.kind != kTurnSummaryRollupKind) {
        totals.Add(e.e.tokens);
        requests += e.e.requests;
      }
      all.push_back(e);
    }
    return got;
  }
  // Appends `text` to `path` in pieces of `piece` bytes, a Poll after each.
  void WriteInPieces(const std::string& path, std::string_view text, size_t piece) {
    for (size_t pos = 0; pos < text.size(); pos += piece) {
      Append(path, text.substr(pos, piece));
      Poll();
    }
  }
  const InputSummary* Summary(size_t i) {
    summaries = f.Summaries();
    return i < summaries.size() ? &summaries[i] : nullptr;
  }
  int64_t Sum(int64_t InputSummary::*field) {
    int64_t n = 0;
    for (const InputSummary& s : f.Summaries()) n += s.*field;
    return n;
  }

  Follower f;
  std::vector<Ev> all;
  std::vector<InputSummary> summaries;
  TokenBuckets totals;
  int64_t requests = 0;
};

// ---- tokmeter JSONL lines ---------------------------------------------------

constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";

std::string TraceLine(const std::string& channel = "cli") {
  return std::string(R"({"type":"trace","trace_id":")") + kTraceId +
         R"(","span_id":"00f067aa0ba902b7","timestamp":"2026-11-23T09:00:00.000000000Z","kind":"session","name":"s-1","tags":{"session":"s-1","channel":")" +
         channel + "\"}}\n";
}

// Span i: input 10*i, output i, cache_read 100, one request, at 09:MM:SS = i
// seconds after 09:00.
std::string Span(int i, const char* eol = "\n") {
  char ts[48], id[24];
  snprintf(ts, sizeof ts, "2026-11-23T%02d:%02d:%02d.000000000Z", 9 + i / 3600, (i / 60) % 60,
           i % 60);
  snprintf(id, sizeof id, "%016x", unsigned(i));
  return std::string(R"({"type":"span","timestamp":")") + ts + R"(","trace_id":")" + kTraceId +
         R"(","span_id":")" + id +
         R"(","kind":"llm","name":"messages","provider":"anthropic","model":"claude-sonnet-4-5","input_tokens":)" +
         std::to_string(10 * i) + R"(,"output_tokens":)" + std::to_string(i) +
         R"(,"cache_read_tokens":100,"requests":1})" + eol;
}

// Events of spans, by their input token count (10 * i).
std::vector<int64_t> Inputs(const std::vector<Ev>& evs) {
  std::vector<int64_t> out;
  for (const Ev& e : evs) out.push_back(e.e.tokens.input);
  return out;
}

TEST(FollowTest, LinesWrittenInPiecesAreReadWhenComplete) {
  TempDir dir;
  std::string path = dir.Write("usage.jsonl", "");
  std::string text = TraceLine();
  for (int i = 1; i <= 20; ++i) text += Span(i, i % 2 == 0 ? "\r\n" : "\n");
  Watch w({path});
  // 37-byte pieces cut lines anywhere: after each Poll exactly the spans
  // whose '\n' was written have been delivered.
  for (size_t pos = 0; pos < text.size(); pos += 37) {
    Append(path, std::string_view(text).substr(pos, 37));
    w.Poll();
    std::string_view written = std::string_view(text).substr(0, pos + 37);
    int64_t complete = int64_t(std::count(written.begin(), written.end(), '\n')) - 1;
    ASSERT_EQ(int64_t(w.all.size()), std::max<int64_t>(complete, 0)) << "at byte " << pos;
  }
  // Spans 1..20: input 10 * (1 + ... + 20) = 2100, output 210, cache 20 * 100.
  EXPECT_EQ(w.totals.input, 2100);
  EXPECT_EQ(w.totals.output, 210);
  EXPECT_EQ(w.totals.cache_read, 2000);
  EXPECT_EQ(w.requests, 20);
  for (const Ev& e : w.all) EXPECT_EQ(e.tag("channel"), "cli");  // the trace's tags
  // The same events, in the same order, as the batch reader on the file.
  Collected batch = ReadAll({path});
  EXPECT_EQ(Keys(w.all, false), Keys(batch.events, false));
  const InputSummary* s = w.Summary(0);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->records, 20);
  EXPECT_EQ(s->lines, 21);
  EXPECT_EQ(s->bytes, int64_t(text.size()));
  EXPECT_EQ(s->format, "tokmeter");
}

TEST(FollowTest, AnUnterminatedLineWaitsForItsEnd) {
  TempDir dir;
  std::string path = dir.Write("usage.jsonl", TraceLine());
  Watch w({path});
  EXPECT_TRUE(w.Poll().empty());
  std::string span = Span(7);
  Append(path, std::string_view(span).substr(0, span.size() - 1));  // all but '\n'
  EXPECT_TRUE(w.Poll().empty());
  EXPECT_TRUE(w.Poll().empty());  // still waiting: the batch reader would read it
  Append(path, "\n");
  std::vector<Ev> got = w.Poll();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].e.tokens.input, 70);
  EXPECT_EQ(got[0].e.line, 2);
  EXPECT_EQ(w.f.stats().buffered_bytes, 0);
}

TEST(FollowTest, ManyLinesAppendedBetweenPolls) {
  TempDir dir;
  std::string path = dir.Write("usage.jsonl", TraceLine());
  Watch w({path});
  w.Poll();
  // 6000 lines (about 1.6 MB: more than one read) in one go.
  std::string text;
  for (int i = 1; i <= 6000; ++i) text += Span(i);
  Append(path, text);
  EXPECT_EQ(w.Poll().size(), 6000u);
  // input 10 * 6000 * 6001 / 2, output 6000 * 6001 / 2.
  EXPECT_EQ(w.totals.input, 180030000);
  EXPECT_EQ(w.totals.output, 18003000);
  EXPECT_EQ(w.requests, 6000);
  EXPECT_TRUE(w.Poll().empty());  // nothing new: nothing read again
  EXPECT_EQ(w.Summary(0)->records, 6000);
}

TEST(FollowTest, MalformedLinesAreSkippedAndCounted) {
  TempDir dir;
  std::string path = dir.Write("usage.jsonl", "");
  Watch w({path});
  Append(path, Span(1) + "{\"type\":\"span\",\"timestamp\":\n" + Span(2));
  EXPECT_EQ(w.Poll().size(), 2u);
  std::string span3 = Span(3);
  Append(path, "not json at all\n" + span3.substr(0, 20));
  EXPECT_TRUE(w.Poll().empty());
  Append(path, span3.substr(20));
  EXPECT_EQ(w.Poll().size(), 1u);
  const InputSummary* s = w.Summary(0);
  EXPECT_EQ(s->records, 3);
  EXPECT_EQ(s->skipped_lines, 2);
  EXPECT_EQ(s->first_bad_lines, (std::vector<int64_t>{2, 4}));  // the file's own line numbers
  EXPECT_EQ(s->lines, 5);
}

// ---- rotation, truncation, copies, deletion, new files ----------------------

TEST(FollowTest, RenamedAndReplacedFileIsReadToItsEndFirst) {
  TempDir dir;
  std::string path = dir.Write("usage.jsonl", TraceLine() + Span(1) + Span(2));
  Watch w({path});
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{10, 20}));
  // The writer appends span 3, the file is rotated (rename + create) and
  // the new file gets its trace line and span 4.
  Append(path, Span(3));
  fs::rename(path, path + ".1");
  Append(path, TraceLine("slack") + Span(4));
  std::vector<Ev> got = w.Poll();
  EXPECT_EQ(Inputs(got), (std::vector<int64_t>{30, 40}));  // the old file's rest first
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].tag("channel"), "cli");
  EXPECT_EQ(got[1].tag("channel"), "slack");
  // A writer that has not reopened yet still appends to the renamed file.
  Append(path + ".1", Span(5));
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{50}));
  EXPECT_TRUE(w.Poll().empty());
  EXPECT_TRUE(w.Poll().empty());
  EXPECT_EQ(w.f.stats().files, 1);  // the renamed file is no longer followed
  std::vector<InputSummary> s = w.f.Summaries();
  ASSERT_EQ(s.size(), 2u);  // one per file, both at the path
  EXPECT_EQ(s[0].path, path);
  EXPECT_EQ(s[0].records, 4);  // spans 1, 2, 3, 5
  EXPECT_EQ(s[1].records, 1);  // span 4
  EXPECT_EQ(got[1].e.input_index, 1);
}

TEST(FollowTest, TruncatedFileIsReadFromTheStart) {
  TempDir dir;
  std::string path = dir.Write("usage.jsonl", Span(1) + Span(2) + Span(3));
  Watch w({path});
  EXPECT_EQ(w.Poll().size(), 3u);
  fs::resize_file(path, 0);
  Append(path, Span(7));
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{70}));
  // Truncated and grown back past where the reader was: the first bytes
  // differ, so it is a new file too.
  fs::resize_file(path, 0);
  Append(path, Span(11) + Span(12) + Span(13) + Span(14));
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{110, 120, 130, 140}));
  EXPECT_EQ(w.f.Summaries().size(), 3u);
  EXPECT_EQ(w.Summary(2)->first_bad_lines.size(), 0u);
}

TEST(FollowTest, CopytruncateInAFollowedDirectoryReadsNothingTwice) {
  TempDir dir;
  std::string path = dir.Write("logs/usage.jsonl", TraceLine() + Span(1) + Span(2) + Span(3));
  Watch w({dir.path() + "/logs"});
  EXPECT_EQ(w.Poll().size(), 3u);
  // Spans 4 and 5 are written, then the file is copied and truncated before
  // the next Poll, and span 6 goes to the emptied file.
  Append(path, Span(4) + Span(5));
  fs::copy_file(path, dir.path() + "/logs/usage-1.jsonl");
  fs::resize_file(path, 0);
  Append(path, TraceLine() + Span(6));
  // The copy is read from where the original was: spans 4, 5; then span 6.
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{40, 50, 60}));
  EXPECT_TRUE(w.Poll().empty());
  // A copy of a file that was not truncated: its content is read from the
  // original only.
  fs::copy_file(path, dir.path() + "/logs/usage-2.jsonl");
  EXPECT_TRUE(w.Poll().empty());
  Append(path, Span(8));
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{80}));
  // 1+2+3 (first poll) + 4+5+6 + 8 = 29 spans' tenfold.
  EXPECT_EQ(w.totals.input, 290);
}

TEST(FollowTest, FileRenamedInsideAFollowedDirectoryIsNotReadAgain) {
  TempDir dir;
  std::string path = dir.Write("logs/usage.jsonl", TraceLine() + Span(1));
  Watch w({dir.path() + "/logs"});
  EXPECT_EQ(w.Poll().size(), 1u);
  Append(path, Span(2));
  fs::rename(path, dir.path() + "/logs/usage-2026-11-23.jsonl");
  Append(path, TraceLine() + Span(3));
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{20, 30}));
  EXPECT_EQ(w.f.stats().files, 2);
}

TEST(FollowTest, NewFileInAFollowedDirectoryIsReadFromItsStart) {
  TempDir dir;
  dir.Write("runs/old.jsonl", TraceLine() + Span(1));
  FollowOptions o;
  o.from_start = false;
  Watch w({dir.path() + "/runs"}, o);
  EXPECT_TRUE(w.Poll().empty());  // what was there is not delivered
  dir.Write("runs/a/b/new.jsonl", Span(2) + Span(3));
  dir.Write("runs/a/notes.txt", Span(4));  // not a usage file name
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{20, 30}));
  dir.Write("runs/c.jsonl", Span(5));
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{50}));
}

TEST(FollowTest, NamedPathThatAppearsLaterIsReadFromItsStart) {
  TempDir dir;
  std::string path = dir.path() + "/later.jsonl";
  FollowOptions o;
  o.from_start = false;
  Watch w({path}, o);
  EXPECT_TRUE(w.Poll().empty());
  EXPECT_TRUE(w.f.TakeWarnings().empty());  // not there yet: not a problem
  Append(path, Span(1) + Span(2));
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{10, 20}));
}

TEST(FollowTest, DeletedFileStopsBeingFollowed) {
  TempDir dir;
  std::string a = dir.Write("d/a.jsonl", Span(1));
  std::string named = dir.Write("named.jsonl", Span(2));
  Watch w({dir.path() + "/d", named});
  EXPECT_EQ(w.Poll().size(), 2u);
  EXPECT_EQ(w.f.stats().files, 2);
  // Deleted with an unterminated last line: the file has ended, so that
  // line is read as the batch reader reads a last line.
  std::string span3 = Span(3);
  Append(a, span3.substr(0, span3.size() - 1));
  EXPECT_TRUE(w.Poll().empty());
  fs::remove(a);
  fs::remove(named);
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{30}));
  EXPECT_EQ(w.f.stats().files, 0);
  EXPECT_EQ(w.f.stats().open_files, 0);
  EXPECT_TRUE(w.Poll().empty());
  // The named path is still watched: a new file there is read from its start.
  Append(named, Span(4));
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{40}));
  EXPECT_TRUE(w.f.TakeWarnings().empty());
}

TEST(FollowTest, FromStartFalseDeliversOnlyWhatIsAppended) {
  TempDir dir;
  std::string path = dir.Write("usage.jsonl", TraceLine("discord") + Span(1) + Span(2));
  FollowOptions o;
  o.from_start = false;
  Watch w({path}, o);
  EXPECT_TRUE(w.Poll().empty());
  Append(path, Span(3));
  std::vector<Ev> got = w.Poll();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].e.tokens.input, 30);
  EXPECT_EQ(got[0].tag("channel"), "discord");  // the trace line read at the start
  EXPECT_EQ(got[0].e.line, 4);                  // the file's own line number
  const InputSummary* s = w.Summary(0);
  EXPECT_EQ(s->records, 1);
  EXPECT_EQ(s->lines, 1);
}

TEST(FollowTest, FromStartTrueDeliversWhatTheFilesHold) {
  TempDir dir;
  std::string path = dir.Write("usage.jsonl", TraceLine() + Span(1) + Span(2));
  Watch w({path});
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{10, 20}));
  Append(path, Span(3));
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{30}));
}

TEST(FollowTest, CompressedFileIsReadWholeOnceItSettles) {
  TempDir dir;
  std::string plain = Span(1) + Span(2);
  std::string gz = dir.path() + "/d/old.jsonl.gz";
  Watch w({dir.path() + "/d"});
  dir.Write("d/usage.jsonl", "");
  w.Poll();
  gzFile g = gzopen(gz.c_str(), "wb");
  ASSERT_NE(g, nullptr);
  gzwrite(g, plain.data(), unsigned(plain.size()));
  gzclose(g);
  EXPECT_TRUE(w.Poll().empty());  // its size has not held for a Poll yet
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{10, 20}));
  EXPECT_TRUE(w.Poll().empty());  // and not read again
}

TEST(FollowTest, UnreadablePathIsAWarningOnce) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every file";
  TempDir dir;
  std::string locked = dir.Write("d/locked.jsonl", Span(1));
  dir.Write("d/open.jsonl", Span(2));
  ::chmod(locked.c_str(), 0);
  Watch w({dir.path() + "/d"});
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{20}));  // the others are read
  std::vector<std::string> warnings = w.f.TakeWarnings();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(locked), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("Permission denied"), std::string::npos) << warnings[0];
  w.Poll();
  EXPECT_TRUE(w.f.TakeWarnings().empty());  // reported once
  ::chmod(locked.c_str(), 0644);
  EXPECT_EQ(Inputs(w.Poll()), (std::vector<int64_t>{10}));  // readable again
}

TEST(FollowTest, TimeRangeAndPathTagsAsTheBatchReader) {
  TempDir dir;
  std::string path = dir.Write("runs/nightly/r7/usage.jsonl", "");
  FollowOptions o;
  o.read.path_tags = "runs/{workflow}/{run}/*";
  ASSERT_TRUE(reader_internal::ParseTime("2026-11-23T09:00:02Z", &o.read.since_unix_ns));
  ASSERT_TRUE(reader_internal::ParseTime("2026-11-23T09:00:04Z", &o.read.until_unix_ns));
  Watch w({dir.path() + "/runs"}, o);
  w.WriteInPieces(path, Span(1) + Span(2) + Span(3) + Span(4), 100);
  EXPECT_EQ(Inputs(w.all), (std::vector<int64_t>{20, 30}));  // [09:00:02, 09:00:04)
  ASSERT_EQ(w.all.size(), 2u);
  EXPECT_EQ(w.all[0].tag("workflow"), "nightly");
  EXPECT_EQ(w.all[0].tag("run"), "r7");
  Collected batch = ReadAll({dir.path() + "/runs"}, o.read);
  EXPECT_EQ(Keys(w.all, false), Keys(batch.events, false));
}

// ---- every format: following equals the batch reader on the final file -----

// Follows `rel` (in a directory) written in pieces of `piece` bytes, then
// compares with ReadInputs on the finished file.
void ExpectFollowEqualsBatch(const std::string& rel, const std::string& text, size_t piece,
                             const std::string& format) {
  SCOPED_TRACE(rel);
  TempDir dir;
  std::string path = dir.Write(rel, "");
  Watch w({dir.path()});
  w.WriteInPieces(path, text, piece);
  w.Poll();  // the file settles: held events are released
  Collected batch = ReadAll({path});
  ASSERT_TRUE(batch.status.ok());
  ASSERT_FALSE(batch.events.empty());
  EXPECT_EQ(Keys(w.all, true), Keys(batch.events, true));
  EXPECT_EQ(w.totals, batch.totals);
  EXPECT_EQ(w.requests, batch.requests);
  const InputSummary* s = w.Summary(0);
  ASSERT_NE(s, nullptr);
  const InputSummary& b = batch.result.inputs[0];
  EXPECT_EQ(s->format, format);
  EXPECT_EQ(s->records, b.records);
  EXPECT_EQ(s->duplicates, b.duplicates);
  EXPECT_EQ(s->skipped_lines, b.skipped_lines);
  EXPECT_EQ(s->dropped_records, b.dropped_records);
  EXPECT_EQ(s->lines, b.lines);
  EXPECT_EQ(s->bytes, b.bytes);
}

TEST(FollowFormatsTest, TokmeterSpansTurnSummariesAndDrops) {
  std::string text =
      TraceLine() + Span(1) + Span(2) +
      R"({"type":"turn_summary","scope":"trace","timestamp":"2026-11-23T09:00:03.000000000Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","kind":"session","name":"s-1","spans":2,"input_tokens":30,"output_tokens":3,"cache_read_tokens":200,"requests":2})"
      "\n"
      R"({"type":"drops","timestamp":"2026-11-23T09:00:04.000000000Z","thread":1,"dropped":3,"total_dropped":3})"
      "\n";
  ExpectFollowEqualsBatch("usage.jsonl", text, 61, "tokmeter");
}

TEST(FollowFormatsTest, TokenUsage) {
  std::string text =
      R"({"_schema":"token-usage/v0.26.0","timestamp":"2026-08-20T10:00:01.000Z","event":"token_usage","request_id":"r1","provider":"anthropic","model":"claude-haiku-4.5","path":"/v1/messages","status":200,"streaming":false,"input_tokens":120,"output_tokens":35,"cache_read_tokens":0,"cache_write_tokens":0,"duration_ms":800,"response_bytes":900})"
      "\n"
      R"({"_schema":"token-usage/v0.26.0","timestamp":"2026-08-20T10:00:02.000Z","event":"token_usage","request_id":"r2","provider":"openai","model":"gpt-5","path":"/v1/responses","status":200,"streaming":true,"input_tokens":1000,"output_tokens":50,"cache_read_tokens":800,"cache_write_tokens":0,"duration_ms":900,"response_bytes":1200})"
      "\n";
  ExpectFollowEqualsBatch("token-usage.jsonl", text, 70, "token-usage");
}

TEST(FollowFormatsTest, AgentRuntimeTurnSummaryLines) {
  std::string text =
      R"({"ts":"2026-02-16T21:35:12.123Z","kind":"turn_summary","sessionKey":"s1","channel":"discord","model":"openai-codex/gpt-5.2","tokens_in":1820,"tokens_out":420,"tool_calls":6,"rate_limits":1,"retry_count":2,"duration_ms":8421,"tags":{"heartbeat":true,"cron_job_id":"nightly","agentId":"a7"}})"
      "\n"
      R"({"ts":"2026-02-16T21:40:00.000Z","kind":"turn_summary","sessionKey":"s2","channel":"slack","model":"gpt-5","tokens_in":100,"tokens_out":10,"tool_calls":0,"rate_limits":0,"retry_count":0,"duration_ms":100,"tags":{"heartbeat":false,"cron_job_id":null,"agentId":"a8"}})"
      "\n";
  TempDir dir;
  std::string path = dir.Write("turns.log", "");
  Watch w({path});
  w.WriteInPieces(path, text, 45);
  // tokens_in 1820 + 100, tokens_out 420 + 10; both counted (kind turn_summary).
  EXPECT_EQ(w.totals.input, 1920);
  EXPECT_EQ(w.totals.output, 430);
  ASSERT_EQ(w.all.size(), 2u);
  EXPECT_EQ(w.all[0].kind, "turn_summary");
  ExpectFollowEqualsBatch("turns.log", text, 45, "turn-summary");
}

TEST(FollowFormatsTest, OtlpJson) {
  std::string text =
      R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"agent"}}]},"scopeSpans":[{"scope":{"name":"tokmeter"},"spans":[)"
      R"({"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"chat claude-sonnet-4-5","startTimeUnixNano":"1763888400000000000","endTimeUnixNano":"1763888401500000000","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.provider.name","value":{"stringValue":"anthropic"}},{"key":"gen_ai.response.model","value":{"stringValue":"claude-sonnet-4-5-20250929"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"5000"}},{"key":"gen_ai.usage.cache_read.input_tokens","value":{"intValue":"4096"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":"300"}}],"status":{}})"
      R"(]}]}]})"
      "\n";
  TempDir dir;
  std::string path = dir.Write("traces.json", "");
  Watch w({path});
  w.WriteInPieces(path, text, 100);
  ASSERT_EQ(w.all.size(), 1u);
  EXPECT_EQ(w.totals.input, 904);  // 5000 - 4096 cached
  EXPECT_EQ(w.totals.cache_read, 4096);
  ExpectFollowEqualsBatch("traces.json", text, 100, "otlp-json");
}

// ---- Codex ------------------------------------------------------------------

using U = testing::CodexUsage;

std::string Meta(double t, const std::string& id, const std::string& extra = "") {
  return R"({"timestamp":")" + CodexTs(t) + R"(","type":"session_meta","payload":{"id":")" + id +
         R"(","timestamp":")" + CodexTs(t) + R"(","cwd":"/home/dev/api")" + extra + "}}\n";
}
std::string Context(double t, const std::string& model) {
  return R"({"timestamp":")" + CodexTs(t) + R"(","type":"turn_context","payload":{"model":")" +
         model + "\"}}\n";
}
std::string Count(double t, const U& total, const U& last) {
  return R"({"timestamp":")" + CodexTs(t) +
         R"(","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":)" +
         CodexUsageJson(total) + R"(,"last_token_usage":)" + CodexUsageJson(last) + "}}}\n";
}

// The parent: r1 in 1000 out 100; r2 in 3000 (2048 cached) out 200; each
// count re-sent once. Totals (1000,0,100) then (4000,2048,300).
const U kR1{1000, 0, 100, 0}, kR2{3000, 2048, 200, 0};
const U kT1{1000, 0, 100, 0}, kT2{4000, 2048, 300, 0};
std::string ParentLog() {
  return Meta(0, "parent-1") + Context(0.2, "gpt-5-codex") + Count(60, kT1, kR1) +
         Count(60.5, kT1, kR1) + Count(120, kT2, kR2) + Count(120.4, kT2, kR2);
}
// Forked at 300 s: a copy of the parent's history (0.15 s apart), then its
// own request: totals (6000, 3548, 350) = the parent's + in 2000 (1500
// cached) out 50.
std::string ChildLog() {
  const double f = 300;
  std::string log = Meta(f, "child-1", R"(,"forked_from_id":"parent-1")");
  log += Meta(f + 0.15, "parent-1") + Context(f + 0.3, "gpt-5-codex") + Count(f + 0.45, kT1, kR1) +
         Count(f + 0.6, kT1, kR1) + Count(f + 0.75, kT2, kR2) + Count(f + 0.9, kT2, kR2);
  log += Context(f + 1.8, "gpt-5.1-codex-mini") + Count(f + 6, {6000, 3548, 350}, {2000, 1500, 50});
  return log;
}

TEST(FollowFormatsTest, CodexThreads) {
  ExpectFollowEqualsBatch("rollout-a.jsonl", ParentLog(), 90, "codex");
}

TEST(FollowFormatsTest, CodexForkedThreadWrittenInPieces) {
  TempDir dir;
  std::string a = dir.Write("sessions/rollout-a.jsonl", ParentLog());
  std::string b = dir.Write("sessions/rollout-b.jsonl", "");
  Watch w({dir.path() + "/sessions"});
  w.Poll();
  w.WriteInPieces(b, ChildLog(), 77);
  w.Poll();
  // Parent: input 1000 + (3000 - 2048) = 1952, cached 2048, output 300;
  // child (its own request only): 500, 1500, 50.
  EXPECT_EQ(w.totals.input, 1952 + 500);
  EXPECT_EQ(w.totals.cache_read, 2048 + 1500);
  EXPECT_EQ(w.totals.output, 300 + 50);
  EXPECT_EQ(w.requests, 3);
  Collected batch = ReadAll({dir.path() + "/sessions"});
  EXPECT_EQ(Keys(w.all, true), Keys(batch.events, true));
  // The child's copied counts with usage (4) are duplicates, as in the batch.
  EXPECT_EQ(w.Summary(1)->duplicates, 4);
  EXPECT_EQ(batch.input("rollout-b.jsonl")->duplicates, 4);
}

// ---- Claude Code --------------------------------------------------------------

struct Msg {
  std::string id;
  int in = 0, cr = 0, out = 0;
  std::string agent;  // agentId; empty: the main chain
  std::string ts = "2026-08-18T09:16:36.727Z";
  bool sidechain = false;
};
std::string Assistant(const Msg& m) {
  std::string s =
      "{\"parentUuid\":\"p0\",\"isSidechain\":" + std::string(m.sidechain ? "true" : "false");
  if (!m.agent.empty()) s += ",\"agentId\":\"" + m.agent + "\"";
  s += ",\"message\":{\"model\":\"claude-sonnet-4-5-20250929\",\"id\":\"" + m.id +
       "\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
       "\"ok\"}],\"usage\":{\"input_tokens\":" +
       std::to_string(m.in) + ",\"cache_read_input_tokens\":" + std::to_string(m.cr) +
       ",\"output_tokens\":" + std::to_string(m.out) + "}},\"requestId\":\"req_" + m.id +
       "\",\"type\":\"assistant\",\"uuid\":\"u\",\"timestamp\":\"" + m.ts +
       "\",\"cwd\":\"/home/dev/api\",\"sessionId\":\"sess-a\"}\n";
  return s;
}

// Message A streams two snapshots (output 5, then 50), then message B.
const Msg kA1{"msg_A", 10, 1000, 5}, kA2{"msg_A", 10, 1000, 50};
const Msg kB1{"msg_B", 3, 2000, 7, "", "2026-08-18T09:16:40.000Z"};

TEST(FollowClaudeTest, SnapshotsOfOneMessageAreOneEvent) {
  TempDir dir;
  std::string path = dir.Write("p/s.jsonl", "");
  Watch w({path});
  Append(path, Assistant(kA1));
  EXPECT_TRUE(w.Poll().empty());  // held: more snapshots may follow
  Append(path, Assistant(kA2));
  EXPECT_TRUE(w.Poll().empty());
  Append(path, Assistant(kB1));
  std::vector<Ev> got = w.Poll();  // the next message: A is complete
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].e.tokens.output, 50);  // the largest snapshot
  EXPECT_EQ(got[0].tag("request_id"), "req_msg_A");
  got = w.Poll();  // B's file did not grow for a Poll: B is released
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].e.tokens.output, 7);
  // input 10 + 3, cache_read 1000 + 2000, output 50 + 7, two requests.
  EXPECT_EQ(w.totals.input, 13);
  EXPECT_EQ(w.totals.cache_read, 3000);
  EXPECT_EQ(w.totals.output, 57);
  EXPECT_EQ(w.requests, 2);
  EXPECT_EQ(w.Summary(0)->records, 2);
  EXPECT_EQ(w.Summary(0)->duplicates, 1);
  Collected batch = ReadAll({path});
  EXPECT_EQ(Keys(w.all, true), Keys(batch.events, true));
  EXPECT_EQ(w.Summary(0)->format, "claude-code");
}

TEST(FollowClaudeTest, SnapshotAfterTheMessageWasReleasedAddsItsGrowth) {
  TempDir dir;
  std::string path = dir.Write("p/s.jsonl", "");
  Watch w({path});
  Append(path, Assistant(kA1));
  EXPECT_TRUE(w.Poll().empty());
  std::vector<Ev> got = w.Poll();  // the file idled: A goes out with output 5
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].e.tokens.output, 5);
  EXPECT_EQ(got[0].e.requests, 1);
  Append(path, Assistant(kA2));
  got = w.Poll();
  ASSERT_EQ(got.size(), 1u);  // the growth only: 50 - 5, no new request
  EXPECT_EQ(got[0].e.tokens.output, 45);
  EXPECT_EQ(got[0].e.tokens.input, 0);
  EXPECT_EQ(got[0].e.tokens.cache_read, 0);
  EXPECT_EQ(got[0].e.requests, 0);
  EXPECT_EQ(got[0].tag("snapshot_update"), "true");
  // Totals are the batch reader's: output 50, input 10, cache 1000, 1 request.
  Collected batch = ReadAll({path});
  EXPECT_EQ(w.totals, batch.totals);
  EXPECT_EQ(w.totals.output, 50);
  EXPECT_EQ(w.requests, 1);
  EXPECT_EQ(w.Summary(0)->records, 1);
  EXPECT_EQ(w.Summary(0)->duplicates, 1);
}

TEST(FollowClaudeTest, InterleavedAgentsDoNotReleaseEachOther) {
  // Two sub-agents' messages mirrored into one file, snapshots interleaved:
  // X (agent a1) and Y (a2) each stream twice; a1's next message Z releases X.
  Msg x1{"msg_X", 1, 100, 2, "a1"}, x2{"msg_X", 1, 100, 20, "a1"};
  Msg y1{"msg_Y", 2, 200, 3, "a2"}, y2{"msg_Y", 2, 200, 30, "a2"};
  Msg z1{"msg_Z", 4, 400, 40, "a1", "2026-08-18T09:17:00.000Z"};
  x1.sidechain = x2.sidechain = y1.sidechain = y2.sidechain = z1.sidechain = true;
  TempDir dir;
  std::string path = dir.Write("p/s.jsonl", "");
  Watch w({path});
  for (const Msg* m : {&x1, &y1, &x2, &y2}) {
    Append(path, Assistant(*m));
    EXPECT_TRUE(w.Poll().empty());
  }
  Append(path, Assistant(z1));
  std::vector<Ev> got = w.Poll();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].e.tokens.output, 20);  // X, complete
  EXPECT_EQ(got[0].tag("agent"), "a1");
  got = w.Poll();  // idle: Y and Z
  EXPECT_EQ(got.size(), 2u);
  // output 20 + 30 + 40; no update events were needed.
  EXPECT_EQ(w.totals.output, 90);
  EXPECT_EQ(w.requests, 3);
  Collected batch = ReadAll({path});
  EXPECT_EQ(Keys(w.all, true), Keys(batch.events, true));
}

TEST(FollowClaudeTest, CopiesAcrossFilesCountOnce) {
  // A sub-agent's file and the main transcript's copy of the same message.
  TempDir dir;
  std::string main = dir.Write("p/s.jsonl", "");
  std::string sub = dir.Write("p/s/subagents/agent-a1.jsonl", "");
  Watch w({dir.path() + "/p"});
  Msg s1{"msg_S", 5, 500, 9, "a1"}, s2{"msg_S", 5, 500, 90, "a1"};
  s1.sidechain = s2.sidechain = true;
  Append(sub, Assistant(s1));
  w.Poll();
  Append(sub, Assistant(s2));
  Append(main, Assistant(kA2) + Assistant(s2));  // the main chain, and the copy
  w.Poll();
  w.Poll();
  w.Poll();
  // A (10, 1000, 50) + S (5, 500, 90) once.
  EXPECT_EQ(w.totals.input, 15);
  EXPECT_EQ(w.totals.output, 140);
  EXPECT_EQ(w.requests, 2);
  Collected batch = ReadAll({dir.path() + "/p"});
  EXPECT_EQ(w.totals, batch.totals);
  EXPECT_EQ(w.Sum(&InputSummary::duplicates), 2);  // S's first snapshot and its copy
  int64_t batch_dups = 0;
  for (const InputSummary& s : batch.result.inputs) batch_dups += s.duplicates;
  EXPECT_EQ(batch_dups, 2);
}

TEST(FollowClaudeTest, TranscriptWrittenInPiecesEqualsTheBatchReader) {
  std::string text;
  text += Assistant(kA1) + Assistant(kA2);
  text +=
      "{\"parentUuid\":\"u\",\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":"
      "\"next\"},\"sessionId\":\"sess-a\"}\n";
  text += Assistant(kB1);
  text +=
      "{\"parentUuid\":\"u\",\"type\":\"assistant\",\"message\":{\"id\":\"msg_C\",\"usage\":{\n";
  Msg c{"msg_C", 1, 1, 1, "", "2026-08-18T09:18:00.000Z"};
  text += Assistant(c);
  ExpectFollowEqualsBatch("p/s.jsonl", text, 83, "claude-code");
}

// ---- tokmeter protobuf files ---------------------------------------------------

#if defined(TOKMETER_TEST_PROTO)
TEST(FollowFormatsTest, TokmeterProtobufFileWrittenInPieces) {
  // Two chunks (each with its own string table), cut every 17 bytes.
  std::string file;
  proto::AppendFileHeader(file, 1);
  tokmeter::testing::SampleBatch b1(2), b2(3, 1795424500000000000);
  proto::ChunkEncoder enc;
  enc.AddBatch(b1.batch);
  enc.Finish(file);
  enc.AddBatch(b2.batch);
  enc.Finish(file);
  TempDir dir;
  std::string path = dir.Write("usage.pb", "");
  Watch w({path});
  w.WriteInPieces(path, file, 17);
  Collected batch = ReadAll({path});
  ASSERT_FALSE(batch.events.empty());
  EXPECT_EQ(Keys(w.all, false), Keys(batch.events, false));
  const InputSummary* s = w.Summary(0);
  EXPECT_EQ(s->format, "tokmeter-proto");
  EXPECT_EQ(s->records, batch.result.inputs[0].records);
  EXPECT_EQ(s->dropped_records, batch.result.inputs[0].dropped_records);
  EXPECT_EQ(s->skipped_lines, 0);
  EXPECT_EQ(s->bytes, int64_t(file.size()));
}
#endif

}  // namespace
}  // namespace tokmeter::analysis
