// Protobuf files: encoder vs generated decoder, sink round trip, rotation,
// lossless convert (hand-built batches and a file the real runtime wrote).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "src/proto/convert.h"
#include "src/proto/records.h"
#include "tests/core/test_util.h"
#include "tests/proto/sample_batch.h"
#include "tokmeter/proto_sink.h"
#include "tokmeter/sinks.h"
#include "tokmeter/tokmeter.h"
#include "tokmeter/v1/records.pb.h"

namespace tokmeter {
namespace {

namespace fs = std::filesystem;

std::string TempPath(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("tokmeter_proto_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path p = dir / name;
  fs::remove(p);
  return p.string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

// `path` and the names its rotations take (path.1 ... path.9).
std::vector<std::string> WithRotations(const std::string& path) {
  std::vector<std::string> out{path};
  for (int i = 1; i <= 9; ++i) out.push_back(path + "." + std::to_string(i));
  return out;
}

// Appends `batch` to `out` as one chunk of records.
void AppendChunk(const Batch& batch, std::string& out) {
  proto::ChunkEncoder enc;
  enc.AddBatch(batch);
  enc.Finish(out);
}

// A protobuf file: the header (schema version 1), then `batch` as one chunk.
std::string EncodeFile(const Batch& batch) {
  std::string file;
  proto::AppendFileHeader(file, 1);
  AppendChunk(batch, file);
  return file;
}

// Walks the length-delimited records of `chunk` with the generated classes.
void ParseRecords(const std::string& chunk, std::vector<tokmeter::v1::Record>* records) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(chunk.data()),
                                            int(chunk.size()));
  uint32_t len;
  while (in.ReadVarint32(&len)) {
    auto limit = in.PushLimit(int(len));
    ASSERT_TRUE(records->emplace_back().ParseFromCodedStream(&in));
    in.PopLimit(limit);
  }
}

// The string with table id `id` (the strings record comes first; id 0 is "").
auto StringLookup(const std::vector<tokmeter::v1::Record>& records) {
  const auto& table = records[0].strings().values();
  return [&table](uint32_t id) { return id == 0 ? std::string() : table[int(id) - 1]; };
}

// Decodes a whole file back to JSONL through RecordReader.
std::string ProtoToJsonl(std::string_view file) {
  auto reader = proto::RecordReader::FromBuffer(file);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return "";
  std::string out;
  proto::FileRecordView rec;
  for (;;) {
    auto more = (*reader)->Next(rec);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    if (rec.type == proto::FileRecordType::kJsonlLine) {
      out.append(rec.jsonl_line).push_back('\n');
    } else {
      AppendJsonl(rec.batch, out);
    }
  }
  return out;
}

TEST(ProtoRecordsTest, GeneratedParserReadsEncoderOutput) {
  testing::SampleBatch b(2);
  std::string chunk;
  AppendChunk(b.batch, chunk);
  std::vector<tokmeter::v1::Record> records;
  ASSERT_NO_FATAL_FAILURE(ParseRecords(chunk, &records));
  ASSERT_EQ(records.size(), 1u + b.batch.size());
  ASSERT_TRUE(records[0].has_strings());
  auto str = StringLookup(records);

  const auto& t = records[1].trace();
  EXPECT_EQ(t.trace_id_hi(), 0x4bf92f3577b34da6u);
  EXPECT_EQ(t.trace_id_lo(), 0xa3ce929d0e0e4736u);
  EXPECT_EQ(t.root_span_id(), 0x00f067aa0ba902b7u);
  EXPECT_EQ(str(t.kind()), "session");
  ASSERT_EQ(t.tags_size(), 5);
  EXPECT_EQ(str(t.tags(3).key()), "heartbeat");
  EXPECT_EQ(t.tags(3).value_case(), tokmeter::v1::Tag::kBool);
  EXPECT_EQ(t.tags(4).int_(), -3);

  const auto& s = records[2].span();
  const SpanRecord& want = b.batch.spans[0];
  EXPECT_EQ(s.span_id(), want.span_id);
  EXPECT_EQ(s.parent_id(), want.parent_id);
  EXPECT_EQ(s.start_unix_ns(), want.start_unix_ns);
  EXPECT_EQ(s.duration_ns(), want.end_unix_ns - want.start_unix_ns);
  EXPECT_EQ(str(s.kind()), "llm");
  EXPECT_EQ(str(s.name()), "messages");
  EXPECT_EQ(s.thread(), 4242u);
  EXPECT_TRUE(s.has_fingerprint());
  EXPECT_EQ(s.fingerprint(), want.fingerprint);
  ASSERT_EQ(s.counters_size(), 7);  // through requests (index 6)
  EXPECT_EQ(s.counters(0), 12);
  EXPECT_EQ(s.counters(2), 40000);
  EXPECT_EQ(s.counters(5), 100);
  EXPECT_EQ(s.counters(6), 1);
  ASSERT_EQ(s.tags_size(), 7);
  EXPECT_EQ(str(s.tags(5).str()), "req_011CV\"q\\x\n");
  EXPECT_EQ(str(s.tags(6).str()),
            "a\xff\xfe"
            "b");  // raw bytes kept
  ASSERT_EQ(s.user_counters_size(), 2);
  EXPECT_EQ(s.user_counters(1).value(), -5);
  EXPECT_FALSE(records[3].span().has_fingerprint());

  const auto& r = records[records.size() - 2].rollup();
  EXPECT_EQ(str(r.scope()), "trace");
  EXPECT_EQ(r.spans(), 5);
  const auto& d = records.back().drops();
  EXPECT_EQ(d.thread(), 4243u);
  EXPECT_EQ(d.dropped(), 17u);
  EXPECT_EQ(d.total_dropped(), 17u);
}

TEST(ProtoRecordsTest, RoundTripMatchesJsonl) {
  testing::SampleBatch b(3);
  std::string want;
  AppendJsonl(b.batch, want);
  EXPECT_EQ(ProtoToJsonl(EncodeFile(b.batch)), want);
}

AlertRecord SampleAlert() {
  AlertRecord a;
  a.time_unix_ns = 1'764'000'000'123'000'000;
  a.trace_id = TraceId{0x4bf92f3577b34da6, 0xa3ce929d0e0e4736};
  a.span_id = 0x00f067aa0ba902b7;
  a.finding.kind = "budget";
  a.finding.severity = Severity::kCritical;
  a.finding.subject = "session s-42";
  a.finding.keys = {{"session", "s-42"}, {"budget", "session=2M,hard"}};
  a.finding.evidence = {
      {"consumed", 2000412}, {"limit", 2e6}, {"share", 1.000206}, {"threshold", 1}};
  a.finding.rule = "budget session=2M,hard: alerts at 50%, 80%, 100% of the limit";
  a.finding.recommendation = "Budget rule: session s-42 has used 100% of 2M tokens.";
  a.finding.time_ns = a.time_unix_ns;
  a.finding.tokens = 2000412;
  return a;
}

TEST(ProtoRecordsTest, GeneratedParserReadsAlert) {
  Batch b;
  b.alerts.push_back(SampleAlert());
  std::string chunk;
  AppendChunk(b, chunk);
  std::vector<tokmeter::v1::Record> records;
  ASSERT_NO_FATAL_FAILURE(ParseRecords(chunk, &records));
  ASSERT_EQ(records.size(), 2u);
  auto str = StringLookup(records);
  ASSERT_TRUE(records[1].has_alert());
  const tokmeter::v1::Alert& a = records[1].alert();
  EXPECT_EQ(a.time_unix_ns(), 1'764'000'000'123'000'000);
  EXPECT_EQ(str(a.rule()), "budget");
  EXPECT_EQ(a.severity(), 2u);
  EXPECT_EQ(str(a.subject()), "session s-42");
  ASSERT_EQ(a.keys_size(), 2);
  EXPECT_EQ(str(a.keys(1).key()), "budget");
  EXPECT_EQ(str(a.keys(1).str()), "session=2M,hard");
  ASSERT_EQ(a.evidence_size(), 4);
  EXPECT_EQ(str(a.evidence(2).name()), "share");
  EXPECT_EQ(a.evidence(2).value(), 1.000206);
  EXPECT_EQ(a.tokens(), 2000412);
  EXPECT_EQ(a.since_unix_ns(), a.time_unix_ns());
  EXPECT_EQ(a.until_unix_ns(), 0);
  EXPECT_EQ(a.trace_id_lo(), 0xa3ce929d0e0e4736u);
  EXPECT_EQ(a.span_id(), 0x00f067aa0ba902b7u);
  EXPECT_EQ(str(a.message()), "Budget rule: session s-42 has used 100% of 2M tokens.");
}

TEST(ProtoRecordsTest, AlertRoundTripMatchesJsonl) {
  testing::SampleBatch b(2);
  b.batch.alerts.push_back(SampleAlert());
  b.batch.alerts.push_back(AlertRecord{});  // no cause, no strings
  b.batch.alerts.back().finding.kind = "background";
  std::string want;
  AppendJsonl(b.batch, want);
  EXPECT_EQ(ProtoToJsonl(EncodeFile(b.batch)), want);
}

TEST(ProtoRecordsTest, ReaderResolvesTraceTags) {
  testing::SampleBatch b(1);
  std::string file = EncodeFile(b.batch);
  auto reader = proto::RecordReader::FromBuffer(file);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->schema_version(), 1u);
  proto::FileRecordView rec;
  int spans = 0;
  while (*(*reader)->Next(rec)) {
    if (rec.type != proto::FileRecordType::kSpan) continue;
    ++spans;
    ASSERT_EQ(rec.batch.spans[0].trace_tags.size(), 5u);
    EXPECT_EQ(rec.batch.spans[0].trace_tags[0].str, "s-42");
  }
  EXPECT_EQ(spans, 3);
}

TEST(ProtoRecordsTest, TruncatedFileIsDataLossAfterGoodRecords) {
  testing::SampleBatch b(1);
  std::string file = EncodeFile(b.batch);
  file.resize(file.size() - 3);
  auto reader = proto::RecordReader::FromBuffer(file, "cut.pb");
  ASSERT_TRUE(reader.ok());
  proto::FileRecordView rec;
  int good = 0;
  absl::Status st;
  for (;;) {
    auto more = (*reader)->Next(rec);
    if (!more.ok()) {
      st = more.status();
      break;
    }
    if (!*more) break;
    ++good;
  }
  EXPECT_EQ(good, int(b.batch.size()) - 1);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("cut.pb"), absl::string_view::npos) << st;
}

TEST(ProtoRecordsTest, NotAProtobufFile) {
  auto reader = proto::RecordReader::FromBuffer("{\"type\":\"span\"}\n");
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProtobufSinkTest, WritesHeaderAndAppends) {
  std::string path = TempPath("sink.pb");
  testing::SampleBatch b(2);
  for (int round = 0; round < 2; ++round) {  // reopen: appends, one header
    auto sink = MakeProtobufSink({.path = path});
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->Write(b.batch).ok());
    ASSERT_TRUE((*sink)->Close().ok());
  }
  std::string want;
  AppendJsonl(b.batch, want);
  want += want;
  std::string file = ReadFile(path);
  EXPECT_TRUE(model::proto_file::HasMagic(file));
  EXPECT_EQ(ProtoToJsonl(file), want);
}

TEST(ProtobufSinkTest, RefusesNonProtobufFile) {
  std::string path = TempPath("not.pb");
  WriteFile(path, "{\"type\":\"span\"}\n");
  auto sink = MakeProtobufSink({.path = path});
  EXPECT_EQ(sink.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ProtobufSinkTest, RotatesAndEveryFileReadsAlone) {
  std::string path = TempPath("rot.pb");
  for (const std::string& p : WithRotations(path)) fs::remove(p);
  auto sink = MakeProtobufSink({.path = path, .max_bytes = 4096, .max_files = 9});
  ASSERT_TRUE(sink.ok());
  testing::SampleBatch b(10);
  Batch spans_only;
  spans_only.spans = b.batch.spans;
  Batch first;
  first.traces = b.batch.traces;
  ASSERT_TRUE((*sink)->Write(first).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*sink)->Write(spans_only).ok());
  ASSERT_TRUE((*sink)->Close().ok());
  int files = 0, spans = 0;
  for (const std::string& p : WithRotations(path)) {
    if (!fs::exists(p)) continue;
    ++files;
    std::string data = ReadFile(p);
    EXPECT_LE(data.size(), 4096u) << p;
    std::string jsonl = ProtoToJsonl(data);
    // Every file starts with the trace line of the open trace.
    EXPECT_EQ(jsonl.rfind("{\"type\":\"trace\"", 0), 0u) << p;
    for (size_t pos = 0; (pos = jsonl.find("\"type\":\"span\"", pos)) != std::string::npos; ++pos) {
      ++spans;
    }
  }
  EXPECT_GT(files, 2);
  EXPECT_EQ(spans, 5 * int(spans_only.spans.size()));
}

// As the JSONL sink: blocks reserved ahead of the writes, never in the file's
// size (a reader sees only records), never past max_bytes.
TEST(ProtobufSinkTest, PreallocatesAheadWithoutChangingTheSize) {
  std::string ahead = TempPath("ahead.pb"), off = TempPath("off.pb"), rot = TempPath("prot.pb");
  for (const std::string& p : WithRotations(rot)) fs::remove(p);
  // Skip where the file system cannot reserve (the sink then just writes).
  if (!testing::SinksPreallocateAt(off)) {
    GTEST_SKIP() << "no fallocate(FALLOC_FL_KEEP_SIZE) for " << off;
  }
  auto allocated = testing::AllocatedBytes;
  testing::SampleBatch b(10);
  auto a = MakeProtobufSink({.path = ahead, .preallocate_bytes = 1 << 20});
  auto o = MakeProtobufSink({.path = off, .preallocate_bytes = 0});
  auto r = MakeProtobufSink(
      {.path = rot, .max_bytes = 4096, .max_files = 9, .preallocate_bytes = 1 << 20});
  ASSERT_TRUE(a.ok() && o.ok() && r.ok());
  std::string want;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*a)->Write(b.batch).ok());
    ASSERT_TRUE((*o)->Write(b.batch).ok());
    ASSERT_TRUE((*r)->Write(b.batch).ok());
    AppendJsonl(b.batch, want);
  }
  // The file holds its records and nothing after them.
  EXPECT_EQ(ProtoToJsonl(ReadFile(ahead)), want);
  EXPECT_EQ(fs::file_size(ahead), fs::file_size(off));
  EXPECT_LT(fs::file_size(ahead), uint64_t{64} << 10);
  EXPECT_GE(allocated(ahead), uint64_t{1} << 20);  // reserved ahead
  EXPECT_LE(allocated(ahead), (uint64_t{1} << 20) + 65536);
  EXPECT_LT(allocated(off), uint64_t{64} << 10);  // just its own blocks
  // Rotated at 4 KiB: nothing reserved past that.
  for (const std::string& p : WithRotations(rot)) {
    if (!fs::exists(p)) continue;
    EXPECT_LE(fs::file_size(p), 4096u) << p;
    EXPECT_LE(allocated(p), 4096u + 4096u) << p;
  }
  ASSERT_TRUE((*a)->Close().ok());
  ASSERT_TRUE((*o)->Close().ok());
  ASSERT_TRUE((*r)->Close().ok());
}

TEST(ConvertTest, JsonlToProtoToJsonlIsIdentical) {
  testing::SampleBatch b(3);
  std::string jsonl;
  AppendJsonl(b.batch, jsonl);
  // Lines this version did not write, or wrote differently: kept verbatim.
  jsonl += "{\"type\":\"span\",\"future_field\":1}\n";
  jsonl += "{\"type\":\"token_usage\",\"input_tokens\":3}\n";
  jsonl += "not json at all\n";
  jsonl += "\n";
  jsonl += "{\"type\":\"drops\", \"timestamp\":\"2026-11-23T09:00:02.000000000Z\"}\n";
  std::string in = TempPath("in.jsonl"), pb = TempPath("mid.pb"), out = TempPath("out.jsonl");
  WriteFile(in, jsonl);
  proto::ConvertStats st1, st2;
  ASSERT_TRUE(proto::Convert(in, pb, &st1).ok());
  EXPECT_TRUE(st1.to_protobuf);
  EXPECT_EQ(st1.verbatim_lines, 5);
  EXPECT_EQ(st1.records, int64_t(b.batch.size()) + 5);
  ASSERT_TRUE(proto::Convert(pb, out, &st2).ok());
  EXPECT_FALSE(st2.to_protobuf);
  EXPECT_EQ(ReadFile(out), jsonl);
}

TEST(ConvertTest, MissingInputNamesThePath) {
  absl::Status st = proto::Convert("/nonexistent/x.jsonl", TempPath("never.pb"));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/nonexistent/x.jsonl"), absl::string_view::npos);
}

// The real runtime writes JSONL and protobuf side by side; both files carry
// the same content, and JSONL -> protobuf -> JSONL reproduces the JSONL file.
TEST(ConvertTest, RuntimeFilesRoundTrip) {
  std::string jsonl_path = TempPath("rt.jsonl"), pb_path = TempPath("rt.pb");
  {
    Options opts;
    auto j = MakeJsonlSink({.path = jsonl_path});
    auto p = MakeProtobufSink({.path = pb_path});
    ASSERT_TRUE(j.ok() && p.ok());
    opts.sinks.push_back(std::move(*j));
    opts.sinks.push_back(std::move(*p));
    auto rt = Runtime::Start(std::move(opts));
    ASSERT_TRUE(rt.ok()) << rt.status();
    for (int turn = 0; turn < 3; ++turn) {
      Trace trace("session", "s-" + std::to_string(turn));
      trace.Tag("session", "s-" + std::to_string(turn)).Tag("heartbeat", turn == 2).Tag("n", turn);
      {
        Span turn_span("turn", "t1");
        for (int i = 0; i < 20; ++i) {
          Span llm("llm", "messages");
          llm.Tag("provider", "anthropic").Tag("model", "claude-sonnet-4-5").Tag("status", 200);
          llm.Tag("attempt", i).Tag("odd", "caf\xc3\xa9 \"quoted\"\n");
          llm.Add(Counter::kInputTokens, 10 + i).Add(Counter::kOutputTokens, 100);
          llm.Add(Counter::kCacheReadTokens, 4000).Add("web_search_requests", 1);
          llm.Fingerprint("same request");
          Span tool("tool", "grep");
          tool.Tag("tool", "grep").Add(Counter::kToolCalls, 1);
        }
      }
    }
    ASSERT_TRUE((*rt)->Shutdown().ok());
  }
  std::string jsonl = ReadFile(jsonl_path);
  ASSERT_GT(jsonl.size(), 1000u);
  // The protobuf sink's file decodes to the JSONL sink's bytes.
  std::string from_sink = TempPath("rt_from_sink.jsonl");
  ASSERT_TRUE(proto::Convert(pb_path, from_sink).ok());
  EXPECT_EQ(ReadFile(from_sink), jsonl);
  // JSONL -> protobuf -> JSONL, all records typed (none verbatim).
  std::string mid = TempPath("rt_mid.pb"), back = TempPath("rt_back.jsonl");
  proto::ConvertStats st;
  ASSERT_TRUE(proto::Convert(jsonl_path, mid, &st).ok());
  EXPECT_EQ(st.verbatim_lines, 0);
  ASSERT_TRUE(proto::Convert(mid, back).ok());
  EXPECT_EQ(ReadFile(back), jsonl);
  // Size target: at most a third of the JSONL.
  EXPECT_LE(3 * ReadFile(pb_path).size(), jsonl.size())
      << "protobuf " << ReadFile(pb_path).size() << " bytes, JSONL " << jsonl.size();
}

}  // namespace
}  // namespace tokmeter
