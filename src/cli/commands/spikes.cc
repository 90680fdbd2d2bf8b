// `tokmeter spikes`: tokens per fixed window, their distribution, and the
// windows far above it with their top sources. Streams while reading.
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
  t.cols = {{"Window start (UTC)", false, false, 0, "start"},
            {"Tokens", true, false, 0, "total_tokens"},
            {"× median", true, false, 0, "median_multiple"},
            {"Requests", true, false, 3, "requests"},
            {"429s", true, false, 4, "rate_limited"},
            {"Top sessions", false, true, 0, "top_sessions"},
            {"Top jobs", false, true, 2, "top_jobs"},
            {"Top tools", false, true, 1, "top_tools"}};
  for (const auto& sv : Arr(doc, "spikes")) {
    const auto& s = sv.get_object();
    t.Add({Cell(Str(s, "start")), NumCell(Get(s, "total_tokens")),
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
  analysis::SpikeFinder finder(*l.store, w);
  l.store->StreamTo([&](const StoredEvent& r) {
    sum.Add(r);
    finder.Add(r);
  });
  Read(l, c, true, io);
  json::object doc = BaseDoc("spikes", l, sum, l.since_ns, l.until_ns);
  analysis::SpikeReport rep = finder.Take();
  doc["window"] = window;
  doc["window_seconds"] = w / kSecondNs;
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
