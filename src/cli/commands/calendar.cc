// `tokmeter daily | monthly | session`: totals per day, month or session
// with the per-model breakdown; grouped while reading (memory grows with the
// rows, not the events).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/cli/common.h"
#include "src/cli/views.h"

namespace tokmeter::cli::calendar_cmd {
namespace {

namespace po = boost::program_options;
namespace json = boost::json;
using analysis::StoredEvent;

struct View {
  const char* command;
  const char* key;    // row key in the JSON
  const char* title;  // page title
  const char* column;
};
constexpr View kViews[] = {
    {"daily", "date", "Daily usage", "Date"},
    {"monthly", "month", "Monthly usage", "Month"},
    {"session", "session", "Usage per session", "Session"},
};

void Render(const View& v, const json::object& doc, Page& p) {
  Header(doc, absl::StrCat(v.title, ": ", PeriodLabel(doc)), p);
  if (NoData(doc, p)) return DataNotes(doc, p);
  const auto& rows = Arr(doc, "rows");
  if (std::string(v.command) != "session" && rows.size() > 1) {
    Chart c;
    c.title = absl::StrCat("Tokens per ", std::string(v.key) == "date" ? "day" : "month", " (",
                           Str(doc, "tz"), ")");
    c.stack = true;
    // One series per token kind: what the tokens were.
    const char* kinds[][2] = {{"cache_read_tokens", "cache read"},
                              {"cache_write_tokens", "cache write"},
                              {"input_tokens", "input"},
                              {"output_tokens", "output"}};
    for (const auto& r : rows) c.categories.push_back(Str(r.get_object(), v.key));
    for (const auto& k : kinds) {
      Chart::Series s{k[1], {}};
      for (size_t i = 0; i < rows.size(); ++i)
        s.points.emplace_back(double(i), Dbl(rows[i].get_object(), k[0]));
      c.series.push_back(std::move(s));
    }
    p.AddChart(std::move(c));
  }
  p.AddTable(RowsTable(doc, rows, v.key, v.column), true);
  DataNotes(doc, p);
}

int RunView(const View& v, const std::vector<std::string>& args, Io& io) {
  CommonFlags c;
  po::options_description d(absl::StrCat(v.command, " options"));
  AddCommonFlags(d, c, kTabularFormats);
  if (!ParseFlags(args, d, v.command, "[INPUT...]", io)) return kExitOk;
  Output out = ResolveOutput(c, kTabularFormats, v.command, io);
  Loaded l = Prepare(c, io);
  l.store->WithoutDetectorFields();  // groupings only
  const std::string cmd = v.command;
  analysis::Grouper grouper =
      cmd == "session"
          ? analysis::Grouper(*l.store, analysis::Dim::kSession)
          : analysis::Grouper(
                *l.store, cmd == "daily" ? analysis::Calendar::kDay : analysis::Calendar::kMonth,
                l.tz);
  analysis::Summary sum;
  l.store->StreamTo([&](const StoredEvent& r) {
    sum.Add(r);
    grouper.Add(r);
  });
  Read(l, c, true, io);
  json::object doc = BaseDoc(cmd, l, sum, l.since_ns, l.until_ns);
  json::array rows;
  for (const analysis::Group& g : grouper.Take()) rows.push_back(GroupJson(g, v.key));
  doc["rows"] = std::move(rows);
  Emit(io, doc, out, [&v](const json::object& d, Page& p) { Render(v, d, p); });
  return kExitOk;
}

int Daily(const std::vector<std::string>& a, Io& io) { return RunView(kViews[0], a, io); }
int Monthly(const std::vector<std::string>& a, Io& io) { return RunView(kViews[1], a, io); }
int Session(const std::vector<std::string>& a, Io& io) { return RunView(kViews[2], a, io); }

}  // namespace

void Register(CommandList& list) {
  list.push_back({"daily", "per-day totals, per model where a day has several", 10, &Daily});
  list.push_back({"monthly", "per-month totals, per model", 11, &Monthly});
  list.push_back({"session", "per-session totals, per model", 12, &Session});
}

}  // namespace tokmeter::cli::calendar_cmd
