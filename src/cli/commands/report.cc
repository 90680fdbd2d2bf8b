// `tokmeter report`: the daily report — per group (workflow, agent, job or
// model) totals, the tokens-per-5-minutes distribution, the trend against the
// previous period or a previous report, findings, and details per group.
#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "src/cli/common.h"
#include "src/cli/views.h"
#include "src/model/thresholds.h"

namespace tokmeter::cli::report_cmd {
namespace {

namespace po = boost::program_options;
namespace json = boost::json;
using analysis::Agg;
using analysis::Dim;
using analysis::Group;
using analysis::StoredEvent;

std::string Cap(std::string s) {
  if (!s.empty()) s[0] = char(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

// Tokens over time for the chart: the 5-minute windows as they are for a
// period of up to two days, summed per hour up to 31 days, per day beyond
// (a week of 5-minute bars is ~2,000 unreadable bars).
Chart Timeline(const json::object& doc) {
  const auto& w = Obj(doc, "windows_5m");
  const auto& series = Arr(w, "series");
  const double span_ms = series.empty() ? 0
                                        : EpochMs(Str(series.back().get_object(), "start")) -
                                              EpochMs(Str(series.front().get_object(), "start"));
  const double hour = 3600e3, day = 24 * hour;
  double bucket = 0;
  const char* name = "5 minutes";
  if (span_ms > 31 * day) {
    bucket = day, name = "day (UTC)";
  } else if (span_ms > 2 * day) {
    bucket = hour, name = "hour";
  }
  Chart c;
  c.title = absl::StrCat("Tokens per ", name);
  c.time_axis = true;
  Chart::Series s{"tokens", {}};
  std::map<double, double> sums;
  for (const auto& pv : series) {
    const auto& p = pv.get_object();
    const double t = EpochMs(Str(p, "start"));
    sums[bucket > 0 ? t - std::fmod(t, bucket) : t] += Dbl(p, "total_tokens");
  }
  for (const auto& [t, v] : sums) s.points.emplace_back(t, v);
  c.series.push_back(std::move(s));
  if (bucket == 0) {
    c.mark_y = Dbl(w, "p95");
    c.mark_label = "p95";
  }
  return c;
}

void Render(const json::object& doc, Page& p) {
  Header(doc, Str(doc, "title"), p);
  if (Get(doc, "previous_url").is_string()) p.Link("Previous report", Str(doc, "previous_url"));
  if (NoData(doc, p)) return DataNotes(doc, p);
  const std::string by = Str(doc, "group_by");
  const auto& groups = Arr(doc, "groups");
  const auto& tot = Obj(doc, "totals");

  p.Heading("Overview");
  Table t;
  t.cols = {{Cap(by), false, true, 0, "name"},
            {"Total tokens", true, false, 0, "total_tokens"},
            {"Cost", true, false, 0, "cost_usd"},
            {"Cache hit rate", true, false, 0, "cache_hit_rate"},
            {"Runs", true, false, 3, "runs"},
            {"Requests/run", true, false, 2, "requests_per_run"},
            {"Mean duration/request", true, false, 4, "mean_request_ms"},
            {"Model mix", false, true, 1, "models"}};
  for (const auto& gv : groups) {
    const auto& g = gv.get_object();
    t.Add(
        {Cell(Str(g, "name")), NumCell(Get(g, "total_tokens")), UsdCell(Get(g, "cost_usd")),
         PercentCell(Get(g, "cache_hit_rate")), NumCell(Get(g, "runs")),
         Cell(absl::StrFormat("%.1f", Dbl(g, "requests_per_run")), Raw(Get(g, "requests_per_run"))),
         Cell(Ms(Get(g, "mean_request_ms")), Raw(Get(g, "mean_request_ms"))), Cell(ModelMix(g))});
  }
  t.AddTotal({Cell("All"), NumCell(Get(tot, "total_tokens")), UsdCell(Get(tot, "cost_usd")),
              PercentCell(Get(tot, "cache_hit_rate")), Cell(""), Cell(""),
              Cell(Ms(Get(tot, "mean_request_ms"))), Cell("")});
  p.AddTable(std::move(t), true);
  p.AddTable(TotalsTable(tot));
  const auto& w = Obj(doc, "windows_5m");
  p.Text(absl::StrCat("Tokens per 5 minutes (", Num(Get(w, "count")), " active windows): p50 ",
                      Compact(Dbl(w, "p50")), " · p95 ", Compact(Dbl(w, "p95")), " · max ",
                      Compact(Dbl(w, "max"))));
  p.AddChart(Timeline(doc));
  Chart days;
  days.title =
      absl::StrCat("Tokens per day (", Str(doc, "tz"), "), this period and the one before");
  Chart::Series ds{"tokens", {}};
  for (const auto& dv : Arr(doc, "days")) {
    days.categories.push_back(Str(dv.get_object(), "date"));
    ds.points.emplace_back(double(ds.points.size()), Dbl(dv.get_object(), "total_tokens"));
  }
  days.series.push_back(std::move(ds));
  if (days.categories.size() > 1) p.AddChart(std::move(days));
  Chart bygroup;
  bygroup.title = absl::StrCat("Tokens by ", by, " and model");
  bygroup.stack = true;
  std::map<std::string, Chart::Series> per_model;
  for (size_t i = 0; i < groups.size(); ++i) {
    const auto& g = groups[i].get_object();
    bygroup.categories.push_back(Str(g, "name"));
    for (const auto& mv : Arr(g, "models")) {
      const auto& m = mv.get_object();
      auto& s = per_model[Str(m, "model")];
      s.name = Str(m, "model");
      s.points.emplace_back(double(i), Dbl(m, "total_tokens"));
    }
  }
  for (auto& [name, s] : per_model) bygroup.series.push_back(std::move(s));
  p.AddChart(std::move(bygroup));

  p.Heading("Trend vs previous period");
  const auto& tr = Obj(doc, "trend");
  if (!Get(tr, "source").is_string()) {
    p.Text("No previous period in the data and no --previous report.");
  } else {
    p.Text(absl::StrCat("Source: ", Str(tr, "source")));
    Table tt;
    tt.cols = {{"", false, false, 0, "figure"},
               {"Now", true, false, 0, "now"},
               {"Previous", true, false, 0, "previous"},
               {"Change", true, false, 0, "change"}};
    const json::value& ch = Get(tr, "total_tokens_change");
    tt.Add({Cell("Total tokens"), NumCell(Get(tr, "total_tokens")),
            NumCell(Get(tr, "previous_total_tokens")),
            Cell(Change(ch), Raw(ch),
                 ch.is_number() && ch.to_number<double>() > 0 ? Style::kBad : Style::kGood)});
    tt.Add({Cell("Cost"), UsdCell(Get(tr, "cost_usd")), UsdCell(Get(tr, "previous_cost_usd")),
            Cell("")});
    tt.Add({Cell("Cache hit rate"), PercentCell(Get(tr, "cache_hit_rate")),
            PercentCell(Get(tr, "previous_cache_hit_rate")), Cell("")});
    p.AddTable(std::move(tt));
    Table tg;
    tg.cols = {{Cap(by), false, true, 0, "name"},
               {"Now", true, false, 0, "total_tokens"},
               {"Previous", true, false, 0, "previous_total_tokens"},
               {"Change", true, false, 0, "change"}};
    for (const auto& gv : Arr(tr, "groups")) {
      const auto& g = gv.get_object();
      const json::value& c = Get(g, "change");
      tg.Add({Cell(Str(g, "name")), NumCell(Get(g, "total_tokens")),
              NumCell(Get(g, "previous_total_tokens")),
              Cell(c.is_number() ? Change(c) : "new", Raw(c),
                   c.is_number() && c.to_number<double>() > 0 ? Style::kBad : Style::kNone)});
    }
    if (!tg.rows.empty()) p.AddTable(std::move(tg));
  }

  const auto& findings = Arr(doc, "findings");
  p.Heading("Top optimization opportunities");
  json::array top;
  for (const auto& f : findings)
    if (Str(f.get_object(), "kind") != "data_gap" &&
        int64_t(top.size()) < std::max<int64_t>(Int(doc, "top_opportunities"), 0))
      top.push_back(f);
  p.Findings(Findings(top));

  p.Heading(absl::StrCat("Details per ", by));
  for (const auto& gv : groups) {
    const auto& g = gv.get_object();
    const std::string name = Str(g, "name");
    p.DetailsBegin(absl::StrCat(by, " ", name, " — ", Compact(Dbl(g, "total_tokens")), " tokens, ",
                                Usd(Get(g, "cost_usd"))));
    p.AddTable(TotalsTable(g));
    Table mt;
    mt.cols = {
        {"Model", false, true, 0, "model"},   {"Tokens", true, false, 0, "total_tokens"},
        {"Share", true, false, 0, "share"},   {"Requests", true, false, 2, "requests"},
        {"Cost", true, false, 0, "cost_usd"}, {"Cache hit rate", true, false, 1, "cache_hit_rate"}};
    for (const auto& mv : Arr(g, "models")) {
      const auto& m = mv.get_object();
      mt.Add({Cell(Str(m, "model")), NumCell(Get(m, "total_tokens")), PercentCell(Get(m, "share")),
              NumCell(Get(m, "requests")), UsdCell(Get(m, "cost_usd")),
              PercentCell(Get(m, "cache_hit_rate"))});
    }
    p.AddTable(std::move(mt));
    json::array mine;
    const std::string subject = absl::StrCat(by, " ", name);
    for (const auto& f : findings)
      if (Str(f.get_object(), "subject") == subject) mine.push_back(f);
    if (!mine.empty()) p.Findings(Findings(mine));
    p.DetailsEnd();
  }
  if (findings.size() > top.size()) {
    // Everything the detectors found, not only the top opportunities.
    p.Heading(absl::StrCat("All findings (", findings.size(), ")"));
    p.DetailsBegin(absl::StrCat(findings.size(), " findings, by severity and tokens"));
    p.Findings(Findings(findings));
    p.DetailsEnd();
  }
  DataNotes(doc, p);
  p.Text(absl::StrCat("Generated by tokmeter at ", Str(doc, "generated_at"), "."), Style::kDim);
}

// The previous report given with --previous: its totals and groups.
struct PreviousReport {
  json::value total_tokens = nullptr, cost = nullptr, hit = nullptr, period = nullptr;
  std::map<std::string, int64_t> groups;
};

PreviousReport LoadPrevious(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw UsageError{absl::StrCat("--previous: cannot open '", path, "'")};
  std::stringstream ss;
  ss << f.rdbuf();
  boost::system::error_code ec;
  json::value pv = json::parse(ss.str(), ec);
  if (ec || !pv.is_object() || !pv.as_object().contains("totals") ||
      !pv.as_object().at("totals").is_object())
    throw UsageError{absl::StrCat("--previous: '", path, "' is not a tokmeter report JSON")};
  PreviousReport r;
  const json::object& po = pv.as_object();
  const json::object& pt = po.at("totals").as_object();
  if (pt.contains("total_tokens")) r.total_tokens = pt.at("total_tokens");
  if (pt.contains("cost_usd")) r.cost = pt.at("cost_usd");
  if (pt.contains("cache_hit_rate")) r.hit = pt.at("cache_hit_rate");
  if (po.contains("period")) r.period = po.at("period");
  for (const auto& g : Arr(po, "groups")) {
    if (!g.is_object()) continue;
    const auto& go = g.as_object();
    if (Get(go, "name").is_string() && Get(go, "total_tokens").is_int64())
      r.groups[Str(go, "name")] = Int(go, "total_tokens");
  }
  return r;
}

int Run(const std::vector<std::string>& args, Io& io) {
  CommonFlags c;
  std::string previous, previous_url;
  int top = 5;
  po::options_description d("report options");
  AddCommonFlags(d, c, kDocumentFormats);
  d.add_options()("previous", po::value(&previous), "previous report JSON, for the trend")(
      "previous-url", po::value(&previous_url), "link to the previous report")(
      "top", po::value(&top), "optimization opportunities listed (default 5)");
  if (!ParseFlags(args, d, "report", "[INPUT...]", io)) return kExitOk;
  Output out = ResolveOutput(c, kDocumentFormats, "report", io);
  Loaded l = Prepare(c, io);
  // Hold only the period reported on and the one before it; the default
  // period is the calendar day (in --tz) that "now" falls in.
  const absl::TimeZone tz = l.tz;
  auto day_of = [tz](int64_t t) {
    return absl::ToUnixNanos(analysis::StartOfDay(absl::FromUnixNanos(t), tz));
  };
  const Loaded* lp = &l;
  if (!l.since_ns && !l.until_ns) {
    l.store->KeepFrom(
        [day_of, lp](int64_t latest_ns) { return day_of(lp->NowAt(latest_ns) - 1) - kDayNs; });
  } else if (l.since_ns && l.until_ns) {
    const int64_t earliest = Minus(l.since_ns, Minus(l.until_ns, l.since_ns));
    l.store->KeepFrom([earliest](int64_t) { return earliest; });
  }
  Read(l, c, false, io);

  // Period: --since/--until, else the calendar day (in --tz) holding "now"
  // (an exclusive end, so the day of now − 1 ns). Previous period: the same
  // length just before.
  int64_t from = l.since_ns, to = l.until_ns;
  const int64_t latest = l.store->latest_ns();
  const bool any = latest != 0 || l.fixed_now_ns != 0;
  if (!from && !to) {
    if (any) {
      from = day_of(l.now_ns - 1);
      to = absl::ToUnixNanos(
          absl::FromCivil(absl::ToCivilDay(absl::FromUnixNanos(from), l.tz) + 1, l.tz));
    }
  } else {
    if (!from) from = l.store->earliest_ns();
    if (!to) to = any ? l.now_ns : 0;
  }
  // The previous period is as long as the period (a whole day by default),
  // even when a fixed "now" (--as-of, --now) ends this one early.
  const int64_t len = Minus(to, from);
  if (l.fixed_now_ns && to > l.now_ns && from < l.now_ns) to = l.now_ns;
  std::span<const StoredEvent> recs =
      from || to ? l.Select(from, to) : std::span<const StoredEvent>();
  const int64_t prev_from = Minus(from, len);
  std::span<const StoredEvent> prev =
      len > 0 && from ? l.Select(prev_from, from) : std::span<const StoredEvent>();

  json::object doc = BaseDoc("report", l, recs, from, to);
  const std::string label = PeriodLabel(doc);
  doc["title"] = absl::StrCat("Token Usage Report: ", label);
  doc["date"] = to > from && from ? json::value(DayOf(to - 1, l.tz)) : json::value(nullptr);
  doc["period_label"] = label;
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
  if (from || to)
    for (const Group& g : analysis::GroupByCalendar(*l.store, l.Select(prev_from, to),
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
    PreviousReport pr = LoadPrevious(previous);
    prev_total_tokens = pr.total_tokens;
    prev_cost = pr.cost;
    prev_hit = pr.hit;
    prev_groups = std::move(pr.groups);
    trend["source"] = "previous-report";
    trend["previous_report"] = previous;
    if (!pr.period.is_null()) trend["previous_period"] = pr.period;
    has_prev = true;
  } else if (!prev.empty() && analysis::Total(prev).events > 0) {
    Agg pa = analysis::Total(prev);
    prev_total_tokens = pa.total();
    prev_cost = CostJson(pa);
    prev_hit = Round(analysis::CacheHitRate(pa.tokens));
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
    trend["cost_usd"] = CostJson(now);
    trend["previous_cost_usd"] = prev_cost;
    trend["cache_hit_rate"] = Round(analysis::CacheHitRate(now.tokens));
    trend["previous_cache_hit_rate"] = prev_hit;
    json::array tg;
    std::map<std::string, int64_t> now_groups;
    for (const Group& g : gs) now_groups[g.key.empty() ? "(untagged)" : g.key] = g.agg.total();
    std::set<std::string> names;
    for (const auto& [k, v] : now_groups) names.insert(k);
    for (const auto& [k, v] : prev_groups) names.insert(k);
    for (const auto& name : names) {
      auto nit = now_groups.find(name);
      const int64_t nowt = nit == now_groups.end() ? 0 : nit->second;
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
  for (const analysis::Finding& f : analysis::Detect(in)) findings.push_back(FindingJson(f));
  doc["findings"] = std::move(findings);
  doc["top_opportunities"] = top;
  Emit(io, doc, out, Render);
  return kExitOk;
}

}  // namespace

void Register(CommandList& list) {
  list.push_back(
      {"report", "the daily report: per workflow (agent, job or model), trend, findings", 0, &Run});
}

}  // namespace tokmeter::cli::report_cmd
