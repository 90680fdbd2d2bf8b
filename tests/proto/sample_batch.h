// A hand-built Batch covering every record type and field, for the proto tests
// and benchmarks.
#ifndef TOKMETER_TESTS_PROTO_SAMPLE_BATCH_H_
#define TOKMETER_TESTS_PROTO_SAMPLE_BATCH_H_

#include <string>
#include <vector>

#include "tokmeter/record.h"

namespace tokmeter::testing {

// Owns the tags and counters the batch's spans view.
struct SampleBatch {
  std::vector<Tag> trace_tags{{"session", TagType::kString, "s-42", 0},
                              {"agent", TagType::kString, "planner", 0},
                              {"channel", TagType::kString, "discord", 0},
                              {"heartbeat", TagType::kBool, "", 0},
                              {"priority", TagType::kInt, "", -3}};
  std::vector<Tag> llm_tags{{"provider", TagType::kString, "anthropic", 0},
                            {"attempt", TagType::kInt, "", 2},
                            {"model", TagType::kString, "claude-sonnet-4-5", 0},
                            {"status", TagType::kInt, "", 200},
                            {"streaming", TagType::kBool, "", 1},
                            {"request_id", TagType::kString, "req_011CV\"q\\x\n", 0},
                            {"bad_utf8", TagType::kString,
                             "a\xff\xfe"
                             "b",
                             0}};
  std::vector<Tag> tool_tags{{"tool", TagType::kString, "web_search", 0},
                             {"status", TagType::kInt, "", 503}};
  std::vector<UserCounter> user_counters{{"web_search_requests", 1}, {"neg", -5}};
  Batch batch;

  // `spans` llm/tool span pairs under one trace.
  explicit SampleBatch(int spans = 1, int64_t t0 = 1795424400000000000) {
    TraceId tid{0x4bf92f3577b34da6, 0xa3ce929d0e0e4736};
    batch.traces.push_back(TraceRecord{tid, 0x00f067aa0ba902b7, t0, "session", "s-42", trace_tags});
    for (int i = 0; i < spans; ++i) {
      SpanRecord s;
      s.trace_id = tid;
      s.span_id = 0xa3ce929d0e0e0000 + uint64_t(2 * i);
      s.parent_id = 0x00f067aa0ba902b7;
      s.start_unix_ns = t0 + int64_t(i) * 1000000;
      s.end_unix_ns = s.start_unix_ns + 1250000123;
      s.kind = "llm";
      s.name = "messages";
      s.thread_id = 4242;
      s.has_fingerprint = true;
      s.fingerprint = 0x9f3a0c2b1d4e5f60 + uint64_t(i);
      s.counters.Add(Counter::kInputTokens, 12);
      s.counters.Add(Counter::kOutputTokens, 230);
      s.counters.Add(Counter::kCacheReadTokens, 40000);
      s.counters.Add(Counter::kCacheWriteTokens, 1500);
      s.counters.Add(Counter::kReasoningTokens, 100);
      s.counters.Add(Counter::kRequests, 1);
      s.counters.Add(Counter::kRetries, 0);  // set but zero: omitted in JSONL
      s.tags = llm_tags;
      s.user_counters = user_counters;
      s.trace_tags = trace_tags;
      batch.spans.push_back(s);

      SpanRecord t;
      t.trace_id = tid;
      t.span_id = s.span_id + 1;
      t.parent_id = s.span_id;
      t.start_unix_ns = s.end_unix_ns;
      t.end_unix_ns = t.start_unix_ns + 5000;
      t.kind = "tool";
      t.name = "web_search";
      t.thread_id = 4243;
      t.counters.Add(Counter::kToolCalls, 1);
      t.counters.Add(Counter::kErrors, 1);
      t.counters.Add(Counter::kRateLimited, 2);
      t.tags = tool_tags;
      t.trace_tags = trace_tags;
      batch.spans.push_back(t);
    }
    SpanRecord root;
    root.trace_id = tid;
    root.span_id = 0x00f067aa0ba902b7;
    root.start_unix_ns = t0;
    root.end_unix_ns = t0 + 9000000000;
    root.kind = "session";
    root.name = "s-42";
    root.thread_id = 4242;
    root.is_trace_root = true;
    root.trace_tags = trace_tags;
    batch.spans.push_back(root);

    RollupRecord r;
    r.trace_id = tid;
    r.span_id = 0x00f067aa0ba902b7;
    r.scope = "trace";
    r.kind = "session";
    r.name = "s-42";
    r.start_unix_ns = t0;
    r.end_unix_ns = t0 + 9000000000;
    r.spans = 2 * spans + 1;
    r.totals.Add(Counter::kInputTokens, 12 * spans);
    r.totals.Add(Counter::kOutputTokens, 230 * spans);
    r.totals.Add(Counter::kToolCalls, spans);
    r.trace_tags = trace_tags;
    batch.rollups.push_back(r);
    batch.drops.push_back(DropRecord{4243, t0 + 2000000000, 17, 17});
  }
  SampleBatch(const SampleBatch&) = delete;
};

}  // namespace tokmeter::testing

#endif  // TOKMETER_TESTS_PROTO_SAMPLE_BATCH_H_
