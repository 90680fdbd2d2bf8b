// `tokmeter compare`: before/after. Two periods of the same inputs (--since
// and --until given twice) or two inputs (compare A B); per workflow, agent
// and model the change of tokens, cost, cache hit rate and requests per run,
// and the findings that appeared or disappeared.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/cli/common.h"
#include "src/cli/views.h"

namespace tokmeter::cli::compare_cmd {
namespace {

namespace po = boost::program_options;
namespace json = boost::json;
using analysis::Dim;
using analysis::Group;
using analysis::StoredEvent;

constexpr Dim kDims[] = {Dim::kWorkflow, Dim::kAgent, Dim::kModel};

// One side of the comparison.
struct Side {
  std::string label;
  Loaded* loaded = nullptr;
  int64_t since = 0, until = 0;  // 0 = unbounded
  std::span<const StoredEvent> recs;
  std::vector<json::object> findings;
};

json::value Frac(double a, double b) {  // (b − a) / a
  return a != 0 ? json::value(Round((b - a) / a)) : json::value(nullptr);
}

json::object Figures(const analysis::Agg& a, int64_t runs) {
  return json::object{
      {"total_tokens", a.total()},
      {"cost_usd", CostJson(a)},
      {"cache_hit_rate", Round(analysis::CacheHitRate(a.tokens))},
      {"requests", a.requests},
      {"runs", runs},
      {"requests_per_run", runs > 0 ? Round(double(a.requests) / double(runs), 3) : 0.0}};
}

// Changes from figures `a` to figures `b` (either may be null).
void Changes(const json::value& a, const json::value& b, json::object& row) {
  if (!a.is_object() || !b.is_object()) {
    row["total_tokens_change"] = nullptr;
    row["cost_usd_change"] = nullptr;
    row["cache_hit_rate_change"] = nullptr;
    row["requests_per_run_change"] = nullptr;
    return;
  }
  const auto& ao = a.get_object();
  const auto& bo = b.get_object();
  row["total_tokens_change"] = Frac(Dbl(ao, "total_tokens"), Dbl(bo, "total_tokens"));
  row["cost_usd_change"] = Get(ao, "cost_usd").is_number() && Get(bo, "cost_usd").is_number()
                               ? Frac(Dbl(ao, "cost_usd"), Dbl(bo, "cost_usd"))
                               : json::value(nullptr);
  row["cache_hit_rate_change"] = Round(Dbl(bo, "cache_hit_rate") - Dbl(ao, "cache_hit_rate"));
  row["requests_per_run_change"] = Frac(Dbl(ao, "requests_per_run"), Dbl(bo, "requests_per_run"));
}

int64_t Runs(std::span<const StoredEvent> recs) {
  std::set<uint32_t> runs;
  for (const StoredEvent& r : recs)
    if (!r.rollup && r.dim(Dim::kRun)) runs.insert(r.dim(Dim::kRun));
  return int64_t(runs.size());
}

std::string PeriodText(const Side& s, const absl::TimeZone& tz) {
  std::string a = s.since ? DayOf(s.since, tz) : "start";
  std::string b = s.until ? DayOf(s.until - 1, tz) : "end";
  return a == b ? a : a + " – " + b;
}

Style ChangeStyle(const json::value& v, bool more_is_bad) {
  if (!v.is_number() || v.to_number<double>() == 0) return Style::kNone;
  return (v.to_number<double>() > 0) == more_is_bad ? Style::kBad : Style::kGood;
}

void Render(const json::object& doc, Page& p) {
  const auto& a = Obj(doc, "a");
  const auto& b = Obj(doc, "b");
  Header(doc, absl::StrCat("Compare: ", Str(a, "label"), " → ", Str(b, "label")), p);
  p.meta.push_back(
      absl::StrCat("A (before): ", Str(a, "label"), " · B (after): ", Str(b, "label")));
  if (NoData(doc, p)) return DataNotes(doc, p);
  const auto& ta = Obj(a, "figures");
  const auto& tb = Obj(b, "figures");
  const auto& ch = Obj(doc, "change");
  p.Heading("Totals");
  Table t;
  t.cols = {{"", false, false, 0, "figure"},
            {"A", true, false, 0, "a"},
            {"B", true, false, 0, "b"},
            {"Change", true, false, 0, "change"}};
  t.Add({Cell("Tokens"), NumCell(Get(ta, "total_tokens")), NumCell(Get(tb, "total_tokens")),
         Cell(Change(Get(ch, "total_tokens_change")), Raw(Get(ch, "total_tokens_change")),
              ChangeStyle(Get(ch, "total_tokens_change"), true))});
  t.Add({Cell("Cost"), UsdCell(Get(ta, "cost_usd")), UsdCell(Get(tb, "cost_usd")),
         Cell(Change(Get(ch, "cost_usd_change")), Raw(Get(ch, "cost_usd_change")),
              ChangeStyle(Get(ch, "cost_usd_change"), true))});
  t.Add({Cell("Cache hit rate"), PercentCell(Get(ta, "cache_hit_rate")),
         PercentCell(Get(tb, "cache_hit_rate")),
         Cell(absl::StrFormat("%+.1f pts", Dbl(ch, "cache_hit_rate_change") * 100),
              Raw(Get(ch, "cache_hit_rate_change")),
              ChangeStyle(Get(ch, "cache_hit_rate_change"), false))});
  t.Add({Cell("Requests"), NumCell(Get(ta, "requests")), NumCell(Get(tb, "requests")), Cell("")});
  t.Add({Cell("Runs"), NumCell(Get(ta, "runs")), NumCell(Get(tb, "runs")), Cell("")});
  t.Add({Cell("Requests per run"), NumCell(Get(ta, "requests_per_run")),
         NumCell(Get(tb, "requests_per_run")),
         Cell(Change(Get(ch, "requests_per_run_change")), Raw(Get(ch, "requests_per_run_change")),
              ChangeStyle(Get(ch, "requests_per_run_change"), true))});
  p.AddTable(std::move(t));

  Table all;  // CSV: every row of every dimension
  all.cols = {{"Dimension", false, false, 0, "dim"},
              {"Key", false, false, 0, "key"},
              {"Status", false, false, 0, "status"},
              {"A tokens", true, false, 0, "a_total_tokens"},
              {"B tokens", true, false, 0, "b_total_tokens"},
              {"Tokens change", true, false, 0, "total_tokens_change"},
              {"A cost", true, false, 0, "a_cost_usd"},
              {"B cost", true, false, 0, "b_cost_usd"},
              {"Cost change", true, false, 0, "cost_usd_change"},
              {"A cache hit rate", true, false, 0, "a_cache_hit_rate"},
              {"B cache hit rate", true, false, 0, "b_cache_hit_rate"},
              {"Cache hit rate change", true, false, 0, "cache_hit_rate_change"},
              {"A requests/run", true, false, 0, "a_requests_per_run"},
              {"B requests/run", true, false, 0, "b_requests_per_run"},
              {"Requests/run change", true, false, 0, "requests_per_run_change"}};
  for (const auto& kv : Obj(doc, "by")) {
    const std::string dim(kv.key());
    const auto& rows = kv.value().as_array();
    p.Heading(absl::StrCat("Per ", dim));
    Table dt;
    dt.cols = {{dim, false, true, 0, "key"},
               {"A tokens", true, false, 0, "a_total_tokens"},
               {"B tokens", true, false, 0, "b_total_tokens"},
               {"Change", true, false, 0, "total_tokens_change"},
               {"A cost", true, false, 5, "a_cost_usd"},
               {"B cost", true, false, 4, "b_cost_usd"},
               {"Cost Δ", true, false, 3, "cost_usd_change"},
               {"Hit rate A→B", true, false, 2, "cache_hit_rate"},
               {"Req/run A→B", true, false, 1, "requests_per_run"}};
    Chart c;
    c.title = absl::StrCat("Tokens per ", dim, ": A and B");
    Chart::Series sa{"A " + Str(a, "label"), {}}, sb{"B " + Str(b, "label"), {}};
    for (const auto& rv : rows) {
      const auto& r = rv.get_object();
      const auto& ra = Obj(r, "a");
      const auto& rb = Obj(r, "b");
      const std::string status = Str(r, "status");
      const json::value& tc = Get(r, "total_tokens_change");
      std::string change = status == "new" ? "new" : status == "gone" ? "gone" : Change(tc);
      auto pair = [&](const char* k, bool pct) {
        auto f = [&](const json::object& o) {
          if (o.empty()) return std::string("–");
          return pct ? Percent(Get(o, k)) : absl::StrFormat("%.1f", Dbl(o, k));
        };
        return f(ra) + " → " + f(rb);
      };
      // A side without the key shows "–", not "unpriced".
      auto usd = [](const json::object& o) {
        return o.empty() ? Cell("–", "") : UsdCell(Get(o, "cost_usd"));
      };
      dt.Add({Cell(Str(r, "key")), NumCell(Get(ra, "total_tokens")),
              NumCell(Get(rb, "total_tokens")),
              Cell(change, Raw(tc),
                   status == "new"    ? Style::kBad
                   : status == "gone" ? Style::kGood
                                      : ChangeStyle(tc, true)),
              usd(ra), usd(rb),
              Cell(Change(Get(r, "cost_usd_change")), Raw(Get(r, "cost_usd_change"))),
              Cell(pair("cache_hit_rate", true)), Cell(pair("requests_per_run", false))});
      all.Add({Cell(dim), Cell(Str(r, "key")), Cell(status), NumCell(Get(ra, "total_tokens")),
               NumCell(Get(rb, "total_tokens")), Cell(Change(tc), Raw(tc)),
               UsdCell(Get(ra, "cost_usd")), UsdCell(Get(rb, "cost_usd")),
               Cell("", Raw(Get(r, "cost_usd_change"))), PercentCell(Get(ra, "cache_hit_rate")),
               PercentCell(Get(rb, "cache_hit_rate")),
               Cell("", Raw(Get(r, "cache_hit_rate_change"))), NumCell(Get(ra, "requests_per_run")),
               NumCell(Get(rb, "requests_per_run")),
               Cell("", Raw(Get(r, "requests_per_run_change")))});
      c.categories.push_back(Str(r, "key"));
      sa.points.emplace_back(double(sa.points.size()), Dbl(ra, "total_tokens"));
      sb.points.emplace_back(double(sb.points.size()), Dbl(rb, "total_tokens"));
    }
    c.series = {std::move(sa), std::move(sb)};
    if (!rows.empty()) p.AddChart(std::move(c));
    p.AddTable(std::move(dt));
  }
  p.AddTable(std::move(all), true, true);
  const auto& f = Obj(doc, "findings");
  p.Heading(absl::StrCat("Findings that appeared (", Arr(f, "appeared").size(), ")"));
  p.Findings(Findings(Arr(f, "appeared")), "None.");
  p.Heading(absl::StrCat("Findings that disappeared (", Arr(f, "disappeared").size(), ")"));
  p.Findings(Findings(Arr(f, "disappeared")), "None.");
  p.Text(absl::StrCat(Arr(f, "persisted").size(), " finding(s) in both."));
  DataNotes(doc, p);
}

// Splits --since/--until (which compare takes twice) out of `args`.
void TakePeriods(std::vector<std::string>& args, std::vector<std::string>& sinces,
                 std::vector<std::string>& untils) {
  std::vector<std::string> rest;
  // Takes args[i] (and its value) when it is `flag`; true when it was.
  auto take = [&](size_t& i, const std::string& flag, std::vector<std::string>& out) {
    const std::string& a = args[i];
    if (a == flag) {
      if (i + 1 >= args.size()) throw UsageError{absl::StrCat(flag, ": needs a time")};
      out.push_back(args[++i]);
      return true;
    }
    if (absl::StartsWith(a, flag + "=")) {
      out.push_back(a.substr(flag.size() + 1));
      return true;
    }
    return false;
  };
  for (size_t i = 0; i < args.size(); ++i)
    if (!take(i, "--since", sinces) && !take(i, "--until", untils)) rest.push_back(args[i]);
  args = std::move(rest);
}

int Run(const std::vector<std::string>& argv, Io& io) {
  std::vector<std::string> args = argv, sinces, untils;
  TakePeriods(args, sinces, untils);
  CommonFlags c;
  po::options_description d("compare options");
  AddCommonFlags(d, c, kTabularFormats);
  if (!ParseFlags(args, d, "compare", "[A B | INPUT...]", io)) return kExitOk;
  Output out = ResolveOutput(c, kTabularFormats, "compare", io);
  if (sinces.size() > 2 || untils.size() > 2)
    throw UsageError{"compare: --since and --until at most twice (period A, then period B)"};
  const bool periods = sinces.size() == 2 || untils.size() == 2;
  if (!periods && c.inputs.size() != 2)
    throw UsageError{
        "compare: give two periods (--since A1 --until A2 --since B1 --until B2) or two inputs "
        "(tokmeter compare BEFORE AFTER)"};
  // The first --since/--until belong to A, the second to B; with two inputs
  // one pair (if any) applies to both.
  CommonFlags ca = c, cb = c;
  ca.since = sinces.size() > 0 ? sinces[0] : "";
  cb.since = sinces.size() > 1 ? sinces[1] : ca.since;
  ca.until = untils.size() > 0 ? untils[0] : "";
  cb.until = untils.size() > 1 ? untils[1] : ca.until;
  if (periods) {
    if (sinces.size() == 1) cb.since = "";
    if (untils.size() == 1) cb.until = "";
  }
  std::vector<Loaded> loaded;
  Side A, B;
  if (periods) {
    // One read; the sides are ranges of it.
    CommonFlags all = c;
    all.since.clear();
    all.until.clear();
    loaded.push_back(Prepare(all, io));
    Read(loaded[0], all, false, io);
    Loaded pa = PrepareInputs(ca, {}, io), pb = PrepareInputs(cb, {}, io);  // parse the times
    A.since = pa.since_ns, A.until = pa.until_ns;
    B.since = pb.since_ns, B.until = pb.until_ns;
    A.loaded = B.loaded = &loaded[0];
    A.label = PeriodText(A, loaded[0].tz);
    B.label = PeriodText(B, loaded[0].tz);
    if (A.label == B.label) throw UsageError{"compare: periods A and B are the same"};
  } else {
    loaded.push_back(PrepareInputs(ca, {c.inputs[0]}, io));
    loaded.push_back(PrepareInputs(cb, {c.inputs[1]}, io));
    Read(loaded[0], ca, true, io);
    Read(loaded[1], cb, true, io);
    A.loaded = &loaded[0];
    B.loaded = &loaded[1];
    A.since = B.since = loaded[0].since_ns;
    A.until = B.until = loaded[0].until_ns;
    A.label = c.inputs[0];
    B.label = c.inputs[1];
  }
  for (Side* s : {&A, &B}) {
    s->recs = s->loaded->Select(s->since, s->until);
    analysis::DetectInput in;
    in.store = s->loaded->store.get();
    in.recs = s->recs;
    for (const analysis::Finding& f : analysis::Detect(in)) s->findings.push_back(FindingJson(f));
  }
  json::object doc = BaseDoc("compare", *B.loaded, B.recs, B.since, B.until);
  if (!periods) {
    json::array inputs = InputsJson(A.loaded->read);
    for (auto& v : InputsJson(B.loaded->read)) inputs.push_back(v);
    doc["inputs"] = std::move(inputs);
  }
  const analysis::Agg ta = analysis::Total(A.recs), tb = analysis::Total(B.recs);
  doc["no_data"] = ta.events == 0 && tb.events == 0;
  doc["mode"] = periods ? "periods" : "inputs";
  auto side_json = [&](const Side& s, const analysis::Agg& t) {
    const auto& l = *s.loaded;
    return json::object{
        {"label", s.label},
        {"since", s.since ? json::value(IsoTz(s.since, l.tz)) : json::value(nullptr)},
        {"until", s.until ? json::value(IsoTz(s.until, l.tz)) : json::value(nullptr)},
        {"figures", Figures(t, Runs(s.recs))},
        {"totals", TotalsJson(t)}};
  };
  json::object ja = side_json(A, ta), jb = side_json(B, tb);
  json::object change;
  Changes(ja["figures"], jb["figures"], change);
  doc["a"] = std::move(ja);
  doc["b"] = std::move(jb);
  doc["change"] = std::move(change);

  json::object by;
  for (Dim dim : kDims) {
    std::map<std::string, std::pair<json::value, json::value>> rows;
    bool tagged = false;
    for (Side* s : {&A, &B}) {
      for (const Group& g : analysis::GroupBy(*s->loaded->store, s->recs, dim)) {
        if (!g.key.empty()) tagged = true;
        auto& slot = rows[g.key.empty() ? "(untagged)" : g.key];
        (s == &A ? slot.first : slot.second) = Figures(g.agg, g.runs);
      }
    }
    if (!tagged) continue;
    std::vector<json::object> out_rows;
    for (auto& [key, ab] : rows) {
      json::object r;
      r["key"] = key;
      r["status"] = ab.first.is_null() ? "new" : ab.second.is_null() ? "gone" : "both";
      r["a"] = ab.first;
      r["b"] = ab.second;
      Changes(ab.first, ab.second, r);
      out_rows.push_back(std::move(r));
    }
    // Largest change in tokens first.
    auto delta = [](const json::object& r) {
      return std::abs(Dbl(Obj(r, "b"), "total_tokens") - Dbl(Obj(r, "a"), "total_tokens"));
    };
    std::stable_sort(
        out_rows.begin(), out_rows.end(),
        [&](const json::object& x, const json::object& y) { return delta(x) > delta(y); });
    json::array arr;
    for (auto& r : out_rows) arr.push_back(std::move(r));
    by[std::string(analysis::DimName(dim))] = std::move(arr);
  }
  doc["by"] = std::move(by);

  // Findings matched by kind and subject.
  auto key = [](const json::object& f) { return Str(f, "kind") + "\n" + Str(f, "subject"); };
  std::set<std::string> ka, kb;
  for (const auto& f : A.findings) ka.insert(key(f));
  for (const auto& f : B.findings) kb.insert(key(f));
  json::array appeared, disappeared, persisted;
  for (const auto& f : B.findings) (ka.count(key(f)) ? persisted : appeared).push_back(f);
  for (const auto& f : A.findings)
    if (!kb.count(key(f))) disappeared.push_back(f);
  doc["findings"] = json::object{{"appeared", std::move(appeared)},
                                 {"disappeared", std::move(disappeared)},
                                 {"persisted", std::move(persisted)}};
  Emit(io, doc, out, Render);
  return kExitOk;
}

}  // namespace

void Register(CommandList& list) {
  list.push_back({"compare",
                  "before/after: two periods (--since/--until twice) or two inputs (A B); "
                  "changes per workflow, agent, model; findings appeared/disappeared",
                  16, &Run});
}

}  // namespace tokmeter::cli::compare_cmd
