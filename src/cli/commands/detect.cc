// `tokmeter detect`: every detector's findings over the period.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/cli/common.h"
#include "src/cli/views.h"
#include "src/rules/rule_thread.h"

namespace tokmeter::cli::detect_cmd {
namespace {

namespace po = boost::program_options;
namespace json = boost::json;
using analysis::StoredEvent;

void Render(const json::object& doc, Page& p) {
  Header(doc, absl::StrCat("Findings: ", PeriodLabel(doc)), p);
  NoData(doc, p);
  const auto& findings = Arr(doc, "findings");
  p.Findings(Findings(findings));
  // CSV: one finding per row.
  Table t;
  t.cols = {{"Severity", false, false, 0, "severity"},
            {"Kind", false, false, 0, "kind"},
            {"Subject", false, true, 0, "subject"},
            {"Tokens", true, false, 0, "tokens"},
            {"Time", false, false, 0, "time"},
            {"Rule", false, true, 0, "rule"},
            {"Recommendation", false, true, 0, "recommendation"}};
  for (const auto& fv : findings) {
    const auto& f = fv.get_object();
    t.Add({Cell(Str(f, "severity"), Str(f, "severity"), SeverityStyle(Str(f, "severity"))),
           Cell(Str(f, "kind")), Cell(Str(f, "subject")), NumCell(Get(f, "tokens")),
           Cell(Str(f, "time"), Raw(Get(f, "time"))), Cell(Str(f, "rule")),
           Cell(Str(f, "recommendation"))});
  }
  // For CSV only: the findings list above says it all.
  p.AddTable(std::move(t), true, true);
  DataNotes(doc, p);
}

int Run(const std::vector<std::string>& args, Io& io) {
  CommonFlags c;
  std::string window = "5m";
  po::options_description d("detect options");
  AddCommonFlags(d, c, kTabularFormats);
  d.add_options()("window", po::value(&window), "spike/retry-storm window (default 5m)");
  if (!ParseFlags(args, d, "detect", "[INPUT...]", io)) return kExitOk;
  Output out = ResolveOutput(c, kTabularFormats, "detect", io);
  const int64_t w = ParseDurationFlag("window", window);
  if (w == 0) throw UsageError{"--window: must be a duration"};
  Loaded l = Prepare(c, io);
  // Streams: each record goes through the rules and is not kept, so memory
  // grows with the sessions, windows and groups, not with the events. The
  // rules run on a thread of their own, beside the readers.
  analysis::Summary sum;
  rules::RuleOptions ro;
  ro.window_ns = w;
  rules::RuleThread rules(ro);
  l.store->StreamTo([&](const StoredEvent& r) {
    sum.Add(r);
    rules.ObserveWith([&](rules::Observation& o) { analysis::ToObservation(r, *l.store, o); });
  });
  Read(l, c, true, io);
  std::vector<analysis::Finding> all = rules.Finish();
  json::object doc = BaseDoc("detect", l, sum, l.since_ns, l.until_ns);
  std::vector<analysis::Finding> gaps = analysis::DataGapFindings(l.read.inputs);
  all.insert(all.end(), gaps.begin(), gaps.end());
  rules::SortFindings(all);
  json::array findings;
  for (const analysis::Finding& f : all) findings.push_back(FindingJson(f));
  doc["findings"] = std::move(findings);
  Emit(io, doc, out, Render);
  return kExitOk;
}

}  // namespace

void Register(CommandList& list) {
  list.push_back({"detect",
                  "findings: spike loop fanout context_bloat retry_storm background "
                  "output_ratio_rise cache_miss_streak high_io_ratio no_cache low_cache "
                  "large_run many_small_requests increasing data_gap",
                  40, &Run});
}

}  // namespace tokmeter::cli::detect_cmd
