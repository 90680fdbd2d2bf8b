// `tokmeter blocks`: 5-hour usage blocks (analysis/blocks.h) with tokens,
// cost, burn rate and the projection of the active block to its end.
#include "src/analysis/blocks.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/analysis/quota.h"
#include "src/cli/common.h"
#include "src/cli/views.h"

namespace tokmeter::cli::blocks_cmd {
namespace {

namespace po = boost::program_options;
namespace json = boost::json;
using analysis::StoredEvent;

// Share of the token limit at which the active block is a warning.
constexpr double kLimitWarningShare = 0.8;

std::string Hm(const std::string& rfc3339) {
  return rfc3339.size() >= 16 ? rfc3339.substr(0, 10) + " " + rfc3339.substr(11, 5) : rfc3339;
}

void Render(const json::object& doc, Page& p) {
  Header(doc, absl::StrCat("5-hour blocks: ", PeriodLabel(doc)), p);
  if (NoData(doc, p)) return DataNotes(doc, p);
  const auto& blocks = Arr(doc, "blocks");
  const json::value& limit = Get(doc, "token_limit");
  if (limit.is_number())
    p.Text(
        absl::StrCat("Token limit ", Num(limit), " per block",
                     Str(doc, "token_limit_source") == "max" ? " (the largest past block)" : ""));
  const auto& st = Obj(doc, "token_limit_status");
  if (!st.empty()) {
    const std::string s = Str(st, "status");
    p.Text(absl::StrCat("Active block projected at ", Num(Get(st, "projected_tokens")), " tokens, ",
                        Percent(Get(st, "projected_share")), " of the limit: ", s),
           s == "exceeds"   ? Style::kCritical
           : s == "warning" ? Style::kWarning
                            : Style::kGood);
  }
  Chart c;
  c.title = "Tokens per 5-hour block";
  c.time_axis = true;
  if (limit.is_number()) {
    c.mark_y = limit.to_number<double>();
    c.mark_label = "limit";
  }
  Chart::Series s{"tokens", {}};
  for (const auto& bv : blocks) {
    const auto& b = bv.get_object();
    s.points.emplace_back(EpochMs(Str(b, "start")), Dbl(b, "total_tokens"));
  }
  c.series.push_back(std::move(s));
  p.AddChart(std::move(c));
  Table t;
  t.cols = {{"Block start (UTC)", false, false, 0, "start"},
            {"Status", false, false, 0, "active"},
            {"Models", false, true, 6, "models"},
            {"Requests", true, false, 4, "requests"},
            {"Input", true, false, 7, "input_tokens"},
            {"Output", true, false, 8, "output_tokens"},
            {"Cache read", true, false, 9, "cache_read_tokens"},
            {"Cache write", true, false, 10, "cache_write_tokens"},
            {"Total", true, false, 0, "total_tokens"},
            {"Cost", true, false, 0, "cost_usd"},
            {"Tokens/min", true, false, 3, "tokens_per_minute"},
            {"$/h", true, false, 5, "cost_per_hour"},
            {"Projected", true, false, 2, "projected_tokens"},
            {"% of limit", true, false, 1, "limit_share"}};
  for (const auto& bv : blocks) {
    const auto& b = bv.get_object();
    const bool active = Bool(b, "active");
    std::string models;
    for (const auto& m : Arr(b, "models"))
      absl::StrAppend(&models, models.empty() ? "" : ", ", Str(m.get_object(), "model"));
    const auto& br = Obj(b, "burn_rate");
    const auto& pr = Obj(b, "projection");
    const json::value& share = Get(b, "limit_share");
    Style share_style = Style::kNone;
    if (share.is_number())
      share_style = share.to_number<double>() >= 1.0                  ? Style::kCritical
                    : share.to_number<double>() >= kLimitWarningShare ? Style::kWarning
                                                                      : Style::kNone;
    std::string status = active ? "▶ ACTIVE" : "";
    if (active && Get(pr, "remaining_minutes").is_number())
      absl::StrAppend(&status, ", ", Int(pr, "remaining_minutes") / 60, "h",
                      absl::StrFormat("%02d", int(Int(pr, "remaining_minutes") % 60)), "m left");
    t.Add({Cell(Hm(Str(b, "start")), Str(b, "start")), Cell(status, active ? "true" : "false"),
           Cell(models), NumCell(Get(b, "requests")), NumCell(Get(b, "input_tokens")),
           NumCell(Get(b, "output_tokens")), NumCell(Get(b, "cache_read_tokens")),
           NumCell(Get(b, "cache_write_tokens")), NumCell(Get(b, "total_tokens")),
           UsdCell(Get(b, "cost_usd")), NumCell(Get(br, "tokens_per_minute")),
           Get(br, "cost_per_hour").is_number() ? UsdCell(Get(br, "cost_per_hour")) : Cell("–", ""),
           NumCell(Get(pr, "total_tokens")), Cell(Percent(share), Raw(share), share_style)},
          active ? Style::kActive : Style::kNone);
  }
  t.AddTotal({Cell("Total"), Cell(""), Cell(""), NumCell(Get(Obj(doc, "totals"), "requests")),
              NumCell(Get(Obj(doc, "totals"), "input_tokens")),
              NumCell(Get(Obj(doc, "totals"), "output_tokens")),
              NumCell(Get(Obj(doc, "totals"), "cache_read_tokens")),
              NumCell(Get(Obj(doc, "totals"), "cache_write_tokens")),
              NumCell(Get(Obj(doc, "totals"), "total_tokens")),
              UsdCell(Get(Obj(doc, "totals"), "cost_usd")), Cell(""), Cell(""), Cell(""),
              Cell("")});
  p.AddTable(std::move(t), true);
  DataNotes(doc, p);
}

int Run(const std::vector<std::string>& args, Io& io) {
  CommonFlags c;
  std::string token_limit, provider;
  po::options_description d("blocks options");
  AddCommonFlags(d, c, kTabularFormats);
  d.add_options()("token-limit", po::value(&token_limit),
                  "N (e.g. 500k) or max (the largest past block): tokens per block")(
      "provider", po::value(&provider),
      "only this provider's events (anthropic, openai, ...); blocks are per plan");
  if (!ParseFlags(args, d, "blocks", "[INPUT...]", io)) return kExitOk;
  Output out = ResolveOutput(c, kTabularFormats, "blocks", io);
  std::optional<int64_t> fixed_limit;
  if (!token_limit.empty() && token_limit != "max") {
    auto lim = analysis::ParseTokenCount(token_limit);
    if (!lim.ok())
      throw UsageError{absl::StrCat("--token-limit: ", lim.status().message(), " or max")};
    fixed_limit = *lim;
  }
  // Plan limits are per agent: with no INPUT, Claude Code's logs (as
  // Anthropic counts them); --codex for Codex's.
  if (c.inputs.empty() && !c.claude && !c.codex) c.claude = true;
  Loaded l = Prepare(c, io);
  l.store->WithoutDetectorFields();
  Read(l, c, true, io);
  const uint32_t want = provider.empty() ? 0 : l.store->Find(provider);
  if (!provider.empty() && want == 0)
    throw UsageError{absl::StrCat("--provider: no event has provider '", provider, "'")};
  analysis::BlockBuilder builder(*l.store);
  analysis::Summary sum;
  for (const StoredEvent& r : l.Select(l.since_ns, l.until_ns)) {
    if (want && r.dim(analysis::Dim::kProvider) != want) continue;
    builder.Add(r);
    sum.Add(r);
  }
  std::vector<analysis::UsageBlock> blocks = builder.Take();
  json::object doc = BaseDoc("blocks", l, sum, l.since_ns, l.until_ns);
  doc["block_hours"] = 5;
  doc["provider"] = provider.empty() ? json::value(nullptr) : json::value(provider);
  std::optional<int64_t> limit = fixed_limit;
  if (token_limit == "max") {
    int64_t mx = 0;
    for (const auto& b : blocks)
      if (!analysis::RatesOf(b, l.now_ns).active) mx = std::max(mx, b.agg.total());
    if (mx > 0) limit = mx;
  }
  doc["token_limit"] = limit ? json::value(*limit) : json::value(nullptr);
  doc["token_limit_source"] = token_limit.empty()    ? json::value(nullptr)
                              : token_limit == "max" ? json::value("max")
                                                     : json::value("flag");
  json::array arr;
  json::value active_index = nullptr, status = json::object();
  status = nullptr;
  for (const auto& b : blocks) {
    const analysis::BlockRates r = analysis::RatesOf(b, l.now_ns);
    json::object o;
    o["start"] = Iso(b.start_ns);
    o["end"] = Iso(b.end_ns);
    o["active"] = r.active;
    o["entries"] = b.agg.events;
    for (auto& kv : TotalsJson(b.agg)) o[kv.key()] = kv.value();
    o["models"] = ModelsJson(b.by_model, b.agg.total());
    o["burn_rate"] =
        r.tokens_per_minute
            ? json::value(json::object{
                  {"tokens_per_minute", Round(*r.tokens_per_minute, 1)},
                  {"cost_per_hour", r.cost_per_hour ? json::value(Round(*r.cost_per_hour, 4))
                                                    : json::value(nullptr)}})
            : json::value(nullptr);
    o["projection"] =
        r.projected_tokens
            ? json::value(json::object{
                  {"total_tokens", *r.projected_tokens},
                  {"cost_usd", r.projected_cost ? json::value(Round(*r.projected_cost, 4))
                                                : json::value(nullptr)},
                  {"remaining_minutes", r.remaining_minutes}})
            : json::value(nullptr);
    const int64_t basis = r.projected_tokens ? *r.projected_tokens : b.agg.total();
    o["limit_share"] =
        limit ? json::value(Round(double(basis) / double(*limit), 4)) : json::value(nullptr);
    if (r.active) {
      active_index = int64_t(arr.size());
      if (limit) {
        const double share = double(basis) / double(*limit);
        status = json::object{{"limit", *limit},
                              {"projected_tokens", basis},
                              {"projected_share", Round(share, 4)},
                              {"status", share > 1.0                  ? "exceeds"
                                         : share > kLimitWarningShare ? "warning"
                                                                      : "ok"}};
      }
    }
    arr.push_back(std::move(o));
  }
  doc["blocks"] = std::move(arr);
  doc["active_block"] = active_index;
  doc["token_limit_status"] = status;
  Emit(io, doc, out, Render);
  return kExitOk;
}

}  // namespace

void Register(CommandList& list) {
  list.push_back({"blocks",
                  "5-hour blocks as plan limits count them: tokens, cost, burn rate, projection "
                  "(--token-limit N|max)",
                  15, &Run});
}

}  // namespace tokmeter::cli::blocks_cmd
