// The JSONL sink: the file read back with Boost.JSON (an independent parser),
// escaping of any bytes, rotation, and failing destinations.
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "boost/json.hpp"
#include "gtest/gtest.h"
#include "tests/core/json_lines.h"
#include "tests/core/test_util.h"
#include "tokmeter/tokmeter.h"

namespace tokmeter {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using testing::ReadJsonLines;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/tokmeter_jsonl_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// The batch as the sink formats it, each line parsed strictly.
std::vector<json::object> FormatLines(const Batch& batch) {
  std::string out;
  AppendJsonl(batch, out);
  return testing::ParseJsonLines(out);
}

std::vector<json::object> OfType(const std::vector<json::object>& lines, std::string_view type) {
  std::vector<json::object> out;
  for (const auto& l : lines)
    if (l.at("type").as_string() == type) out.push_back(l);
  return out;
}

TEST(JsonlSinkTest, RoundTripExactCountersAndTags) {
  TempDir dir;
  fs::path file = dir.path / "usage.jsonl";
  {
    Options o;
    o.sinks.push_back(*MakeJsonlSink({.path = file}));
    auto rt = *Runtime::Start(std::move(o));
    TOK_TRACE_NAMED(t, "session", "s-42");
    t.Tag("channel", "discord").Tag("heartbeat", false).Tag("odd \"key\"", "v\n");
    {
      TOK_SPAN_NAMED(turn, "turn", "t1");
      TOK_SPAN_NAMED(llm, "llm", "messages");
      llm.Tag("provider", "anthropic")
          .Tag("model", "claude-sonnet-4-5")
          .Tag("status", 200)
          .Tag("streaming", true)
          .Tag("request_id", "req_1")
          .Tag("path", "/v1/messages")
          .Tag("attempt", 2)
          .Tag("note", "a\tb\xff")
          .Add(Counter::kInputTokens, 12)
          .Add(Counter::kOutputTokens, 230)
          .Add(Counter::kCacheReadTokens, 40000)
          .Add(Counter::kCacheWriteTokens, 1500)
          .Add(Counter::kRequests, 1)
          .Add("web_search_requests", 1)
          .Fingerprint("");
    }
  }  // runtime destroyed: drained and closed
  auto lines = ReadJsonLines(file);
  auto traces = OfType(lines, "trace");
  auto spans = OfType(lines, "span");
  auto sums = OfType(lines, "turn_summary");
  ASSERT_EQ(traces.size(), 1u);
  ASSERT_EQ(spans.size(), 3u);
  ASSERT_EQ(sums.size(), 2u);
  EXPECT_EQ(lines.front().at("type").as_string(), "trace");  // before its spans
  const json::object& tr = traces[0];
  EXPECT_EQ(tr.at("kind").as_string(), "session");
  EXPECT_EQ(tr.at("name").as_string(), "s-42");
  EXPECT_EQ(tr.at("tags").at("channel").as_string(), "discord");
  EXPECT_EQ(tr.at("tags").at("heartbeat").as_bool(), false);
  EXPECT_EQ(tr.at("tags").at("odd \"key\"").as_string(), "v\n");
  EXPECT_EQ(tr.at("trace_id").as_string().size(), 32u);
  const json::object* llm = nullptr;
  for (const auto& s : spans)
    if (s.at("kind").as_string() == "llm") llm = &s;
  ASSERT_NE(llm, nullptr);
  EXPECT_EQ(llm->at("trace_id"), tr.at("trace_id"));
  EXPECT_EQ(llm->at("provider").as_string(), "anthropic");
  EXPECT_EQ(llm->at("model").as_string(), "claude-sonnet-4-5");
  EXPECT_EQ(llm->at("status").as_int64(), 200);
  EXPECT_EQ(llm->at("streaming").as_bool(), true);
  EXPECT_EQ(llm->at("request_id").as_string(), "req_1");
  EXPECT_EQ(llm->at("path").as_string(), "/v1/messages");
  EXPECT_EQ(llm->at("input_tokens").as_int64(), 12);
  EXPECT_EQ(llm->at("output_tokens").as_int64(), 230);
  EXPECT_EQ(llm->at("cache_read_tokens").as_int64(), 40000);
  EXPECT_EQ(llm->at("cache_write_tokens").as_int64(), 1500);
  EXPECT_EQ(llm->at("requests").as_int64(), 1);
  EXPECT_FALSE(llm->contains("errors"));  // zero counters are omitted
  EXPECT_EQ(llm->at("fingerprint").as_string(), "2d06800538d394c2");
  EXPECT_EQ(llm->at("tags").at("attempt").as_int64(), 2);
  EXPECT_EQ(llm->at("tags").at("note").as_string(), "a\tb\xEF\xBF\xBD");
  EXPECT_FALSE(llm->at("tags").as_object().contains("model"));  // top level only
  EXPECT_EQ(llm->at("counters").at("web_search_requests").as_int64(), 1);
  EXPECT_EQ(llm->at("thread").as_int64(), gettid());
  // duration_ms agrees with the two timestamps.
  EXPECT_GE(llm->at("duration_ms").to_number<double>(), 0.0);
  for (const auto& s : sums) {
    EXPECT_EQ(s.at("input_tokens").as_int64(), 12);
    EXPECT_EQ(s.at("tags").at("channel").as_string(), "discord");
  }
}

TEST(JsonlSinkTest, RotatesOnWholeLinesAndRepeatsOpenTraces) {
  TempDir dir;
  fs::path file = dir.path / "r.jsonl";
  constexpr int kSpans = 2000;
  {
    Options o;
    o.sinks.push_back(*MakeJsonlSink({.path = file, .max_bytes = 64 * 1024, .max_files = 100}));
    auto rt = *Runtime::Start(std::move(o));
    TOK_TRACE_NAMED(t, "session", "long");
    t.Tag("channel", "cli");
    for (int i = 0; i < kSpans; ++i) {
      {
        TOK_SPAN_NAMED(s, "llm", "call-" + std::to_string(i));
        s.Add(Counter::kInputTokens, 1);
      }
      if (i % 500 == 499) ASSERT_TRUE(rt->Flush().ok());
    }
  }
  int files = 0, spans = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    ++files;
    EXPECT_LE(fs::file_size(e.path()), 64u * 1024) << e.path();
    auto lines = ReadJsonLines(e.path());
    ASSERT_FALSE(lines.empty());
    // Every file starts with the trace line of the (still open) trace.
    EXPECT_EQ(lines[0].at("type").as_string(), "trace") << e.path();
    spans += OfType(lines, "span").size();
  }
  EXPECT_GT(files, 3);
  EXPECT_EQ(spans, kSpans + 1);  // + the trace's root span
}

// Consecutive lines share what they can (the trace id's hex, the span's
// origin: parent, kind, name, thread): every line must still carry its own
// record's values when any one of them changes from the line before.
TEST(JsonlFormatTest, EachLineCarriesItsOwnOrigin) {
  const std::string long_name(300, 'n');  // longer than what is kept for reuse
  struct Origin {
    uint64_t trace_lo, parent;
    bool root;
    std::string kind, name;
    uint32_t thread;
  } origins[] = {
      {1, 0x10, false, "llm", "messages", 7},  {1, 0x10, false, "llm", "messages", 7},
      {1, 0x11, false, "llm", "messages", 7},  {1, 0x11, false, "llm", "messages", 8},
      {1, 0x11, false, "tool", "messages", 8}, {1, 0x11, false, "tool", "search", 8},
      {2, 0x11, false, "tool", "search", 8},   {2, 0, true, "tool", "search", 8},
      {2, 0, false, "tool", "search", 8},      {2, 0, false, "tool", long_name, 8},
      {2, 0, false, "tool", long_name, 8},     {2, 0, false, "to\"ol", long_name, 8},
      {1, 0x10, false, "llm", "messages", 7},  {1, 0x10, false, "llm", "messag", 7},
      {1, 0x10, false, "llm", "messages", 7},
  };
  Batch batch;
  std::vector<std::string> kinds, names;  // the records' views point here
  kinds.reserve(std::size(origins));
  names.reserve(std::size(origins));
  for (const Origin& o : origins) {
    // Each record's strings in their own buffer: equal text, different address.
    kinds.push_back(o.kind);
    names.push_back(o.name);
    SpanRecord& s = batch.spans.emplace_back();
    s.trace_id = TraceId{0xabc, o.trace_lo};
    s.span_id = 0x100 + batch.spans.size();
    s.parent_id = o.parent;
    s.is_trace_root = o.root;
    s.kind = kinds.back();
    s.name = names.back();
    s.thread_id = o.thread;
    s.start_unix_ns = 1700000000000000000;
    s.end_unix_ns = 1700000000000000000 + 1000;
  }
  std::vector<json::object> lines = FormatLines(batch);
  ASSERT_EQ(lines.size(), std::size(origins));
  for (size_t i = 0; i < lines.size(); ++i) {
    const Origin& o = origins[i];
    const json::object& l = lines[i];
    char trace[33];
    std::snprintf(trace, sizeof(trace), "%016x%016llx", 0xabc, (unsigned long long)o.trace_lo);
    EXPECT_EQ(l.at("trace_id").as_string(), trace) << i;
    EXPECT_EQ(l.contains("parent_id"), o.parent != 0) << i;
    if (o.parent != 0) {
      char parent[17];
      std::snprintf(parent, sizeof(parent), "%016llx", (unsigned long long)o.parent);
      EXPECT_EQ(l.at("parent_id").as_string(), parent) << i;
    }
    EXPECT_EQ(l.contains("root"), o.root) << i;
    EXPECT_EQ(l.at("kind").as_string(), o.kind) << i;
    EXPECT_EQ(l.at("name").as_string(), o.name) << i;
    EXPECT_EQ(l.at("thread").as_int64(), o.thread) << i;
  }
}

// The same for tags: a line's top-level tags (and whether it has a `tags`
// object) must be its own whenever one key, type or value differs from the
// line before, equal texts in different buffers included.
TEST(JsonlFormatTest, EachLineCarriesItsOwnTags) {
  struct T {
    std::string key;
    TagType type;
    std::string str;
    int64_t num;
  };
  const std::vector<std::vector<T>> lines = {
      {{"provider", TagType::kString, "anthropic", 0}, {"status", TagType::kInt, "", 200}},
      {{"provider", TagType::kString, "anthropic", 0}, {"status", TagType::kInt, "", 200}},
      {{"provider", TagType::kString, "anthropix", 0}, {"status", TagType::kInt, "", 200}},
      {{"provider", TagType::kString, "anthropix", 0}, {"status", TagType::kInt, "", 429}},
      {{"provider", TagType::kString, "anthropix", 0}, {"status", TagType::kBool, "", 1}},
      {{"provider", TagType::kString, "anthropix", 0}, {"attempt", TagType::kInt, "", 2}},
      {{"provider", TagType::kString, "anthropix", 0}, {"attempt", TagType::kInt, "", 3}},
      {{"status", TagType::kInt, "", 200}, {"provider", TagType::kString, "anthropix", 0}},
      {{"model", TagType::kString, "m\"1", 0}},
      {{"model", TagType::kString, "m\"1", 0}},
      {},
      {{"model", TagType::kString, std::string(300, 'm'), 0}},
      {{"model", TagType::kString, std::string(300, 'm'), 0}},
      {{"model", TagType::kString, std::string(299, 'm') + "n", 0}},
  };
  std::deque<std::string> text;  // every tag's key and value in its own buffer
  std::vector<std::vector<Tag>> tags(lines.size());
  Batch batch;
  for (size_t i = 0; i < lines.size(); ++i) {
    for (const T& t : lines[i]) {
      std::string_view key = text.emplace_back(t.key);
      std::string_view str = text.emplace_back(t.str);
      tags[i].push_back(Tag{key, t.type, str, t.num});
    }
    SpanRecord& s = batch.spans.emplace_back();
    s.trace_id = TraceId{1, 2};
    s.span_id = 0x100 + i;
    s.kind = "llm";
    s.name = "messages";
    s.tags = tags[i];
  }
  std::vector<json::object> got = FormatLines(batch);
  ASSERT_EQ(got.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    json::object want_tags;
    for (const T& t : lines[i]) {
      const bool top = t.key == "provider" || t.key == "status" || t.key == "model";
      json::value v = t.type == TagType::kString ? json::value(t.str)
                      : t.type == TagType::kInt  ? json::value(t.num)
                                                 : json::value(t.num != 0);
      if (top) {
        ASSERT_TRUE(got[i].contains(t.key)) << i << " " << t.key;
        EXPECT_EQ(got[i].at(t.key), v) << i << " " << t.key;
      } else {
        want_tags[t.key] = v;
      }
    }
    EXPECT_EQ(got[i].contains("tags"), !want_tags.empty()) << i;
    if (!want_tags.empty()) EXPECT_EQ(got[i].at("tags").as_object(), want_tags) << i;
    for (const char* key : {"provider", "status", "model"}) {
      bool listed = false;
      for (const T& t : lines[i]) listed |= t.key == key;
      EXPECT_EQ(got[i].contains(key), listed) << i << " " << key;
    }
  }
}

// Disk blocks are reserved ahead of the writes (fallocate KEEP_SIZE): the
// file's size is exactly its lines, the blocks run ahead by at most the
// step, never past the rotation size, and 0 turns it off.
TEST(JsonlSinkTest, PreallocatesAheadWithoutChangingTheSize) {
  TempDir dir;
  // Skip where the file system cannot reserve (the sink then just writes).
  if (!testing::SinksPreallocateAt(dir.path / "probe")) {
    GTEST_SKIP() << "no fallocate(FALLOC_FL_KEEP_SIZE) on " << dir.path;
  }
  auto record = [](Runtime& rt, int spans) {
    for (int i = 0; i < spans; ++i) {
      TOK_SPAN_NAMED(s, "llm", "messages");
      s.Add(Counter::kInputTokens, i);
    }
    ASSERT_TRUE(rt.Flush().ok());
  };
  auto allocated = testing::AllocatedBytes;
  auto bytes_of_lines = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(all.empty() || all.back() == '\n');
    return uint64_t(all.size());
  };

  fs::path ahead = dir.path / "ahead.jsonl", off = dir.path / "off.jsonl";
  fs::path rotated = dir.path / "rotated.jsonl";
  Options o;
  o.sinks.push_back(*MakeJsonlSink({.path = ahead, .preallocate_bytes = 1 << 20}));
  o.sinks.push_back(*MakeJsonlSink({.path = off, .preallocate_bytes = 0}));
  o.sinks.push_back(*MakeJsonlSink(
      {.path = rotated, .max_bytes = 64 << 10, .max_files = 3, .preallocate_bytes = 1 << 20}));
  auto rt = *Runtime::Start(std::move(o));
  record(*rt, 50);  // ~15 KB
  const uint64_t size = fs::file_size(ahead);
  EXPECT_EQ(size, bytes_of_lines(ahead));  // nothing but lines, no reserved zeros
  EXPECT_EQ(fs::file_size(off), size);
  EXPECT_GE(allocated(ahead), uint64_t{1} << 20);  // reserved ahead, 1 MiB from the start
  EXPECT_LE(allocated(ahead), (uint64_t{1} << 20) + 65536);
  EXPECT_LT(allocated(off), uint64_t{64} << 10);  // just its own blocks
  record(*rt, 6000);                              // ~1.8 MB: past the first reservation
  EXPECT_EQ(fs::file_size(ahead), bytes_of_lines(ahead));
  EXPECT_GE(allocated(ahead), fs::file_size(ahead));
  EXPECT_LE(allocated(ahead), fs::file_size(ahead) + (uint64_t{1} << 20) + 65536);
  // Rotated at 64 KiB: no file holds blocks reserved past that.
  for (const fs::path& p :
       {rotated, fs::path(rotated.string() + ".1"), fs::path(rotated.string() + ".2")}) {
    ASSERT_TRUE(fs::exists(p)) << p;
    EXPECT_LE(fs::file_size(p), uint64_t{64} << 10) << p;
    EXPECT_EQ(fs::file_size(p), bytes_of_lines(p)) << p;
    EXPECT_LE(allocated(p), (uint64_t{64} << 10) + 4096) << p;
  }
  ASSERT_TRUE(rt->Shutdown().ok());
  EXPECT_EQ(OfType(ReadJsonLines(ahead), "span").size(), size_t(6050));
  EXPECT_EQ(OfType(ReadJsonLines(off), "span").size(), size_t(6050));
}

TEST(JsonlSinkTest, UnopenablePathIsAClearError) {
  auto sink = MakeJsonlSink({.path = "/nonexistent-dir/usage.jsonl"});
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("/nonexistent-dir/usage.jsonl"), std::string::npos);
  EXPECT_NE(sink.status().message().find("No such file or directory"), std::string::npos);
}

TEST(JsonlSinkTest, FailingSinksReportErrorsAndTheOthersStayComplete) {
  TempDir dir;
  fs::path good = dir.path / "good.jsonl";
  fs::path doomed_dir = dir.path / "doomed";
  fs::create_directory(doomed_dir);
  std::vector<std::string> errors;
  std::mutex mu;
  Options o;
  o.sinks.push_back(*MakeJsonlSink({.path = "/dev/full"}));
  // Rotates after ~1 KiB into a directory that is removed below.
  o.sinks.push_back(*MakeJsonlSink({.path = doomed_dir / "x.jsonl", .max_bytes = 1024}));
  o.sinks.push_back(*MakeJsonlSink({.path = good}));
  o.on_error = [&](std::string_view sink, const absl::Status& st) {
    std::lock_guard<std::mutex> lock(mu);
    errors.push_back(std::string(sink) + " | " + std::string(st.message()));
  };
  auto m = testing::StartMemory(std::move(o));
  fs::remove_all(doomed_dir);
  constexpr int kSpans = 300;
  for (int i = 0; i < kSpans; ++i) {
    TOK_SPAN_NAMED(s, "llm", "x");
    s.Add(Counter::kOutputTokens, i);
  }
  EXPECT_FALSE(m.runtime->Flush().ok());     // /dev/full cannot be flushed
  EXPECT_FALSE(m.runtime->Shutdown().ok());  // close errors are reported, not thrown
  EXPECT_EQ(OfType(ReadJsonLines(good), "span").size(), size_t(kSpans));
  EXPECT_EQ(m.sink->spans().size(), size_t(kSpans));
  std::lock_guard<std::mutex> lock(mu);
  bool full = false, gone = false;
  for (const auto& e : errors) {
    full |=
        e.find("jsonl:/dev/full") == 0 && e.find("No space left on device") != std::string::npos;
    gone |= e.find("doomed") != std::string::npos;
  }
  EXPECT_TRUE(full);
  EXPECT_TRUE(gone);
}

}  // namespace
}  // namespace tokmeter

namespace tokmeter {
namespace {

TEST(JsonlFormatTest, AlertLineCarriesTheFindingAndItsEvidence) {
  Batch batch;
  AlertRecord& a = batch.alerts.emplace_back();
  a.time_unix_ns = 1'764'000'000'123'000'000;  // 2025-11-24T16:00:00.123Z
  a.trace_id = TraceId{0x0123456789abcdef, 0xfedcba9876543210};
  a.span_id = 0x42;
  Finding& f = a.finding;
  f.kind = "budget";
  f.severity = Severity::kCritical;
  f.subject = "session s\"1";
  f.keys = {{"session", "s\"1"}, {"budget", "session=1000,hard"}};
  f.evidence = {{"consumed", 1000},   {"limit", 1000},
                {"share", 1.0},       {"threshold", 1.0},
                {"forecast", 1234.5}, {"unpriced", std::numeric_limits<double>::quiet_NaN()}};
  f.rule = "budget session=1000,hard: alerts at 50%, 80%, 100% of the limit";
  f.recommendation = "Budget rule: session s\"1 has used 100%.";
  f.time_ns = a.time_unix_ns;
  f.tokens = 1000;
  const std::vector<json::object> lines = FormatLines(batch);
  ASSERT_EQ(lines.size(), 1u);
  const json::object& l = lines[0];
  EXPECT_EQ(l.at("type").as_string(), "alert");
  EXPECT_EQ(l.at("timestamp").as_string(), "2025-11-24T16:00:00.123000000Z");
  EXPECT_EQ(l.at("rule").as_string(), "budget");
  EXPECT_EQ(l.at("severity").as_string(), "critical");
  EXPECT_EQ(l.at("subject").as_string(), "session s\"1");
  EXPECT_EQ(l.at("keys").at("session").as_string(), "s\"1");
  EXPECT_EQ(l.at("budget").as_string(), "session=1000,hard");
  EXPECT_EQ(l.at("threshold").to_number<double>(), 1.0);
  EXPECT_EQ(l.at("tokens").as_int64(), 1000);
  EXPECT_EQ(l.at("evidence").at("consumed").to_number<double>(), 1000);
  EXPECT_EQ(l.at("evidence").at("forecast").to_number<double>(), 1234.5);
  EXPECT_TRUE(l.at("evidence").at("unpriced").is_null());
  EXPECT_EQ(l.at("since").as_string(), "2025-11-24T16:00:00.123000000Z");
  EXPECT_FALSE(l.contains("until"));
  EXPECT_EQ(l.at("condition").as_string(), f.rule);
  EXPECT_EQ(l.at("message").as_string(), f.recommendation);
  EXPECT_EQ(l.at("trace_id").as_string(), "0123456789abcdeffedcba9876543210");
  EXPECT_EQ(l.at("span_id").as_string(), "0000000000000042");
}

TEST(JsonlFormatTest, AlertWithoutCauseHasNoIds) {
  Batch batch;
  AlertRecord& a = batch.alerts.emplace_back();
  a.time_unix_ns = 1'764'000'000'000'000'000;
  a.finding.kind = "background";
  a.finding.subject = "job nightly";
  const std::vector<json::object> lines = FormatLines(batch);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_FALSE(lines[0].contains("trace_id"));
  EXPECT_FALSE(lines[0].contains("span_id"));
  EXPECT_FALSE(lines[0].contains("budget"));
  EXPECT_FALSE(lines[0].contains("threshold"));
  EXPECT_EQ(lines[0].at("keys").as_object().size(), 0u);
}

}  // namespace
}  // namespace tokmeter
