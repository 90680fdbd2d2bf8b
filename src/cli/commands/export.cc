// `tokmeter export`: replays any input the readers accept as OpenTelemetry
// data — spans (one per usage event, its original times) and metrics (the
// GenAI client metrics and tokmeter's counters per time window) — to an
// OTLP/HTTP endpoint and/or to OTLP JSON files (what the Collector's file
// exporter writes; the otlp-json reader reads them back). docs/OTLP.md.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "src/cli/common.h"
#ifdef TOKMETER_CLI_HAVE_OTLP
#include "src/otlp/http_exporter.h"
#include "src/otlp/metrics.h"
#include "src/otlp/otlp_encoder.h"
#include "src/otlp/otlp_json.h"
#endif

namespace tokmeter::cli::export_cmd {
namespace {

namespace po = boost::program_options;
namespace json = boost::json;

struct Flags {
  CommonFlags common;
  std::string endpoint, traces_url, metrics_url, traces_file, metrics_file;
  std::vector<std::string> headers, resource;
  std::string service_name = "tokmeter", signals = "traces,metrics", timeout = "10s",
              interval = "1m", temporality = "cumulative", metric_attributes;
  bool gzip = false, quiet = false, no_cost = false;
  int64_t batch = 4096, max_series = 2000, max_retries = 5;
};

std::vector<std::pair<std::string, std::string>> KeyValues(const std::string& flag,
                                                           const std::vector<std::string>& items) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& item : items) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError{absl::StrCat("--", flag, ": '", item, "' is not KEY=VALUE")};
    out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  return out;
}

#ifdef TOKMETER_CLI_HAVE_OTLP

// A stable 64-bit hash (FNV-1a, then SplitMix64's finalizer): the same log
// exported twice gets the same ids, so a backend can tell the copies apart
// from new data.
uint64_t Hash64(std::string_view s, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (char c : s) {
    h ^= uint8_t(c);
    h *= 0x100000001b3ULL;
  }
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

bool IsHex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

// Tags that belong to the trace (the conversation, the agent, the
// workflow) rather than to one call.
bool IsTraceTag(std::string_view key) {
  return key == "session" || key == "agent" || key == "workflow" || key == "channel" ||
         key == "user" || key == "job" || key == "run" || key == "project";
}

// One usage event as the span tokmeter would have recorded for it, built
// with views into the event (valid during the reader's callback).
class SpanOfEvent {
 public:
  // Fills `span` (and returns the trace key for gen_ai.conversation.id: the
  // source's session or run id when its trace id is not a W3C id).
  std::string_view Make(const analysis::UsageEvent& e, SpanRecord& s) {
    s = SpanRecord{};
    key_.clear();
    std::string_view trace_key;
    if (IsHex(e.trace_id, 32)) {
      s.trace_id = TraceId::FromHex(e.trace_id);
    } else {
      trace_key = e.trace_id;
      if (trace_key.empty()) trace_key = e.tag("session");
      if (trace_key.empty()) {
        // Its own trace: the input and line make it unique and stable.
        absl::StrAppend(&key_, "input", e.input_index, ":", e.line, ":", e.time_unix_ns);
        s.trace_id = TraceId{Hash64(key_, 1), Hash64(key_, 2)};
        trace_key = {};
      } else {
        s.trace_id = TraceId{Hash64(trace_key, 1), Hash64(trace_key, 2)};
      }
    }
    if (!s.trace_id.valid()) s.trace_id.lo = 1;
    auto id_of = [&](std::string_view id) -> uint64_t {
      if (id.empty()) return 0;
      if (IsHex(id, 16)) return SpanIdFromHex(id);
      std::string k = absl::StrCat(s.trace_id.ToHex(), "/", analysis::ToAbsl(id));
      return Hash64(k, 3) | 1;
    };
    s.span_id = id_of(e.span_id);
    if (s.span_id == 0) {
      std::string k = absl::StrCat(s.trace_id.ToHex(), "/", e.input_index, ":", e.line, ":",
                                   e.time_unix_ns, ":", analysis::ToAbsl(e.name));
      s.span_id = Hash64(k, 4) | 1;
    }
    s.parent_id = id_of(e.parent_id);
    // A root of tokmeter's own data (W3C ids and no parent) is its trace's
    // root span.
    s.is_trace_root = e.parent_id.empty() && IsHex(e.trace_id, 32) && IsHex(e.span_id, 16);
    s.end_unix_ns = e.time_unix_ns;
    s.start_unix_ns = e.duration_ns >= 0 ? e.time_unix_ns - e.duration_ns : e.time_unix_ns;
    s.kind = e.kind.empty() ? std::string_view("llm") : e.kind;
    s.name = e.name.empty() ? e.model : e.name;
    if (e.fingerprint != 0) {
      s.has_fingerprint = true;
      s.fingerprint = e.fingerprint;
    }
    Counters& c = s.counters;
    auto put = [&](Counter k, int64_t v) {
      if (v != 0) c.Add(k, v);
    };
    put(Counter::kInputTokens, e.tokens.input);
    put(Counter::kOutputTokens, e.tokens.output);
    put(Counter::kCacheReadTokens, e.tokens.cache_read);
    put(Counter::kCacheWriteTokens, e.tokens.cache_write_5m + e.tokens.cache_write_1h);
    put(Counter::kCacheWrite1hTokens, e.tokens.cache_write_1h);
    put(Counter::kReasoningTokens, e.tokens.reasoning);
    put(Counter::kRequests, e.requests);
    put(Counter::kToolCalls, e.tool_calls);
    put(Counter::kRetries, e.retries);
    put(Counter::kRetryWaitMs, e.retry_wait_ms);
    put(Counter::kRateLimited, e.rate_limited);
    put(Counter::kErrors, e.errors);
    put(Counter::kResponseBytes, e.response_bytes);
    // An LLM call reports its input and output even when they are 0.
    if (e.requests > 0 && !c.has(Counter::kInputTokens)) c.Add(Counter::kInputTokens, 0);
    if (e.requests > 0 && !c.has(Counter::kOutputTokens)) c.Add(Counter::kOutputTokens, 0);
    tags_.clear();
    trace_tags_.clear();
    if (!e.provider.empty()) tags_.push_back({"provider", TagType::kString, e.provider, 0});
    if (!e.model.empty()) tags_.push_back({"model", TagType::kString, e.model, 0});
    if (e.status != 0) tags_.push_back({"status", TagType::kInt, {}, e.status});
    for (int i = 0; i < e.num_tags; ++i) {
      const auto& [k, v] = e.tags[i];
      if (k == "provider" || k == "model" || k == "status") continue;
      (IsTraceTag(k) ? trace_tags_ : tags_).push_back({k, TagType::kString, v, 0});
    }
    s.tags = tags_;
    s.trace_tags = trace_tags_;
    return trace_key;
  }

 private:
  std::string key_;
  std::vector<Tag> tags_, trace_tags_;
};

// Where requests go: an OTLP/HTTP endpoint (through the shared sender,
// waiting for room rather than dropping) and/or an OTLP JSON file.
class Destination {
 public:
  Destination(otlp::OtlpSignal signal, std::unique_ptr<otlp::HttpExporter> http, std::string path,
              std::ostream* file)
      : signal_(signal), http_(std::move(http)), path_(std::move(path)), file_(file) {}

  void Send(std::string body, size_t items) {
    if (file_ != nullptr) {
      json_.clear();
      absl::Status s = otlp::AppendOtlpJson(signal_, body, json_);
      if (!s.ok()) throw std::runtime_error(std::string(s.message()));
      json_.push_back('\n');
      file_->write(json_.data(), std::streamsize(json_.size()));
      if (!*file_) throw UsageError{absl::StrCat("export: cannot write '", path_, "'")};
      lines_ += 1;
    }
    if (http_) http_->Enqueue(std::move(body), items, /*block=*/true).IgnoreError();
    sent_ += items;
  }
  // Waits for the sender; the final failure message, "" when all went.
  std::string Close() {
    if (file_ != nullptr) file_->flush();
    if (!http_) return "";
    absl::Status st = http_->Close();
    std::string failure = http_->TakeFailure();
    if (failure.empty() && !st.ok()) failure = std::string(st.message());
    return failure;
  }
  otlp::HttpExporterStats stats() const {
    return http_ ? http_->stats() : otlp::HttpExporterStats{};
  }
  bool http() const { return http_ != nullptr; }
  uint64_t sent() const { return sent_; }
  uint64_t lines() const { return lines_; }

 private:
  otlp::OtlpSignal signal_;
  std::unique_ptr<otlp::HttpExporter> http_;
  std::string path_;
  std::ostream* file_;
  std::string json_;
  uint64_t sent_ = 0, lines_ = 0;
};

std::unique_ptr<otlp::HttpExporter> StartHttp(const Flags& f, const std::string& flag,
                                              std::string url, size_t batch, size_t queue,
                                              std::string noun) {
  if (url.empty()) return nullptr;
  otlp::HttpExporterOptions h;
  h.name = url;
  h.url = url;
  for (auto& kv : KeyValues("header", f.headers)) h.headers.push_back(std::move(kv));
  h.gzip = f.gzip;
  h.timeout = std::chrono::milliseconds(ParseDurationFlag("timeout", f.timeout) / 1'000'000);
  h.max_retries = int(f.max_retries);
  h.max_batch_items = batch;
  h.max_queue_items = queue;
  h.item_noun = std::move(noun);
  // A replay waits for its data to go, not the runtime's few seconds.
  h.close_timeout = std::max(std::chrono::milliseconds(60000), 3 * h.timeout);
  auto e = otlp::HttpExporter::Start(std::move(h));
  if (!e.ok()) throw UsageError{absl::StrCat("--", flag, ": ", e.status().message())};
  return *std::move(e);
}

std::string Count(uint64_t n) {
  std::string s = absl::StrCat(n);
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(size_t(i), ",");
  return s;
}

#endif  // TOKMETER_CLI_HAVE_OTLP

int Run(const std::vector<std::string>& args, Io& io) {
  Flags f;
  po::options_description d("export options");
  AddCommonFlags(d, f.common, kJsonBit);
  d.add_options()("endpoint", po::value(&f.endpoint),
                  "OTLP/HTTP base URL: spans to URL/v1/traces, metrics to URL/v1/metrics")(
      "traces-url", po::value(&f.traces_url), "full URL for spans (instead of --endpoint's)")(
      "metrics-url", po::value(&f.metrics_url), "full URL for metrics (instead of --endpoint's)")(
      "header", po::value(&f.headers)->composing(), "KEY=VALUE request header (repeatable)")(
      "gzip", po::bool_switch(&f.gzip), "compress request bodies")("timeout", po::value(&f.timeout),
                                                                   "per request (default 10s)")(
      "max-retries", po::value(&f.max_retries),
      "retries of a request after 429/502/503/504 or a network error (default 5)")(
      "traces-file", po::value(&f.traces_file),
      "write spans as OTLP JSON lines (the Collector file exporter's format)")(
      "metrics-file", po::value(&f.metrics_file), "write metrics as OTLP JSON lines")(
      "signals", po::value(&f.signals), "traces,metrics (default both) | traces | metrics")(
      "batch", po::value(&f.batch), "spans per request / line (default 4096)")(
      "metrics-interval", po::value(&f.interval),
      "metric points per window of event time (default 1m)")(
      "temporality", po::value(&f.temporality), "cumulative (default) | delta")(
      "metric-attributes", po::value(&f.metric_attributes),
      "comma-separated attribute keys of metric points (default: operation, provider, request "
      "and response model, error.type; docs/OTLP.md)")(
      "max-series", po::value(&f.max_series), "attribute combinations kept (default 2000)")(
      "no-cost", po::bool_switch(&f.no_cost), "no tokmeter.cost metric (priced with --pricing)")(
      "service-name", po::value(&f.service_name), "resource service.name (default tokmeter)")(
      "resource", po::value(&f.resource)->composing(), "KEY=VALUE resource attribute (repeatable)")(
      "quiet,q", po::bool_switch(&f.quiet), "no progress on stderr");
  if (!ParseFlags(args, d, "export", "[INPUT...]", io)) return kExitOk;
  if (!f.common.format.empty() && f.common.format != "json")
    throw UsageError{absl::StrCat("export: --format '", f.common.format,
                                  "': only json (the summary) is written")};
#ifndef TOKMETER_CLI_HAVE_OTLP
  throw UsageError{
      "export: the OTLP exporter was not built (configure with TOKMETER_BUILD_OTLP=ON)"};
#else
  bool want_traces = false, want_metrics = false;
  for (absl::string_view s : absl::StrSplit(f.signals, ',', absl::SkipWhitespace())) {
    if (s == "traces" || s == "spans") {
      want_traces = true;
    } else if (s == "metrics") {
      want_metrics = true;
    } else {
      throw UsageError{absl::StrCat("--signals: '", s, "' is not traces or metrics")};
    }
  }
  if (!want_traces && !want_metrics) throw UsageError{"--signals: name traces, metrics or both"};
  if (f.batch <= 0 || f.batch > 1'000'000)
    throw UsageError{absl::StrCat("--batch: ", f.batch, " is not between 1 and 1000000")};
  if (f.max_series <= 0) throw UsageError{"--max-series: must be at least 1"};
  if (f.max_retries < 0 || f.max_retries > 100)
    throw UsageError{absl::StrCat("--max-retries: ", f.max_retries, " is not between 0 and 100")};
  if (!f.traces_file.empty() && !want_traces)
    throw UsageError{"--traces-file: --signals does not include traces"};
  if (!f.metrics_file.empty() && !want_metrics)
    throw UsageError{"--metrics-file: --signals does not include metrics"};
  OtlpTemporality temporality;
  if (f.temporality == "cumulative") {
    temporality = OtlpTemporality::kCumulative;
  } else if (f.temporality == "delta") {
    temporality = OtlpTemporality::kDelta;
  } else {
    throw UsageError{
        absl::StrCat("--temporality: '", f.temporality, "' is not cumulative or delta")};
  }
  const int64_t interval_ns = ParseDurationFlag("metrics-interval", f.interval);
  if (interval_ns == 0) throw UsageError{"--metrics-interval: give a duration such as 1m or 1h"};
  std::vector<std::string> metric_attrs = OtlpMetricsOptions{}.attributes;
  if (!f.metric_attributes.empty()) {
    metric_attrs = absl::StrSplit(f.metric_attributes, ',', absl::SkipWhitespace());
  }
  // The attribute list, checked once.
  if (auto checked = otlp::MetricsAggregator::Make(metric_attrs, temporality, 1, 0); !checked.ok())
    throw UsageError{absl::StrCat("--metric-attributes: ", checked.status().message())};

  std::string traces_url = f.traces_url, metrics_url = f.metrics_url;
  if (!f.endpoint.empty()) {
    if (traces_url.empty()) traces_url = otlp::JoinUrl(f.endpoint, "/v1/traces");
    if (metrics_url.empty()) metrics_url = otlp::JoinUrl(f.endpoint, "/v1/metrics");
  }
  if (!want_traces) traces_url.clear();
  if (!want_metrics) metrics_url.clear();
  if (traces_url.empty() && metrics_url.empty() && f.traces_file.empty() &&
      f.metrics_file.empty()) {
    throw UsageError{
        "export: nowhere to export to: give --endpoint URL (an OTLP/HTTP collector, e.g. "
        "http://localhost:4318) and/or --traces-file / --metrics-file"};
  }
  const bool traces = !traces_url.empty() || !f.traces_file.empty();
  const bool metrics = !metrics_url.empty() || !f.metrics_file.empty();
  const std::string endpoint_flag = f.endpoint.empty() ? "traces-url" : "endpoint";

  Loaded l = Prepare(f.common, io);
  std::vector<std::unique_ptr<std::ofstream>> files;
  auto open = [&](const std::string& flag, const std::string& path) -> std::ostream* {
    if (path.empty()) return nullptr;
    if (path == "-") return &io.out;
    auto o = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
    if (!*o) throw UsageError{absl::StrCat("--", flag, ": cannot write '", path, "'")};
    files.push_back(std::move(o));
    return files.back().get();
  };
  const size_t batch = size_t(f.batch);
  Destination span_out(otlp::OtlpSignal::kTraces,
                       StartHttp(f, f.traces_url.empty() ? endpoint_flag : "traces-url", traces_url,
                                 batch, 8 * batch, "spans"),
                       f.traces_file, open("traces-file", f.traces_file));
  Destination metric_out(otlp::OtlpSignal::kMetrics,
                         StartHttp(f, f.metrics_url.empty() ? endpoint_flag : "metrics-url",
                                   metrics_url, 50'000, 1'000'000, "data points"),
                         f.metrics_file, open("metrics-file", f.metrics_file));
  std::vector<std::pair<std::string, std::string>> resource_attrs =
      KeyValues("resource", f.resource);
  const std::string resource = otlp::EncodeOtlpResource(f.service_name, resource_attrs);

  // Spans: encoded as they are read, a request every `batch`.
  SpanOfEvent convert;
  SpanRecord span;
  std::string chunk, body;
  size_t in_chunk = 0;
  auto send_spans = [&] {
    if (in_chunk == 0) return;
    body.clear();
    otlp::AppendExportRequest(resource, chunk, body);
    span_out.Send(std::move(body), in_chunk);
    body = std::string();
    chunk.clear();
    in_chunk = 0;
  };
  // Metrics: one aggregator per window of event time.
  absl::flat_hash_map<int64_t, otlp::MetricsAggregator> windows;
  uint64_t events = 0, rollups = 0, untimed = 0;
  const bool priced = metrics && !f.no_cost;
  auto started = std::chrono::steady_clock::now();
  auto last_progress = started;
  auto progress = [&](bool last) {
    auto now = std::chrono::steady_clock::now();
    if (f.quiet || (!last && now - last_progress < std::chrono::seconds(1))) return;
    last_progress = now;
    otlp::HttpExporterStats st = span_out.stats();
    io.err << "tokmeter export: " << Count(events) << " events read";
    if (traces) {
      io.err << ", " << Count(span_out.sent()) << " spans encoded";
      if (span_out.http()) io.err << ", " << Count(st.items_exported) << " accepted";
    }
    io.err << "\n";
  };

  analysis::ReadOptions ro;
  ro.path_tags = f.common.path_tags;
  ro.since_unix_ns = l.since_ns;
  ro.until_unix_ns = l.until_ns;
  auto read = analysis::ReadInputs(l.inputs, ro, [&](const analysis::UsageEvent& e) {
    if (analysis::IsRollup(e)) {  // totals the spans already hold
      ++rollups;
      return;
    }
    ++events;
    std::string_view trace_key = convert.Make(e, span);
    if (traces) {
      otlp::AppendOtlpSpan(span, chunk, span.is_trace_root ? std::string_view() : trace_key);
      if (++in_chunk == batch) send_spans();
    }
    if (metrics) {
      if (e.time_unix_ns <= 0) {
        ++untimed;
      } else {
        const int64_t start = e.time_unix_ns - e.time_unix_ns % interval_ns;
        auto it = windows.find(start);
        if (it == windows.end()) {
          auto agg = otlp::MetricsAggregator::Make(metric_attrs, OtlpTemporality::kDelta,
                                                   size_t(f.max_series), start);
          agg->set_batch_cache(false);  // one event at a time: no batch to cache
          it = windows.emplace(start, *std::move(agg)).first;
        }
        double cost = std::numeric_limits<double>::quiet_NaN();
        if (priced) {
          if (std::optional<double> c = l.prices->Cost(e)) cost = *c;
        }
        it->second.Record(span, trace_key, cost);
      }
    }
    if ((events & 4095) == 0) progress(false);
  });
  if (!read.ok()) throw UsageError{std::string(read.status().message())};
  send_spans();

  // Metric points per window, in time order: the window's own (delta), or
  // the running totals from the first window on (cumulative).
  uint64_t points = 0;
  if (metrics && !windows.empty()) {
    std::vector<int64_t> starts;
    for (const auto& [start, agg] : windows) starts.push_back(start);
    std::sort(starts.begin(), starts.end());
    auto running = otlp::MetricsAggregator::Make(metric_attrs, OtlpTemporality::kCumulative,
                                                 size_t(f.max_series), starts.front());
    for (int64_t start : starts) {
      otlp::MetricsAggregator& w = windows.at(start);
      std::string request;
      size_t n;
      if (temporality == OtlpTemporality::kDelta) {
        n = w.Collect(resource, start + interval_ns, request);
      } else {
        running->Merge(w);
        n = running->Collect(resource, start + interval_ns, request);
      }
      windows.erase(start);
      if (n > 0) metric_out.Send(std::move(request), n);
      points += n;
    }
  }

  std::string span_failure = span_out.Close();
  std::string metric_failure = metric_out.Close();
  otlp::HttpExporterStats ss = span_out.stats(), ms = metric_out.stats();

  const uint64_t spans_lost = ss.items_failed + ss.items_dropped;
  const uint64_t points_lost = ms.items_failed + ms.items_dropped;
  if (!f.quiet) {
    io.err << "tokmeter export: " << Count(events) << " events";
    if (traces) {
      io.err << ", " << Count(span_out.sent()) << " spans";
      if (span_out.http())
        io.err << " (" << Count(ss.items_exported) << " accepted by " << traces_url << " in "
               << Count(ss.requests) << " requests)";
      if (span_out.lines())
        io.err << " (" << Count(span_out.lines()) << " lines in " << f.traces_file << ")";
    }
    if (metrics) {
      io.err << "; " << Count(points) << " metric points";
      if (metric_out.http()) io.err << " (" << Count(ms.items_exported) << " accepted)";
      if (metric_out.lines())
        io.err << " (" << Count(metric_out.lines()) << " lines in " << f.metrics_file << ")";
      if (untimed) io.err << "; " << Count(untimed) << " events without a time in no metric";
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    io.err << " in " << absl::StrCat(Round(secs, 2)) << " s\n";
  }
  if (f.common.format == "json") {
    json::object doc;
    doc["command"] = "export";
    doc["events"] = events;
    doc["rollups_skipped"] = rollups;
    json::object sp;
    sp["encoded"] = span_out.sent();
    sp["accepted"] = ss.items_exported;
    sp["lost"] = spans_lost;
    sp["requests"] = ss.requests;
    sp["retries"] = ss.retries;
    sp["lines"] = span_out.lines();
    doc["spans"] = sp;
    json::object mp;
    mp["points"] = points;
    mp["accepted"] = ms.items_exported;
    mp["lost"] = points_lost;
    mp["requests"] = ms.requests;
    mp["lines"] = metric_out.lines();
    doc["metrics"] = mp;
    doc["inputs"] = InputsJson(*read);
    io.out << json::serialize(doc) << "\n";
  }
  if (spans_lost > 0 || points_lost > 0) {
    io.err << "tokmeter export: " << Count(spans_lost) << " spans and " << Count(points_lost)
           << " metric points were not accepted";
    if (!span_failure.empty()) io.err << ": " << span_failure;
    if (!metric_failure.empty()) io.err << (span_failure.empty() ? ": " : "; ") << metric_failure;
    io.err << "\n";
    return kExitInternal;
  }
  return kExitOk;
#endif
}

}  // namespace

void Register(CommandList& list) {
  list.push_back({"export",
                  "replay logs as OpenTelemetry spans and metrics: to an OTLP/HTTP endpoint "
                  "(--endpoint) or OTLP JSON files",
                  95, &Run});
}

}  // namespace tokmeter::cli::export_cmd
