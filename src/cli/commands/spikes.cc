// `tokmeter spikes`: tokens per fixed window, each judged by the spike rule
// against the windows before it, and the spike episodes with their top
// sources. Streams while reading.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/cli/common.h"
#include "src/cli/views.h"
#include "src/model/thresholds.h"

namespace tokmeter::cli::spikes_cmd {
namespace {

namespace po = boost::program_options;
namespace json = boost::json;
using analysis::StoredEvent;

json::array TopKeysJson(const std::vector<std::pair<std::string, int64_t>>& v,
                        const char* what = "total_tokens") {
  json::array a;
  for (const auto& [k, t] : v) a.push_back(json::object{{"key", k}, {what, t}});
  return a;
}

std::string Tops(const json::array& a) {
  std::string s;
  for (const auto& x : a) {
    const auto& o = x.get_object();
    absl::StrAppend(&s, s.empty() ? "" : ", ", Str(o, "key"), " ",
                    o.contains("tool_calls") ? absl::StrCat(Int(o, "tool_calls"), " calls")
                                             : Compact(double(Int(o, "total_tokens"))));
  }
  return s.empty() ? std::string("–") : s;
}

void Render(const json::object& doc, Page& p) {
  Header(doc, absl::StrCat("Tokens per ", Str(doc, "window"), " window: ", PeriodLabel(doc)), p);
  if (NoData(doc, p)) return DataNotes(doc, p);
  const auto& d = Obj(doc, "distribution");
  p.Text(absl::StrCat(Num(Get(d, "windows")), " active windows: p50 ", Compact(Dbl(d, "p50")),
                      " · p95 ", Compact(Dbl(d, "p95")), " · max ", Compact(Dbl(d, "max"))));
  Chart c;
  c.title = absl::StrCat("Tokens per ", Str(doc, "window"), " window (UTC)");
  c.time_axis = true;
  c.mark_y = Dbl(d, "p95");
  c.mark_label = "p95";
  Chart::Series s{"tokens", {}};
  for (const auto& wv : Arr(doc, "windows")) {
    const auto& w = wv.get_object();
    s.points.emplace_back(EpochMs(Str(w, "start")), Dbl(w, "total_tokens"));
  }
  c.series.push_back(std::move(s));
  p.AddChart(std::move(c));
  p.Heading("Spikes");
  Table t;
  t.cols = {{"Start (UTC)", false, false, 0, "start"},
            {"End", false, false, 3, "end"},
            {"Tokens", true, false, 0, "total_tokens"},
            {"× median", true, false, 0, "median_multiple"},
            {"Requests", true, false, 3, "requests"},
            {"429s", true, false, 4, "rate_limited"},
            {"Top sessions", false, true, 0, "top_sessions"},
            {"Top jobs", false, true, 2, "top_jobs"},
            {"Top tools", false, true, 1, "top_tools"}};
  for (const auto& sv : Arr(doc, "spikes")) {
    const auto& s = sv.get_object();
    t.Add({Cell(Str(s, "start")), Cell(Str(s, "end")), NumCell(Get(s, "total_tokens")),
           Cell(absl::StrFormat("%.1f", Dbl(s, "median_multiple")), Raw(Get(s, "median_multiple"))),
           NumCell(Get(s, "requests")), NumCell(Get(s, "rate_limited")),
           Cell(Tops(Arr(s, "top_sessions"))), Cell(Tops(Arr(s, "top_jobs"))),
           Cell(Tops(Arr(s, "top_tools")))},
          Style::kWarning);
  }
  if (t.rows.empty())
    p.Text("No spikes.");
  else
    p.AddTable(std::move(t));
  // CSV: every window.
  Table all;
  all.cols = {{"Window start (UTC)", false, false, 0, "start"},
              {"Tokens", true, false, 0, "total_tokens"},
              {"Requests", true, false, 0, "requests"},
              {"429s", true, false, 0, "rate_limited"},
              {"Spike", false, false, 0, "spike"}};
  for (const auto& wv : Arr(doc, "windows")) {
    const auto& w = wv.get_object();
    all.Add({Cell(Str(w, "start")), NumCell(Get(w, "total_tokens")), NumCell(Get(w, "requests")),
             NumCell(Get(w, "rate_limited")),
             Cell(Bool(w, "spike") ? "spike" : "", Raw(Get(w, "spike")))});
  }
  p.Heading("Windows");
  p.AddTable(std::move(all), true);
  DataNotes(doc, p);
}

int Run(const std::vector<std::string>& args, Io& io) {
  CommonFlags c;
  std::string window = "5m";
  po::options_description d("spikes options");
  AddCommonFlags(d, c, kTabularFormats);
  d.add_options()("window", po::value(&window), "window width (default 5m)");
  if (!ParseFlags(args, d, "spikes", "[INPUT...]", io)) return kExitOk;
  Output out = ResolveOutput(c, kTabularFormats, "spikes", io);
  const int64_t w = ParseDurationFlag("window", window);
  if (w == 0) throw UsageError{"--window: must be a duration"};
  Loaded l = Prepare(c, io);
  l.store->WithoutDetectorFields();  // groupings only
  analysis::Summary sum;
  rules::RuleOptions ro;
  ro.window_ns = w;
  rules::SpikeRule rule(ro);  // the spike rule of `detect` and the live monitor
  l.store->StreamTo([&](const StoredEvent& r) {
    sum.Add(r);
    rule.Observe(analysis::ToObservation(r, *l.store), nullptr);
  });
  Read(l, c, true, io);
  json::object doc = BaseDoc("spikes", l, sum, l.since_ns, l.until_ns);
  doc["window"] = window;
  doc["window_seconds"] = w / kSecondNs;
  std::vector<rules::WindowView> views = rule.Windows(0, 0);
  std::vector<double> totals;
  for (const auto& v : views) totals.push_back(double(v.tokens));
  analysis::Distribution dist = analysis::Distribute(totals);
  doc["distribution"] = json::object{{"windows", dist.count},
                                     {"p50", Round(dist.p50, 1)},
                                     {"p95", Round(dist.p95, 1)},
                                     {"max", Round(dist.max, 1)},
                                     {"mean", Round(dist.mean, 1)}};
  json::array windows;
  for (const auto& v : views) {
    windows.push_back(json::object{
        {"start", Iso(v.start_ns)},
        {"total_tokens", v.tokens},
        {"requests", v.requests},
        {"rate_limited", v.rate_limited},
        {"baseline_p50", Round(v.baseline.p50, 1)},
        {"baseline_p95", Round(v.baseline.p95, 1)},
        {"threshold", v.baseline.threshold == INT64_MAX ? json::value(nullptr)
                                                        : json::value(v.baseline.threshold)},
        {"spike", v.spike}});
  }
  doc["windows"] = std::move(windows);
  json::array spikes;
  for (const rules::SpikeEpisode& e : rule.Episodes()) {
    spikes.push_back(
        json::object{{"start", Iso(e.start_ns)},
                     {"end", Iso(e.end_ns)},
                     {"windows", e.windows},
                     {"total_tokens", e.tokens},
                     {"peak_window_tokens", e.peak_tokens},
                     {"median_multiple",
                      Round(e.baseline.p50 > 0 ? double(e.peak_tokens) / e.baseline.p50 : 0, 2)},
                     {"requests", e.requests},
                     {"rate_limited", e.rate_limited},
                     {"top_sessions", TopKeysJson(e.top[0])},
                     {"top_jobs", TopKeysJson(e.top[1])},
                     {"top_tools", TopKeysJson(e.top[2], "tool_calls")},
                     {"top_models", TopKeysJson(e.top[3])}});
  }
  doc["spikes"] = std::move(spikes);
  Emit(io, doc, out, Render);
  return kExitOk;
}

}  // namespace

void Register(CommandList& list) {
  list.push_back({"spikes",
                  "tokens per window (--window 5m), p50/p95/max, spikes and their sources", 30,
                  &Run});
}

}  // namespace tokmeter::cli::spikes_cmd
