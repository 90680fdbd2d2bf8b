// `tokmeter quota`: quota consumed in the period holding "now", the
// forecast to the period end, runs left, alerts and the optimization level —
// the alerts and the level agree with the forecast.
#include "src/analysis/quota.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/cli/common.h"
#include "src/cli/views.h"

namespace tokmeter::cli::quota_cmd {
namespace {

namespace po = boost::program_options;
namespace json = boost::json;
using analysis::StoredEvent;

std::string Cap(std::string s) {
  if (!s.empty()) s[0] = char(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

void Render(const json::object& doc, Page& p) {
  const auto& q = Obj(doc, "quota");
  const std::string period = Str(q, "period");
  Header(doc,
         absl::StrCat("Quota: ", Compact(double(Int(q, "limit"))), " tokens per ", period, " (",
                      PeriodLabel(doc), ")"),
         p);
  if (Bool(doc, "no_data"))
    p.Text(absl::StrCat("No usage in this ", period, " so far",
                        Get(doc, "latest_event").is_string()
                            ? absl::StrCat(": the data ends ", Str(doc, "latest_event"))
                            : ": no events at all",
                        "."),
           Style::kWarning);
  Table t;
  t.cols = {{"", false, false, 0, "figure"}, {"Value", false, false, 0, "value"}};
  auto pct = [&](const char* k) { return Percent(Get(q, k)); };
  const std::string level = Str(q, "level");
  const bool exceed = Bool(q, "will_exceed");
  t.Add({Cell(Cap(period)), Cell(Str(q, "period_start") + " → " + Str(q, "period_end"))});
  t.Add({Cell("As of"), Cell(Str(q, "as_of"))});
  t.Add({Cell("Consumed"),
         Cell(Num(Get(q, "consumed")) + " (" + pct("share_used") + ")", Raw(Get(q, "consumed")))});
  t.Add({Cell("Left"), Cell(pct("share_left"), Raw(Get(q, "share_left")))});
  t.Add({Cell("Daily average"), NumCell(Get(q, "daily_average"))});
  t.Add({Cell(absl::StrCat(Cap(period), "-end forecast")),
         Cell(Num(Get(q, "forecast")) + " (" + pct("forecast_share") + ")" +
                  (exceed ? " — will exceed" : ""),
              Raw(Get(q, "forecast")), exceed ? Style::kBad : Style::kNone)});
  if (Get(q, "exhausted_at").is_string())
    t.Add({Cell("Runs out at this rate"),
           Cell(Str(q, "exhausted_at"), Str(q, "exhausted_at"), Style::kBad)});
  t.Add({Cell("Runs in the last 7 days"), NumCell(Get(q, "runs_7d"))});
  t.Add({Cell("Mean tokens per run (7 d)"), NumCell(Get(q, "mean_tokens_per_run_7d"))});
  t.Add({Cell("Runs left at this rate"), NumCell(Get(q, "runs_left"))});
  t.Add({Cell("Cache hit rate (7 d / previous 7 d)"),
         Cell(pct("cache_hit_rate_7d") + " / " + pct("cache_hit_rate_prev_7d"))});
  t.Add({Cell("Prompt cache share (7 d / previous 7 d)"),
         Cell(pct("prompt_cache_share_7d") + " / " + pct("prompt_cache_share_prev_7d"))});
  t.Add({Cell("Optimization level"),
         Cell(level + (Str(q, "level_basis") == "forecast" ? " (by the forecast)" : ""), level,
              LevelStyle(level))});
  p.AddTable(std::move(t), true);
  const auto& alerts = Arr(q, "alerts");
  if (alerts.empty()) {
    p.Text("No alerts (consumed thresholds 50/80/100 %; the forecast stays within the limit).",
           Style::kGood);
  } else {
    std::vector<std::pair<std::string, Style>> items;
    for (const auto& a : alerts) {
      const auto& ao = a.get_object();
      items.emplace_back("ALERT: " + Str(ao, "message"),
                         Dbl(ao, "threshold") >= 1.0 ? Style::kCritical : Style::kWarning);
    }
    p.List(std::move(items));
  }
  DataNotes(doc, p);
}

int Run(const std::vector<std::string>& args, Io& io) {
  CommonFlags c;
  std::string limit, period = "month";
  po::options_description d("quota options");
  AddCommonFlags(d, c, kDocumentFormats);
  d.add_options()("limit", po::value(&limit), "quota per period, e.g. 300M (required)")(
      "period", po::value(&period), "day | week | month (default month)");
  if (!ParseFlags(args, d, "quota", "[INPUT...]", io)) return kExitOk;
  Output out = ResolveOutput(c, kDocumentFormats, "quota", io);
  if (limit.empty()) throw UsageError{"quota: --limit is required (e.g. --limit 300M)"};
  auto lim = analysis::ParseTokenCount(limit);
  if (!lim.ok()) throw UsageError{absl::StrCat("--limit: ", lim.status().message())};
  auto per = analysis::ParseQuotaPeriod(period);
  if (!per.ok()) {
    std::string s = Suggest(period, {"day", "week", "month"});
    throw UsageError{absl::StrCat("--period: ", per.status().message(),
                                  s.empty() ? "" : absl::StrCat("; did you mean ", s, "?"))};
  }
  Loaded l = Prepare(c, io);
  l.store->WithoutDetectorFields();  // groupings only
  // "Now" (common.h), capped by --until: the end of what has been consumed.
  const int64_t until = l.until_ns;
  auto now_at = [&l, until](int64_t latest_ns) {
    const int64_t now = l.NowAt(latest_ns);
    return until ? std::min(until, now) : now;
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
  Read(l, c, false, io);
  const int64_t now = now_at(l.store->latest_ns());
  o.as_of = absl::FromUnixNanos(now);
  analysis::QuotaStatus q = analysis::ComputeQuota(*l.store, o);
  const int64_t start = absl::ToUnixNanos(q.period_start);
  std::span<const StoredEvent> recs = l.Select(start, now);
  l.now_ns = now;
  json::object doc = BaseDoc("quota", l, recs, start, now);
  auto opt = [](const std::optional<double>& v) {
    return v ? json::value(Round(*v)) : json::value(nullptr);
  };
  const std::string pname(analysis::QuotaPeriodName(*per));
  json::array alerts;
  for (double a : q.alerts)
    alerts.push_back(json::object{
        {"threshold", a},
        {"basis", "consumed"},
        {"message", absl::StrFormat("%.0f%% of the %s quota consumed", a * 100, pname)}});
  if (q.will_exceed)
    alerts.push_back(json::object{
        {"threshold", 1.0},
        {"basis", "forecast"},
        {"message",
         absl::StrFormat("forecast %.0f%% of the %s quota by the %s end%s", q.forecast_share * 100,
                         pname, pname,
                         q.exhausted_at && *q.exhausted_at > q.as_of
                             ? absl::StrCat("; runs out around ",
                                            IsoTz(absl::ToUnixNanos(*q.exhausted_at), l.tz))
                             : "")}});
  doc["quota"] = json::object{
      {"limit", q.limit},
      {"period", pname},
      {"period_start", IsoTz(start, l.tz)},
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
      {"exhausted_at", q.exhausted_at ? json::value(IsoTz(absl::ToUnixNanos(*q.exhausted_at), l.tz))
                                      : json::value(nullptr)},
      {"runs_7d", q.runs_7d},
      {"mean_tokens_per_run_7d", Round(q.mean_tokens_per_run_7d, 1)},
      {"runs_left", q.runs_left >= 0 ? json::value(q.runs_left) : json::value(nullptr)},
      {"cache_hit_rate_7d", opt(q.cache_hit_rate_7d)},
      {"cache_hit_rate_prev_7d", opt(q.cache_hit_rate_prev_7d)},
      {"prompt_cache_share_7d", opt(q.prompt_cache_share_7d)},
      {"prompt_cache_share_prev_7d", opt(q.prompt_cache_share_prev_7d)},
      {"alerts", std::move(alerts)},
      {"level", q.level},
      {"level_basis", q.level_basis}};
  Emit(io, doc, out, Render);
  return kExitOk;
}

}  // namespace

void Register(CommandList& list) {
  list.push_back(
      {"quota", "quota consumed, forecast, runs left, alerts, level (--limit 300M)", 50, &Run});
}

}  // namespace tokmeter::cli::quota_cmd
