// `tokmeter top`: the largest sessions, jobs, tools, models, … by tokens in
// a window ending now (common.h: the latest event, --as-of or --now).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/cli/common.h"
#include "src/cli/views.h"

namespace tokmeter::cli::top_cmd {
namespace {

namespace po = boost::program_options;
namespace json = boost::json;
using analysis::Dim;
using analysis::StoredEvent;

constexpr const char* kDims[] = {"session", "job",     "tool",  "model",    "workflow",
                                 "user",    "channel", "agent", "provider", "run"};

void Render(const json::object& doc, Page& p) {
  Header(doc,
         absl::StrCat("Top ", Str(doc, "by"), "s by tokens (",
                      Str(doc, "window") == "all" ? "all time" : "last " + Str(doc, "window"), ")"),
         p);
  if (NoData(doc, p)) return DataNotes(doc, p);
  const auto& rows = Arr(doc, "rows");
  Chart c;
  c.title = absl::StrCat("Tokens by ", Str(doc, "by"));
  Chart::Series s{"tokens", {}};
  for (size_t i = 0; i < rows.size() && i < 20; ++i) {
    c.categories.push_back(Str(rows[i].get_object(), "key"));
    s.points.emplace_back(double(i), Dbl(rows[i].get_object(), "total_tokens"));
  }
  c.series.push_back(std::move(s));
  if (rows.size() > 1) p.AddChart(std::move(c));
  std::string by = Str(doc, "by");
  if (!by.empty()) by[0] = char(std::toupper(static_cast<unsigned char>(by[0])));
  p.AddTable(RowsTable(doc, rows, "key", by), true);
  DataNotes(doc, p);
}

int Run(const std::vector<std::string>& args, Io& io) {
  CommonFlags c;
  std::string by = "session", window = "24h";
  int limit = 20;
  po::options_description d("top options");
  AddCommonFlags(d, c, kTabularFormats);
  d.add_options()("by", po::value(&by), absl::StrCat(absl::StrJoin(kDims, "|")).c_str())(
      "window", po::value(&window), "last 1h | 24h | all (default 24h), ending now")(
      "limit", po::value(&limit), "rows (default 20)");
  if (!ParseFlags(args, d, "top", "[INPUT...]", io)) return kExitOk;
  Output out = ResolveOutput(c, kTabularFormats, "top", io);
  std::optional<Dim> dim = analysis::ParseDim(by);
  if (!dim) {
    std::string s = Suggest(by, std::vector<std::string>(std::begin(kDims), std::end(kDims)));
    throw UsageError{absl::StrCat("--by: unknown dimension '", by, "' (", absl::StrJoin(kDims, "|"),
                                  ")", s.empty() ? "" : absl::StrCat("; did you mean ", s, "?"))};
  }
  if (limit <= 0) throw UsageError{"--limit: must be at least 1"};
  const int64_t w = ParseDurationFlag("window", window);
  Loaded l = Prepare(c, io);
  l.store->WithoutDetectorFields();  // groupings only
  // --window all: group while reading. A window ending now: hold only the
  // records that can still fall in it.
  analysis::Summary sum;
  analysis::Grouper grouper(*l.store, *dim);
  const int64_t until = l.until_ns;
  auto end_at = [&l, until](int64_t latest_ns) {
    const int64_t now = l.NowAt(latest_ns);
    return until ? std::min(until, now) : now;
  };
  if (w == 0) {
    l.store->StreamTo([&](const StoredEvent& r) {
      sum.Add(r);
      grouper.Add(r);
    });
  } else {
    l.store->KeepFrom([end_at, w](int64_t latest_ns) { return Minus(end_at(latest_ns), w); });
  }
  Read(l, c, true, io);
  const int64_t latest = l.store->latest_ns();
  const int64_t to = latest || l.fixed_now_ns ? end_at(latest) : l.until_ns;
  const int64_t from = w && to ? std::max(Minus(to, w), l.since_ns) : l.since_ns;
  if (w != 0) {
    std::span<const StoredEvent> recs = l.Select(from, to);
    sum = analysis::Summarize(recs);
    for (const StoredEvent& r : recs) grouper.Add(r);
  }
  json::object doc = BaseDoc("top", l, sum, from, w == 0 ? l.until_ns : to);
  doc["by"] = std::string(analysis::DimName(*dim));
  doc["window"] = window;
  json::array rows;
  int n = 0;
  for (const analysis::Group& g : grouper.Take()) {
    if (n++ >= limit) break;
    rows.push_back(GroupJson(g, "key"));
  }
  doc["rows"] = std::move(rows);
  Emit(io, doc, out, Render);
  return kExitOk;
}

}  // namespace

void Register(CommandList& list) {
  list.push_back(
      {"top", "top sessions/jobs/tools/models/... by tokens (--by, --window)", 20, &Run});
}

}  // namespace tokmeter::cli::top_cmd
