// The `tokmeter` command (cli.h): flags, loading inputs, one JSON document
// per command, rendered in the chosen format (render.h).
#include "src/cli/cli.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/json.hpp"
#include "boost/program_options.hpp"
#include "src/analysis/aggregate.h"
#include "src/analysis/detectors.h"
#include "src/analysis/pricing.h"
#include "src/analysis/quota.h"
#include "src/analysis/reader.h"
#include "src/analysis/store.h"
#include "src/cli/render.h"
#include "src/model/thresholds.h"
#ifdef TOKMETER_CLI_HAVE_PROTO
#include "src/proto/convert.h"
#endif

namespace tokmeter::cli {
namespace {

namespace po = boost::program_options;
namespace json = boost::json;
using analysis::Agg;
using analysis::Dim;
using analysis::EventStore;
using analysis::Finding;
using analysis::Group;
using analysis::Rec;

constexpr int kExitOk = 0;
constexpr int kExitInternal = 1;
constexpr int kExitUsage = 2;
constexpr const char* kSchema = "tokmeter-report/1";
constexpr int64_t kDayNs = int64_t{86400} * 1'000'000'000;

// A usage error: message for stderr, exit 2.
struct UsageError {
  std::string message;
};

constexpr const char* kUsage = R"(usage: tokmeter <command> [options] INPUT...

Reads usage logs (files, directories, - for stdin; tokmeter JSONL,
token-usage.jsonl, turn_summary lines, Claude Code and Codex transcripts,
OTLP JSON; .gz/.zst too) and explains where the tokens went.

commands:
  report    daily token usage report (seed 001): per workflow, trend, findings
  top       top sessions/jobs/tools/models/... by tokens (--by, --window)
  spikes    tokens per window (--window 5m), p50/p95/max, spikes and their sources
  detect    findings: spike loop fanout context_bloat retry_storm background
            high_io_ratio no_cache low_cache large_run many_small_requests
            increasing data_gap
  quota     quota consumed, forecast, runs left, level (--limit 300M)
  daily     per-day totals with per-model breakdown
  monthly   per-month totals with per-model breakdown
  session   per-session totals with per-model breakdown
  convert   IN OUT: tokmeter JSONL <-> protobuf

common options:
  --format table|json|md|html  default: table on a terminal, json otherwise
  --since, --until    YYYY-MM-DD (in --tz, --until inclusive) or RFC 3339
  --tz ZONE           time zone for days and months (default UTC)
  --path-tags PATTERN e.g. 'runs/{workflow}/{run}/*'
  --pricing FILE      price table (default: the built-in data/pricing.json)
Run `tokmeter <command> --help` for the command's own options.
)";

// ---------------------------------------------------------------- helpers --

double Round(double v, int digits = 6) {
  if (!std::isfinite(v)) return 0;
  double p = std::pow(10.0, digits);
  return std::round(v * p) / p;
}

std::string Iso(int64_t ns) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixNanos(ns), absl::UTCTimeZone());
}
std::string IsoTz(int64_t ns, const absl::TimeZone& tz) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", absl::FromUnixNanos(ns), tz);
}

json::value Cost(const Agg& a) {
  if (!a.HasCost()) return nullptr;
  return Round(a.cost_usd, 6);
}

json::object TotalsJson(const Agg& a) {
  json::object o;
  o["input_tokens"] = a.tokens.input;
  o["output_tokens"] = a.tokens.output;
  o["cache_read_tokens"] = a.tokens.cache_read;
  o["cache_write_tokens"] = a.tokens.cache_write();
  o["cache_write_5m_tokens"] = a.tokens.cache_write_5m;
  o["cache_write_1h_tokens"] = a.tokens.cache_write_1h;
  o["reasoning_tokens"] = a.tokens.reasoning;
  o["total_tokens"] = a.total();
  o["requests"] = a.requests;
  o["tool_calls"] = a.tool_calls;
  o["rate_limited"] = a.rate_limited;
  o["retries"] = a.retries;
  o["errors"] = a.errors;
  o["events"] = a.events;
  o["cost_usd"] = Cost(a);
  o["unpriced_tokens"] = a.unpriced_tokens;
  o["cache_hit_rate"] = Round(analysis::CacheHitRate(a.tokens));
  o["prompt_cache_share"] = Round(analysis::PromptCacheShare(a.tokens));
  o["input_output_ratio"] = Round(analysis::InputOutputRatio(a.tokens), 3);
  o["mean_request_ms"] =
      a.MeanRequestMs() >= 0 ? json::value(Round(a.MeanRequestMs(), 3)) : json::value(nullptr);
  o["first"] = a.events ? json::value(Iso(a.first_ns)) : json::value(nullptr);
  o["last"] = a.events ? json::value(Iso(a.last_ns)) : json::value(nullptr);
  return o;
}

json::array ModelsJson(const std::map<std::string, Agg>& by_model, int64_t group_total) {
  std::vector<std::pair<std::string, const Agg*>> v;
  for (const auto& [m, a] : by_model) {
    // Tool spans and other token-less events carry no model: not a model.
    if (a.total() == 0 && a.requests == 0) continue;
    v.emplace_back(m, &a);
  }
  std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) {
    return x.second->total() != y.second->total() ? x.second->total() > y.second->total()
                                                  : x.first < y.first;
  });
  json::array out;
  for (const auto& [m, a] : v) {
    json::object o = TotalsJson(*a);
    json::object row;
    row["model"] = m.empty() ? "(unknown)" : m;
    row["share"] = group_total > 0 ? Round(double(a->total()) / double(group_total)) : 0.0;
    for (auto& kv : o) row[kv.key()] = kv.value();
    out.push_back(std::move(row));
  }
  return out;
}

json::object GroupJson(const Group& g, const char* key_name) {
  json::object o;
  o[key_name] = g.key.empty() ? "(untagged)" : g.key;
  json::object t = TotalsJson(g.agg);
  for (auto& kv : t) o[kv.key()] = kv.value();
  o["runs"] = g.runs;
  o["requests_per_run"] = g.runs > 0 ? Round(double(g.agg.requests) / double(g.runs), 3) : 0.0;
  o["models"] = ModelsJson(g.by_model, g.agg.total());
  return o;
}

json::object FindingJson(const Finding& f) {
  json::object o;
  o["kind"] = f.kind;
  o["severity"] = std::string(analysis::SeverityName(f.severity));
  o["subject"] = f.subject;
  json::object ev;
  for (const auto& [k, v] : f.evidence) {
    if (k == "fingerprint") {
      ev[k] = absl::StrFormat("%016x", static_cast<uint64_t>(v));
    } else {
      ev[k] = Round(v);
    }
  }
  o["evidence"] = std::move(ev);
  o["rule"] = f.rule;
  o["recommendation"] = f.recommendation;
  o["time"] = f.time_ns ? json::value(Iso(f.time_ns)) : json::value(nullptr);
  o["tokens"] = f.tokens;
  return o;
}

json::array TopKeysJson(const std::vector<std::pair<std::string, int64_t>>& v,
                        const char* what = "total_tokens") {
  json::array a;
  for (const auto& [k, t] : v) a.push_back(json::object{{"key", k}, {what, t}});
  return a;
}

// a − b, saturated to int64 (periods and windows near the ends of time).
int64_t Minus(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return b > 0 ? INT64_MIN : INT64_MAX;
  return r;
}

absl::StatusOr<int64_t> ParseWhen(const std::string& s, const absl::TimeZone& tz, bool until) {
  absl::Time t;
  absl::CivilDay day;
  std::string err;
  if (s.size() == 10 && absl::ParseCivilTime(s, &day)) {
    t = absl::FromCivil(until ? day + 1 : day, tz);
  } else if (!absl::ParseTime(absl::RFC3339_full, s, &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad time '", s, "' (expected YYYY-MM-DD or RFC 3339, e.g. 2026-11-23T09:00:00Z)"));
  }
  // The readers' range (docs/READERS.md), so that nanoseconds fit in int64.
  const int64_t year = absl::ToCivilYear(t, absl::UTCTimeZone()).year();
  if (year < 1900 || year > 2200) {
    return absl::InvalidArgumentError(absl::StrCat("time '", s, "' is outside years 1900-2200"));
  }
  return absl::ToUnixNanos(t);
}

int64_t ParseDurationFlag(const std::string& flag, const std::string& s) {
  absl::Duration d;
  if (s == "all") return 0;
  if (!absl::ParseDuration(s, &d) || d <= absl::ZeroDuration()) {
    throw UsageError{absl::StrCat("--", flag, ": bad duration '", s, "' (e.g. 5m, 1h, 24h)")};
  }
  if (d > absl::Hours(24 * 366 * 100)) {
    throw UsageError{absl::StrCat("--", flag, ": duration '", s, "' is over 100 years")};
  }
  return absl::ToInt64Nanoseconds(d);
}

// ----------------------------------------------------------------- options --

struct Common {
  std::vector<std::string> inputs;
  std::string format;
  std::string since, until, tz = "UTC", path_tags, pricing;
};

void AddCommon(po::options_description& d, Common& c) {
  d.add_options()("help,h", "show this help")(
      "format,f", po::value(&c.format), "table | json | md | html")("since", po::value(&c.since),
                                                                    "YYYY-MM-DD or RFC 3339")(
      "until", po::value(&c.until), "YYYY-MM-DD (inclusive) or RFC 3339 (exclusive)")(
      "tz", po::value(&c.tz), "time zone (default UTC)")("path-tags", po::value(&c.path_tags),
                                                         "e.g. 'runs/{workflow}/{run}/*'")(
      "pricing", po::value(&c.pricing), "price table JSON file")(
      "input", po::value(&c.inputs)->multitoken(), "input files, directories, -");
}

// Parses `args` (after the command name) into `desc`; positional arguments go
// to "input". Returns false when --help was given (help printed).
bool Parse(const std::vector<std::string>& args, po::options_description& desc,
           const std::string& command, std::ostream& out, const char* positional = "input") {
  po::positional_options_description pos;
  pos.add(positional, -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError{absl::StrCat(command, ": ", e.what())};
  }
  if (vm.count("help")) {
    out << "usage: tokmeter " << command << " [options] INPUT...\n" << desc;
    return false;
  }
  return true;
}

Format ResolveFormat(const std::string& f, std::ostream& out, bool html_ok) {
  if (f.empty()) {
    bool tty = &out == &std::cout && isatty(STDOUT_FILENO);
    return tty ? Format::kTable : Format::kJson;
  }
  if (f == "table") return Format::kTable;
  if (f == "json") return Format::kJson;
  if (f == "md" || f == "markdown") return Format::kMarkdown;
  if (f == "html") {
    if (!html_ok) throw UsageError{"--format html is available for `report` only"};
    return Format::kHtml;
  }
  throw UsageError{absl::StrCat("--format: unknown format '", f, "' (table|json|md|html)")};
}

// ------------------------------------------------------------------ loading --

struct Loaded {
  std::optional<analysis::PriceTable> user_prices;
  const analysis::PriceTable* prices = nullptr;
  std::unique_ptr<EventStore> store;
  analysis::ReadResult read;
  absl::TimeZone tz;
  std::string tz_name;
  int64_t since_ns = 0, until_ns = 0;  // from the flags; 0 = unbounded
};

// Parses the common flags and makes the store; the command then says how the
// store treats records (StreamTo / KeepFrom, store.h) and calls Read().
Loaded Prepare(const Common& c) {
  Loaded l;
  l.tz_name = c.tz;
  if (!absl::LoadTimeZone(c.tz, &l.tz))
    throw UsageError{absl::StrCat("--tz: unknown time zone '", c.tz, "'")};
  if (!c.since.empty()) {
    auto t = ParseWhen(c.since, l.tz, false);
    if (!t.ok()) throw UsageError{absl::StrCat("--since: ", t.status().message())};
    l.since_ns = *t;
  }
  if (!c.until.empty()) {
    auto t = ParseWhen(c.until, l.tz, true);
    if (!t.ok()) throw UsageError{absl::StrCat("--until: ", t.status().message())};
    l.until_ns = *t;
  }
  if (l.since_ns && l.until_ns && l.since_ns >= l.until_ns)
    throw UsageError{"--since is not before --until"};
  if (!c.pricing.empty()) {
    auto t = analysis::PriceTable::LoadFile(c.pricing);
    if (!t.ok()) throw UsageError{absl::StrCat("--pricing: ", t.status().message())};
    l.user_prices = std::move(*t);
    l.prices = &*l.user_prices;
  } else {
    l.prices = &analysis::PriceTable::Builtin();
  }
  if (c.inputs.empty()) throw UsageError{"no inputs: give files, directories, or - for stdin"};
  const analysis::PriceTable* prices = l.prices;
  l.store = std::make_unique<EventStore>(
      [prices](const analysis::UsageEvent& e) { return prices->Cost(e); });
  return l;
}

// Reads the inputs into l.store. `filter` passes --since/--until to the
// reader (commands that need data outside the range, like report's previous
// period, pass false and select ranges themselves).
void Read(const Common& c, Loaded& l, bool filter, std::ostream& err) {
  analysis::ReadOptions ro;
  ro.path_tags = c.path_tags;
  if (filter) {
    ro.since_unix_ns = l.since_ns;
    ro.until_unix_ns = l.until_ns;
  }
  // Progress on stderr: only on a terminal and only after one second.
  const bool tty = &err == &std::cerr && isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  int64_t n = 0;
  bool progress_shown = false;
  EventStore* store = l.store.get();
  auto read = analysis::ReadInputs(c.inputs, ro, [&](const analysis::UsageEvent& e) {
    store->Add(e);
    if (tty && (++n & 0xffff) == 0) {
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (s > 1.0) {
        err << "\rtokmeter: " << n << " events read…" << std::flush;
        progress_shown = true;
      }
    }
  });
  if (progress_shown) err << "\r\033[K" << std::flush;
  if (!read.ok()) throw UsageError{std::string(read.status().message())};
  l.read = std::move(*read);
  l.store->Finish();
}

// Prepare + Read, keeping every record (detect).
Loaded Load(const Common& c, bool filter, std::ostream& err) {
  Loaded l = Prepare(c);
  Read(c, l, filter, err);
  return l;
}

json::array InputsJson(const analysis::ReadResult& r) {
  json::array a;
  for (const auto& s : r.inputs) {
    json::array bad;
    for (int64_t b : s.first_bad_lines) bad.push_back(b);
    a.push_back(json::object{{"path", s.path},
                             {"format", s.format},
                             {"bytes", s.bytes},
                             {"lines", s.lines},
                             {"records", s.records},
                             {"skipped_lines", s.skipped_lines},
                             {"first_bad_lines", std::move(bad)},
                             {"duplicates", s.duplicates},
                             {"dropped_records", s.dropped_records},
                             {"empty", s.empty}});
  }
  return a;
}

// The parts every command's document has.
json::object BaseDoc(const std::string& command, const Loaded& l, const analysis::Summary& sum,
                     int64_t from_ns, int64_t to_ns) {
  json::object d;
  d["schema"] = kSchema;
  d["command"] = command;
  d["generated_at"] = Iso(absl::ToUnixNanos(absl::Now()));
  d["tz"] = l.tz_name;
  d["period"] =
      json::object{{"since", from_ns ? json::value(IsoTz(from_ns, l.tz)) : json::value(nullptr)},
                   {"until", to_ns ? json::value(IsoTz(to_ns, l.tz)) : json::value(nullptr)}};
  d["inputs"] = InputsJson(l.read);
  json::array empty, bad;
  for (const auto& s : l.read.inputs) {
    if (s.empty || s.records == 0) empty.push_back(json::value(s.path));
    if (s.skipped_lines > 0) bad.push_back(json::value(s.path));
  }
  d["empty_inputs"] = std::move(empty);
  d["inputs_with_bad_lines"] = std::move(bad);
  d["no_data"] = sum.total.events == 0;
  d["totals"] = TotalsJson(sum.total);
  json::array unpriced;
  for (const auto& m : sum.UnpricedModels(*l.store)) unpriced.push_back(json::value(m));
  d["unpriced_models"] = std::move(unpriced);
  return d;
}
json::object BaseDoc(const std::string& command, const Loaded& l, std::span<const Rec> recs,
                     int64_t from_ns, int64_t to_ns) {
  return BaseDoc(command, l, analysis::Summarize(recs), from_ns, to_ns);
}

void Emit(std::ostream& out, const json::object& doc, Format f) {
  switch (f) {
    case Format::kJson:
      WriteJson(out, doc);
      break;
    case Format::kMarkdown:
      WriteText(out, doc, true);
      break;
    case Format::kTable:
      WriteText(out, doc, false);
      break;
    case Format::kHtml:
      WriteHtml(out, doc);
      break;
  }
}

std::span<const Rec> Select(const Loaded& l, int64_t from, int64_t to) {
  return l.store->Range(from, to);
}

// ----------------------------------------------------------------- commands --

int CmdReport(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Common c;
  std::string previous, previous_url;
  int top = 5;
  po::options_description d("report options");
  AddCommon(d, c);
  d.add_options()("previous", po::value(&previous), "previous report JSON, for the trend")(
      "previous-url", po::value(&previous_url), "link to the previous report")(
      "top", po::value(&top), "optimization opportunities listed (default 5)");
  if (!Parse(args, d, "report", out)) return kExitOk;
  Format fmt = ResolveFormat(c.format, out, true);
  Loaded l = Prepare(c);
  // Hold only the period reported on and the one before it (below); the
  // default period is the calendar day (in --tz) of the latest event.
  const absl::TimeZone tz = l.tz;
  auto day_of = [tz](int64_t t) {
    return absl::ToUnixNanos(analysis::StartOfDay(absl::FromUnixNanos(t), tz));
  };
  if (!l.since_ns && !l.until_ns) {
    l.store->KeepFrom([day_of](int64_t latest_ns) { return day_of(latest_ns) - kDayNs; });
  } else if (l.since_ns && l.until_ns) {
    const int64_t earliest = Minus(l.since_ns, Minus(l.until_ns, l.since_ns));
    l.store->KeepFrom([earliest](int64_t) { return earliest; });
  }
  Read(c, l, false, err);

  // Period: --since/--until, else the calendar day (in --tz) of the latest
  // event. Previous period: the same length just before.
  int64_t from = l.since_ns, to = l.until_ns;
  const int64_t latest = l.store->latest_ns();
  if (!from && !to && latest) {
    from = day_of(latest);
    to = from + kDayNs;
  } else {
    if (!from) from = l.store->earliest_ns();
    if (!to) to = latest + 1;
  }
  std::span<const Rec> recs = Select(l, from, to);
  const int64_t len = Minus(to, from);
  const int64_t prev_from = Minus(from, len);
  std::span<const Rec> prev = len > 0 ? Select(l, prev_from, from) : std::span<const Rec>();

  json::object doc = BaseDoc("report", l, recs, from, to);
  int64_t title_ns = to > from ? to - 1 : absl::ToUnixNanos(absl::Now());
  if (!latest) title_ns = absl::ToUnixNanos(absl::Now());
  std::string date = absl::FormatTime("%Y-%m-%d", absl::FromUnixNanos(title_ns), l.tz);
  doc["title"] = absl::StrCat("Token Usage Report: ", date);
  doc["date"] = date;
  doc["previous_url"] = previous_url.empty() ? json::value(nullptr) : json::value(previous_url);

  const Dim dim = analysis::PrimaryDim(recs);
  doc["group_by"] = std::string(analysis::DimName(dim));
  json::array groups;
  std::vector<Group> gs = analysis::GroupBy(*l.store, recs, dim);
  for (const Group& g : gs) groups.push_back(GroupJson(g, "name"));
  doc["groups"] = std::move(groups);

  // North star: tokens per 5 minutes.
  std::vector<analysis::Window> w5 = analysis::Windows(recs, thresholds::kDefaultWindowNs);
  analysis::Distribution dist = analysis::WindowDistribution(w5);
  json::array series;
  for (const auto& w : w5)
    series.push_back(json::object{{"start", Iso(w.start_ns)}, {"total_tokens", w.agg.total()}});
  doc["windows_5m"] = json::object{{"count", dist.count},
                                   {"p50", Round(dist.p50, 1)},
                                   {"p95", Round(dist.p95, 1)},
                                   {"max", Round(dist.max, 1)},
                                   {"series", std::move(series)}};
  json::array days;
  for (const Group& g : analysis::GroupByCalendar(*l.store, Select(l, prev_from, to),
                                                  analysis::Calendar::kDay, l.tz))
    days.push_back(json::object{{"date", g.key}, {"total_tokens", g.agg.total()}});
  doc["days"] = std::move(days);

  // Trend: from --previous, else from the data before the period.
  json::object trend;
  Agg now = analysis::Total(recs);
  std::map<std::string, int64_t> prev_groups;
  bool has_prev = false;
  json::value prev_total_tokens = nullptr, prev_cost = nullptr, prev_hit = nullptr;
  if (!previous.empty()) {
    std::ifstream f(previous);
    if (!f) throw UsageError{absl::StrCat("--previous: cannot open '", previous, "'")};
    std::stringstream ss;
    ss << f.rdbuf();
    boost::system::error_code ec;
    json::value pv = json::parse(ss.str(), ec);
    if (ec || !pv.is_object() || !pv.as_object().contains("totals")) {
      throw UsageError{absl::StrCat("--previous: '", previous, "' is not a tokmeter report JSON")};
    }
    const json::object& po = pv.as_object();
    const json::object& pt = po.at("totals").as_object();
    if (pt.contains("total_tokens")) prev_total_tokens = pt.at("total_tokens");
    if (pt.contains("cost_usd")) prev_cost = pt.at("cost_usd");
    if (pt.contains("cache_hit_rate")) prev_hit = pt.at("cache_hit_rate");
    if (po.contains("groups") && po.at("groups").is_array()) {
      for (const auto& g : po.at("groups").as_array()) {
        if (!g.is_object()) continue;
        const auto& go = g.as_object();
        if (go.contains("name") && go.at("name").is_string() && go.contains("total_tokens") &&
            go.at("total_tokens").is_int64())
          prev_groups[std::string(go.at("name").as_string())] = go.at("total_tokens").as_int64();
      }
    }
    trend["source"] = "previous-report";
    trend["previous_report"] = previous;
    if (po.contains("period")) trend["previous_period"] = po.at("period");
    has_prev = true;
  } else if (!prev.empty() && analysis::Total(prev).events > 0) {
    Agg p = analysis::Total(prev);
    prev_total_tokens = p.total();
    prev_cost = Cost(p);
    prev_hit = Round(analysis::CacheHitRate(p.tokens));
    for (const Group& g : analysis::GroupBy(*l.store, prev, dim))
      prev_groups[g.key.empty() ? "(untagged)" : g.key] = g.agg.total();
    trend["source"] = "data";
    trend["previous_period"] =
        json::object{{"since", IsoTz(prev_from, l.tz)}, {"until", IsoTz(from, l.tz)}};
    has_prev = true;
  } else {
    trend["source"] = nullptr;
  }
  if (has_prev) {
    auto change = [](double a, const json::value& b) -> json::value {
      if (!b.is_number()) return nullptr;
      double bv = b.to_number<double>();
      return bv != 0 ? json::value(Round((a - bv) / bv)) : json::value(nullptr);
    };
    trend["total_tokens"] = now.total();
    trend["previous_total_tokens"] = prev_total_tokens;
    trend["total_tokens_change"] = change(double(now.total()), prev_total_tokens);
    trend["cost_usd"] = Cost(now);
    trend["previous_cost_usd"] = prev_cost;
    trend["cache_hit_rate"] = Round(analysis::CacheHitRate(now.tokens));
    trend["previous_cache_hit_rate"] = prev_hit;
    json::array tg;
    std::set<std::string> names;
    for (const Group& g : gs) names.insert(g.key.empty() ? "(untagged)" : g.key);
    for (const auto& [k, v] : prev_groups) names.insert(k);
    for (const auto& name : names) {
      int64_t nowt = 0;
      for (const Group& g : gs)
        if ((g.key.empty() ? "(untagged)" : g.key) == name) nowt = g.agg.total();
      auto it = prev_groups.find(name);
      json::value pt = it == prev_groups.end() ? json::value(nullptr) : json::value(it->second);
      tg.push_back(json::object{{"name", name},
                                {"total_tokens", nowt},
                                {"previous_total_tokens", pt},
                                {"change", change(double(nowt), pt)}});
    }
    trend["groups"] = std::move(tg);
  }
  doc["trend"] = std::move(trend);

  analysis::DetectInput in;
  in.store = l.store.get();
  in.recs = recs;
  in.previous = prev;
  in.has_previous = !prev.empty();
  if (!previous.empty()) in.previous_group_tokens = &prev_groups;  // the report given wins
  in.inputs = &l.read.inputs;
  json::array findings;
  for (const Finding& f : analysis::Detect(in)) findings.push_back(FindingJson(f));
  doc["findings"] = std::move(findings);
  doc["top_opportunities"] = top;
  Emit(out, doc, fmt);
  return kExitOk;
}

int CmdDetect(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Common c;
  std::string window = "5m";
  po::options_description d("detect options");
  AddCommon(d, c);
  d.add_options()("window", po::value(&window), "spike/retry-storm window (default 5m)");
  if (!Parse(args, d, "detect", out)) return kExitOk;
  Format fmt = ResolveFormat(c.format, out, false);
  int64_t w = ParseDurationFlag("window", window);
  if (w == 0) throw UsageError{"--window: must be a duration"};
  Loaded l = Load(c, true, err);
  std::span<const Rec> recs = Select(l, l.since_ns, l.until_ns);
  json::object doc = BaseDoc("detect", l, recs, l.since_ns, l.until_ns);
  analysis::DetectInput in;
  in.store = l.store.get();
  in.recs = recs;
  in.inputs = &l.read.inputs;
  in.window_ns = w;
  json::array findings;
  for (const Finding& f : analysis::Detect(in)) findings.push_back(FindingJson(f));
  doc["findings"] = std::move(findings);
  Emit(out, doc, fmt);
  return kExitOk;
}

int CmdTop(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Common c;
  std::string by = "session", window = "24h";
  int limit = 20;
  po::options_description d("top options");
  AddCommon(d, c);
  d.add_options()("by", po::value(&by),
                  "session|job|tool|model|workflow|user|channel|agent|provider|run")(
      "window", po::value(&window),
      "last 1h | 24h | all (default 24h), ending at --until or the last event")(
      "limit", po::value(&limit), "rows (default 20)");
  if (!Parse(args, d, "top", out)) return kExitOk;
  Format fmt = ResolveFormat(c.format, out, false);
  std::optional<Dim> dim = analysis::ParseDim(by);
  if (!dim) throw UsageError{absl::StrCat("--by: unknown dimension '", by, "'")};
  int64_t w = ParseDurationFlag("window", window);
  Loaded l = Prepare(c);
  l.store->WithoutDetectorFields();  // groupings only
  // --window all: group while reading. A window ending at the last event:
  // hold only the records that can still fall in it.
  analysis::Summary sum;
  analysis::Grouper grouper(*l.store, *dim);
  const int64_t until = l.until_ns;
  if (w == 0) {
    l.store->StreamTo([&](const Rec& r) {
      sum.Add(r);
      grouper.Add(r);
    });
  } else {
    l.store->KeepFrom(
        [until, w](int64_t latest_ns) { return Minus(until ? until : latest_ns + 1, w); });
  }
  Read(c, l, true, err);
  const int64_t latest = l.store->latest_ns();
  int64_t to = l.until_ns ? l.until_ns : (latest ? latest + 1 : 0);
  int64_t from = w && to ? std::max(Minus(to, w), l.since_ns) : l.since_ns;
  if (w != 0) {
    std::span<const Rec> recs = Select(l, from, to);
    sum = analysis::Summarize(recs);
    for (const Rec& r : recs) grouper.Add(r);
  }
  json::object doc = BaseDoc("top", l, sum, from, to);
  doc["by"] = std::string(analysis::DimName(*dim));
  doc["window"] = window;
  json::array rows;
  int n = 0;
  for (const Group& g : grouper.Take()) {
    if (n++ >= limit) break;
    rows.push_back(GroupJson(g, "key"));
  }
  doc["rows"] = std::move(rows);
  Emit(out, doc, fmt);
  return kExitOk;
}

int CmdSpikes(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Common c;
  std::string window = "5m";
  po::options_description d("spikes options");
  AddCommon(d, c);
  d.add_options()("window", po::value(&window), "window width (default 5m)");
  if (!Parse(args, d, "spikes", out)) return kExitOk;
  Format fmt = ResolveFormat(c.format, out, false);
  int64_t w = ParseDurationFlag("window", window);
  if (w == 0) throw UsageError{"--window: must be a duration"};
  Loaded l = Prepare(c);
  l.store->WithoutDetectorFields();  // groupings only
  analysis::Summary sum;
  analysis::SpikeFinder finder(*l.store, w);
  l.store->StreamTo([&](const Rec& r) {
    sum.Add(r);
    finder.Add(r);
  });
  Read(c, l, true, err);
  json::object doc = BaseDoc("spikes", l, sum, l.since_ns, l.until_ns);
  analysis::SpikeReport rep = finder.Take();
  doc["window"] = window;
  doc["window_seconds"] = w / 1'000'000'000;
  doc["distribution"] = json::object{{"windows", rep.dist.count},
                                     {"p50", Round(rep.dist.p50, 1)},
                                     {"p95", Round(rep.dist.p95, 1)},
                                     {"max", Round(rep.dist.max, 1)},
                                     {"mean", Round(rep.dist.mean, 1)}};
  json::array windows;
  for (const auto& win : rep.windows)
    windows.push_back(
        json::object{{"start", Iso(win.start_ns)},
                     {"total_tokens", win.agg.total()},
                     {"requests", win.agg.requests},
                     {"rate_limited", win.agg.rate_limited},
                     {"spike", analysis::IsSpike(double(win.agg.total()), rep.dist)}});
  doc["windows"] = std::move(windows);
  json::array spikes;
  for (const auto& s : rep.spikes)
    spikes.push_back(json::object{{"start", Iso(s.window.start_ns)},
                                  {"total_tokens", s.window.agg.total()},
                                  {"median_multiple", Round(s.median_multiple, 2)},
                                  {"requests", s.window.agg.requests},
                                  {"rate_limited", s.window.agg.rate_limited},
                                  {"top_sessions", TopKeysJson(s.top_sessions)},
                                  {"top_jobs", TopKeysJson(s.top_jobs)},
                                  {"top_tools", TopKeysJson(s.top_tools, "tool_calls")}});
  doc["spikes"] = std::move(spikes);
  Emit(out, doc, fmt);
  return kExitOk;
}

int CmdQuota(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Common c;
  std::string limit, period = "month", as_of;
  po::options_description d("quota options");
  AddCommon(d, c);
  d.add_options()("limit", po::value(&limit), "quota per period, e.g. 300M (required)")(
      "period", po::value(&period), "day | week | month (default month)")(
      "as-of", po::value(&as_of),
      "'now' for the forecast (RFC 3339; default: now, or the last event if later)");
  if (!Parse(args, d, "quota", out)) return kExitOk;
  Format fmt = ResolveFormat(c.format, out, false);
  if (limit.empty()) throw UsageError{"quota: --limit is required (e.g. --limit 300M)"};
  auto lim = analysis::ParseTokenCount(limit);
  if (!lim.ok()) throw UsageError{absl::StrCat("--limit: ", lim.status().message())};
  auto per = analysis::ParseQuotaPeriod(period);
  if (!per.ok()) throw UsageError{absl::StrCat("--period: ", per.status().message())};
  Loaded l = Prepare(c);
  l.store->WithoutDetectorFields();  // groupings only
  // "Now": --as-of, else --until, else the clock (or just after the last
  // event when that is later).
  const int64_t clock_ns = absl::ToUnixNanos(absl::Now());
  int64_t fixed_now = l.until_ns;
  if (!as_of.empty()) {
    auto t = ParseWhen(as_of, l.tz, false);
    if (!t.ok()) throw UsageError{absl::StrCat("--as-of: ", t.status().message())};
    fixed_now = *t;
  }
  auto now_at = [fixed_now, clock_ns](int64_t latest_ns) {
    return fixed_now ? fixed_now : std::max(clock_ns, latest_ns + 1);
  };
  analysis::QuotaOptions o;
  o.limit = *lim;
  o.period = *per;
  o.tz = l.tz;
  // Hold only what the quota figures read (period and last 14 days).
  l.store->KeepFrom([o, now_at](int64_t latest_ns) mutable {
    o.as_of = absl::FromUnixNanos(now_at(latest_ns));
    return analysis::QuotaEarliestNs(o);
  });
  Read(c, l, false, err);
  const int64_t now = now_at(l.store->latest_ns());
  o.as_of = absl::FromUnixNanos(now);
  analysis::QuotaStatus q = analysis::ComputeQuota(*l.store, o);
  std::span<const Rec> recs = Select(l, absl::ToUnixNanos(q.period_start), now);
  json::object doc = BaseDoc("quota", l, recs, absl::ToUnixNanos(q.period_start), now);
  auto opt = [](const std::optional<double>& v) {
    return v ? json::value(Round(*v)) : json::value(nullptr);
  };
  json::array alerts;
  for (double a : q.alerts)
    alerts.push_back(
        json::object{{"threshold", a},
                     {"message", absl::StrFormat("%.0f%% of the %s quota consumed", a * 100,
                                                 std::string(analysis::QuotaPeriodName(*per)))}});
  doc["quota"] = json::object{
      {"limit", q.limit},
      {"period", std::string(analysis::QuotaPeriodName(*per))},
      {"period_start", IsoTz(absl::ToUnixNanos(q.period_start), l.tz)},
      {"period_end", IsoTz(absl::ToUnixNanos(q.period_end), l.tz)},
      {"as_of", IsoTz(now, l.tz)},
      {"consumed", q.consumed},
      {"share_used", Round(q.share_used)},
      {"share_left", Round(q.share_left)},
      {"elapsed_days", Round(q.elapsed_days, 3)},
      {"remaining_days", Round(q.remaining_days, 3)},
      {"daily_average", Round(q.daily_average, 1)},
      {"forecast", q.forecast},
      {"forecast_share", Round(q.forecast_share)},
      {"will_exceed", q.will_exceed},
      {"runs_7d", q.runs_7d},
      {"mean_tokens_per_run_7d", Round(q.mean_tokens_per_run_7d, 1)},
      {"runs_left", q.runs_left >= 0 ? json::value(q.runs_left) : json::value(nullptr)},
      {"cache_hit_rate_7d", opt(q.cache_hit_rate_7d)},
      {"cache_hit_rate_prev_7d", opt(q.cache_hit_rate_prev_7d)},
      {"prompt_cache_share_7d", opt(q.prompt_cache_share_7d)},
      {"prompt_cache_share_prev_7d", opt(q.prompt_cache_share_prev_7d)},
      {"alerts", std::move(alerts)},
      {"level", q.level}};
  Emit(out, doc, fmt);
  return kExitOk;
}

int CmdCalendar(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                const std::string& command) {
  Common c;
  po::options_description d(command + " options");
  AddCommon(d, c);
  if (!Parse(args, d, command, out)) return kExitOk;
  Format fmt = ResolveFormat(c.format, out, false);
  Loaded l = Prepare(c);
  l.store->WithoutDetectorFields();  // groupings only
  // Grouped while reading: memory grows with days (months, sessions), not
  // with events.
  const char* key = command == "session" ? "session" : command == "daily" ? "date" : "month";
  analysis::Grouper grouper =
      command == "session"
          ? analysis::Grouper(*l.store, Dim::kSession)
          : analysis::Grouper(
                *l.store,
                command == "daily" ? analysis::Calendar::kDay : analysis::Calendar::kMonth, l.tz);
  analysis::Summary sum;
  l.store->StreamTo([&](const Rec& r) {
    sum.Add(r);
    grouper.Add(r);
  });
  Read(c, l, true, err);
  json::object doc = BaseDoc(command, l, sum, l.since_ns, l.until_ns);
  json::array rows;
  for (const Group& g : grouper.Take()) rows.push_back(GroupJson(g, key));
  doc["rows"] = std::move(rows);
  Emit(out, doc, fmt);
  return kExitOk;
}

int CmdConvert(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> files;
  po::options_description d("convert options");
  d.add_options()("help,h", "show this help")("file", po::value(&files)->multitoken(), "IN OUT");
  if (!Parse(args, d, "convert", out, "file")) return kExitOk;
  if (files.size() != 2) throw UsageError{"convert: expected IN OUT"};
#ifdef TOKMETER_CLI_HAVE_PROTO
  absl::Status s = tokmeter::proto::Convert(files[0], files[1]);
  if (!s.ok()) {
    err << "tokmeter convert: " << s.message() << "\n";
    return kExitUsage;
  }
  return kExitOk;
#else
  err << "tokmeter convert: protobuf support was not built (configure with protobuf and "
         "TOKMETER_BUILD_PROTO=ON)\n";
  return kExitUsage;
#endif
}

int Dispatch(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << kUsage;
    return kExitUsage;
  }
  const std::string& cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    out << kUsage;
    return kExitOk;
  }
  if (cmd == "report") return CmdReport(rest, out, err);
  if (cmd == "detect") return CmdDetect(rest, out, err);
  if (cmd == "top") return CmdTop(rest, out, err);
  if (cmd == "spikes") return CmdSpikes(rest, out, err);
  if (cmd == "quota") return CmdQuota(rest, out, err);
  if (cmd == "daily" || cmd == "monthly" || cmd == "session")
    return CmdCalendar(rest, out, err, cmd);
  if (cmd == "convert") return CmdConvert(rest, out, err);
  err << "tokmeter: unknown command '" << cmd << "'\n\n" << kUsage;
  return kExitUsage;
}

}  // namespace

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  try {
    return Dispatch(args, out, err);
  } catch (const UsageError& e) {
    err << "tokmeter: " << e.message << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    err << "tokmeter: internal error: " << e.what() << "\n";
    return kExitInternal;
  } catch (...) {
    err << "tokmeter: internal error\n";
    return kExitInternal;
  }
}

}  // namespace tokmeter::cli
