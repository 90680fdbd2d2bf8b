// The analysis reader for protobuf files (src/analysis/formats/tokmeter_proto.cc)
// yields the same records as the JSONL parser for the same content.
#include <string>

#include "gtest/gtest.h"
#include "src/analysis/reader_internal.h"
#include "src/proto/records.h"
#include "tests/proto/sample_batch.h"
#include "tokmeter/sinks.h"

namespace tokmeter::analysis::reader_internal {
namespace {

const FileFormat* ProtoFormat() {
  for (const FileFormat& f : FileFormats()) {
    if (f.format == SourceFormat::kTokmeterProto) return &f;
  }
  return nullptr;
}

// Reads a whole protobuf file through the registered format, as ReadInputs
// does: the first 64 bytes as the sniffed head, the rest as a stream.
std::vector<ParsedRecord> ReadProtoFile(const std::string& file, Arena& arena, int64_t* bad) {
  std::vector<ParsedRecord> out;
  ParseContext ctx{&arena, &out, 0};
  const std::string head = file.substr(0, 64);
  auto rest = MemorySource(std::string_view(file).substr(head.size()));
  EXPECT_TRUE(ProtoFormat()->read(head, *rest, ctx, bad).ok());
  return out;
}

TEST(ProtoAnalysisReaderTest, RegisteredAndMatchesJsonl) {
  const FileFormat* fmt = ProtoFormat();
  ASSERT_NE(fmt, nullptr);
  testing::SampleBatch b(2);
  std::string file;
  proto::AppendFileHeader(file, 1);
  proto::ChunkEncoder enc;
  enc.AddBatch(b.batch);
  enc.AddJsonlLine(
      "{\"type\":\"drops\",\"timestamp\":\"2026-11-23T09:00:02.000000000Z\","
      "\"thread\":1,\"dropped\":3,\"total_dropped\":3,\"extra\":1}");
  enc.Finish(file);
  std::string head = file.substr(0, 64);
  ASSERT_TRUE(fmt->sniff(head));
  EXPECT_FALSE(fmt->sniff("{\"type\":\"span\"}"));

  Arena arena;
  int64_t bad = 0;
  std::vector<ParsedRecord> from_proto = ReadProtoFile(file, arena, &bad);
  EXPECT_EQ(bad, 0);

  // The same records through the JSONL line parser.
  std::string jsonl;
  AppendJsonl(b.batch, jsonl);
  Arena arena2;
  std::vector<ParsedRecord> from_jsonl;
  ParseContext ctx2{&arena2, &from_jsonl, 0};
  int hint = -1;
  for (size_t pos = 0; pos < jsonl.size();) {
    size_t nl = jsonl.find('\n', pos);
    int index = hint;
    ParseLine(std::string_view(jsonl).substr(pos, nl - pos), ctx2, hint, &index);
    hint = index;
    pos = nl + 1;
  }
  ASSERT_EQ(from_proto.size(), from_jsonl.size() + 1);  // + the verbatim drops line
  for (size_t i = 0; i < from_jsonl.size(); ++i) {
    const UsageEvent& p = from_proto[i].ev;
    const UsageEvent& j = from_jsonl[i].ev;
    SCOPED_TRACE(i);
    EXPECT_EQ(from_proto[i].type, from_jsonl[i].type);
    EXPECT_EQ(from_proto[i].count, from_jsonl[i].count);
    EXPECT_EQ(p.time_unix_ns, j.time_unix_ns);
    EXPECT_EQ(p.tokens, j.tokens);
    EXPECT_EQ(p.requests, j.requests);
    EXPECT_EQ(p.tool_calls, j.tool_calls);
    EXPECT_EQ(p.rate_limited, j.rate_limited);
    EXPECT_EQ(p.errors, j.errors);
    EXPECT_EQ(p.status, j.status);
    EXPECT_EQ(p.kind, j.kind);
    EXPECT_EQ(p.name, j.name);
    EXPECT_EQ(p.provider, j.provider);
    EXPECT_EQ(p.model, j.model);
    EXPECT_EQ(p.trace_id, j.trace_id);
    EXPECT_EQ(p.span_id, j.span_id);
    EXPECT_EQ(p.parent_id, j.parent_id);
    EXPECT_EQ(p.fingerprint, j.fingerprint);
    EXPECT_EQ(p.tag("tool"), j.tag("tool"));
    EXPECT_EQ(p.tag("session"), j.tag("session"));
    EXPECT_EQ(p.tag("request_id"), j.tag("request_id"));
  }
  EXPECT_EQ(from_proto.back().type, ParsedRecordType::kDrops);
  EXPECT_EQ(from_proto.back().count, 3);
}

// Alert records (the monitor's) are not usage: the reader skips them, and
// they are not bad records.
TEST(ProtoAnalysisReaderTest, AlertsAreSkipped) {
  testing::SampleBatch b(2);
  std::string plain, with_alerts;
  proto::AppendFileHeader(plain, 1);
  proto::AppendFileHeader(with_alerts, 1);
  proto::ChunkEncoder enc;
  enc.AddBatch(b.batch);
  enc.Finish(plain);
  AlertRecord& a = b.batch.alerts.emplace_back();
  a.time_unix_ns = b.batch.spans[0].end_unix_ns;
  a.finding.kind = "loop";
  a.finding.subject = "session s";
  a.finding.tokens = 500;
  enc.AddBatch(b.batch);
  enc.Finish(with_alerts);
  Arena arena1, arena2;
  int64_t bad1 = 0, bad2 = 0;
  const std::vector<ParsedRecord> want = ReadProtoFile(plain, arena1, &bad1);
  const std::vector<ParsedRecord> got = ReadProtoFile(with_alerts, arena2, &bad2);
  EXPECT_EQ(bad2, 0);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].type, want[i].type);
    EXPECT_EQ(got[i].ev.tokens, want[i].ev.tokens);
  }
}

// A span recorded with more reasoning than output (the capture API takes
// counters as given) reads back with reasoning capped at output, as from
// JSONL (found by token_usage_reader_fuzzer on a protobuf-looking input).
TEST(ProtoAnalysisReaderTest, ReasoningCappedAtOutput) {
  const FileFormat* fmt = ProtoFormat();
  ASSERT_NE(fmt, nullptr);
  testing::SampleBatch b(1);
  ASSERT_FALSE(b.batch.spans.empty());
  SpanRecord& s = b.batch.spans[0];
  s.counters = Counters{};
  s.counters.Add(Counter::kOutputTokens, 5);
  s.counters.Add(Counter::kReasoningTokens, 9);
  std::string file;
  proto::AppendFileHeader(file, 1);
  proto::ChunkEncoder enc;
  enc.AddBatch(b.batch);
  enc.Finish(file);
  Arena arena;
  int64_t bad = 0;
  std::vector<ParsedRecord> recs = ReadProtoFile(file, arena, &bad);
  bool seen = false;
  for (const ParsedRecord& r : recs) {
    if (r.type != ParsedRecordType::kEvent || r.ev.span_id != SpanIdToHex(s.span_id)) continue;
    seen = true;
    EXPECT_EQ(r.ev.tokens.output, 5);
    EXPECT_EQ(r.ev.tokens.reasoning, 5);
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace tokmeter::analysis::reader_internal
