// `tokmeter watch`: follows usage logs as they grow (analysis::Follower) and
// runs the rules (rules::RuleEngine) and the budgets (rules::BudgetTracker)
// on every new event — the trackers `detect` and the live monitor run — in
// event time. JSON: one line per alert, as it fires. Table: a view redrawn
// every interval (the current window against its baseline, its top
// contributors, one bar per budget, the recent alerts).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/analysis/follow.h"
#include "src/cli/common.h"
#include "src/cli/views.h"
#include "src/rules/budgets.h"
#include "src/rules/engine.h"
#include "src/rules/observation.h"
#include "tokmeter/budget.h"

namespace tokmeter::cli::watch_cmd {
namespace {

namespace po = boost::program_options;
namespace json = boost::json;
using analysis::UsageEvent;

constexpr size_t kRecentAlerts = 8;  // alerts the table shows
constexpr size_t kBudgetRows = 12;   // budget scopes the table shows
constexpr int kTopRows = 3;          // contributors per kind
constexpr int64_t kMinuteNs = 60 * kSecondNs;
// State older than this behind the newest event is forgotten (as the live
// monitor's default), so a watch that runs for months stays bounded.
constexpr int64_t kRetainNs = 48 * 3600 * kSecondNs;
// From this share of a limit on, a budget's scope is "high" (the monitor's
// default warn share).
constexpr double kWarnShare = 0.8;

int64_t WallNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * kSecondNs + ts.tv_nsec;
}

std::string AmountText(BudgetUnit u, double v) {
  switch (u) {
    case BudgetUnit::kUsd:
      return absl::StrFormat("$%.2f", v);
    case BudgetUnit::kRequests:
      return absl::StrCat(Compact(v), " req");
    case BudgetUnit::kTokens:
      break;
  }
  return Compact(v);
}

std::string ScopeOf(const BudgetSpec& b, const std::string& value) {
  if (b.key.empty())
    return b.unit == BudgetUnit::kUsd        ? "cost"
           : b.unit == BudgetUnit::kRequests ? "requests"
                                             : "total";
  return value.empty() ? b.key : absl::StrCat(b.key, ":", value);
}

// The alert line: the same fields, in the same order, as the `alert` line
// the JSONL sink writes (docs/FORMAT.md), so a watch's output and a
// monitored agent's log read alike; times in --tz, and budgets add the scope.
json::object AlertJson(const ::tokmeter::Finding& f, int64_t t_ns, const std::string& trace_id,
                       const std::string& span_id, const absl::TimeZone& tz) {
  json::object fo = FindingJson(f);
  json::object o;
  o["type"] = "alert";
  o["timestamp"] = IsoTz(t_ns, tz);
  o["rule"] = f.kind;
  o["severity"] = fo["severity"];
  o["subject"] = f.subject;
  o["keys"] = fo["keys"];
  if (f.kind == "budget") {
    // "session:s-1", "job:heartbeat"; all traffic: total, cost or requests.
    const std::string budget(f.Key("budget"));
    std::string scope = budget.substr(0, budget.find('='));
    for (const auto& [k, v] : f.keys)
      if (k != "budget") scope = absl::StrCat(k, ":", v);
    o["budget"] = budget;
    o["threshold"] = Round(f.Evidence("threshold"));
    o["scope"] = scope;
  }
  o["tokens"] = f.tokens;
  o["evidence"] = fo["evidence"];
  if (f.time_ns != 0) o["since"] = IsoTz(f.time_ns, tz);
  if (f.end_ns != 0) o["until"] = IsoTz(f.end_ns, tz);
  o["condition"] = f.rule;
  o["message"] = f.recommendation;
  if (!trace_id.empty()) o["trace_id"] = trace_id;
  if (!span_id.empty()) o["span_id"] = span_id;
  return o;
}

struct Options {
  bool from_start = false, exit_at_eof = false;
  int64_t window_ns = 0, interval_ns = 0;
  std::vector<BudgetSpec> budgets;
  std::string path_tags;
};

class Watch {
 public:
  Watch(const Options& o, Loaded& l, const Output& out, Io& io)
      : opts_(o),
        l_(l),
        out_(out),
        io_(io),
        engine_(RuleOpts(o)),
        budgets_(o.budgets, l.tz, kWarnShare, kRetainNs) {
    for (const BudgetSpec& b : o.budgets) usd_ |= b.unit == BudgetUnit::kUsd;
    alert_fn_ = [this](const ::tokmeter::Finding& f, const rules::Observation* cause) {
      OnAlert(f, cause);
    };
    engine_.OnAlert(alert_fn_);
  }

  int Run() {
    analysis::FollowOptions fo;
    fo.read.path_tags = opts_.path_tags;
    fo.from_start = opts_.from_start;
    analysis::Follower follower(l_.inputs, fo);
    // What the files hold: read first, then fed in event time (files are
    // read one after another; the budgets' calendar periods and the
    // per-session rules want time order). The store keeps them compact
    // (strings interned) until they are sorted and fed, then goes.
    // Budgets kept per a tag the store does not keep (not a rules
    // dimension) get its values on the side, by the order events were added.
    std::vector<std::string> keys;
    for (const BudgetSpec& b : opts_.budgets) {
      const std::optional<rules::Dim> d = rules::ParseDim(b.key);
      if (!b.key.empty() && !(d && b.key == rules::DimName(*d)) &&
          std::find(keys.begin(), keys.end(), b.key) == keys.end())
        keys.push_back(b.key);
    }
    std::vector<std::vector<std::string>> values(keys.size());
    analysis::EventStore& store = *l_.store;
    auto hold = [&](const UsageEvent& e) {
      store.Add(e);
      for (size_t i = 0; i < keys.size(); ++i) values[i].emplace_back(e.tag(keys[i]));
    };
    Check(follower.Poll(hold));
    if (opts_.exit_at_eof) follower.ReleaseHeld(hold);
    store.Finish();
    UsageEvent tags;  // the side values of one event, for Observation::tag
    for (const analysis::StoredEvent& r : store.Range(0, 0)) {
      rules::Observation o = analysis::ToObservation(r, store);
      // Keys as the events that follow get them (HashKeys): by name.
      for (rules::Key& k : o.dims) k.id = rules::HashName(k.name);
      if (r.span) o.turn.id = rules::HashName(store.IdText(r.span));
      if (r.parent) o.parent.id = rules::HashName(store.IdText(r.parent));
      if (!keys.empty()) {
        tags.Clear();
        for (size_t i = 0; i < keys.size(); ++i) tags.SetTag(keys[i], values[i][r.seq]);
        o.event = &tags;
      }
      Feed(o);
    }
    values = {};
    l_.store.reset();
    Advance();
    Warnings(follower);
    const analysis::EventFn observe = [this](const UsageEvent& e) { Observe(e); };
    while (!opts_.exit_at_eof) {
      if (out_.format == Format::kTable) Draw(follower);
      std::this_thread::sleep_for(std::chrono::nanoseconds(opts_.interval_ns));
      Check(follower.Poll(observe));
      Advance();
      Warnings(follower);
    }
    if (out_.format == Format::kTable) {
      Draw(follower);
    } else {
      Summary(follower);
    }
    return kExitOk;
  }

 private:
  static rules::RuleOptions RuleOpts(const Options& o) {
    rules::RuleOptions ro;
    ro.window_ns = o.window_ns;
    ro.retain_ns = kRetainNs;
    return ro;
  }

  // Event time: the latest event, moving on with the wall clock since it
  // arrived while following live (a replay stays at its own time).
  int64_t Now() const {
    if (latest_ns_ == 0) return 0;
    if (opts_.exit_at_eof) return latest_ns_;
    return latest_ns_ + std::max<int64_t>(0, WallNs() - wall_at_latest_);
  }

  void Observe(const UsageEvent& e) {
    rules::Observation o = rules::FromEvent(e);
    rules::HashKeys(o);
    if (usd_ && o.counted()) {
      std::optional<double> c = l_.prices->Cost(e);
      o.cost = c ? *c : std::numeric_limits<double>::quiet_NaN();
    }
    Feed(o);
  }

  void Feed(const rules::Observation& o) {
    ++events_;
    if (o.time_ns > latest_ns_) {
      // Hours and periods that ended are judged as time moves on.
      if (latest_ns_ != 0 && o.time_ns / kMinuteNs != latest_ns_ / kMinuteNs) {
        engine_.Advance(latest_ns_);
        budgets_.Advance(latest_ns_);
      }
      latest_ns_ = o.time_ns;
      wall_at_latest_ = WallNs();
    }
    budgets_.Observe(o, &alert_fn_);
    engine_.Observe(o);
  }

  void Advance() {
    const int64_t now = Now();
    if (now == 0) return;
    budgets_.Advance(now);
    engine_.Advance(now);
  }

  void OnAlert(const ::tokmeter::Finding& f, const rules::Observation* cause) {
    ++alerts_;
    const int64_t t = cause != nullptr ? cause->time_ns : Now();
    json::object a = AlertJson(f, t, cause ? std::string(cause->trace_id) : "",
                               cause ? std::string(cause->span_id) : "", l_.tz);
    if (out_.format == Format::kJson) {
      WriteJsonLine(io_.out, a);
      io_.out.flush();
      return;
    }
    recent_.push_back(std::move(a));
    if (recent_.size() > kRecentAlerts) recent_.pop_front();
  }

  void Check(const absl::Status& s) {
    if (!s.ok()) throw UsageError{std::string(s.message())};
  }

  void Warnings(analysis::Follower& f) {
    for (const std::string& w : f.TakeWarnings()) io_.err << "tokmeter: warning: " << w << "\n";
  }

  struct Counts {
    int64_t files = 0, lines = 0, bad_lines = 0, records = 0;
  };
  static Counts Count(const analysis::Follower& f) {
    Counts c;
    std::set<std::string> paths;
    for (const analysis::InputSummary& s : f.Summaries()) {
      paths.insert(s.path);
      c.lines += s.lines;
      c.bad_lines += s.skipped_lines;
      c.records += s.records;
    }
    c.files = int64_t(paths.size());
    return c;
  }

  void Summary(const analysis::Follower& f) {
    const Counts c = Count(f);
    json::object s{{"type", "summary"},
                   {"lines", c.lines},
                   {"bad_lines", c.bad_lines},
                   {"files", c.files},
                   {"events", events_},
                   {"alerts", alerts_},
                   {"latest_event",
                    latest_ns_ ? json::value(IsoTz(latest_ns_, l_.tz)) : json::value(nullptr)}};
    WriteJsonLine(io_.out, s);
    io_.out.flush();
  }

  // A bar of `width` cells for a share of the limit (full at 100 %).
  static std::string Bar(double share, int width) {
    const int full = int(std::lround(std::clamp(share, 0.0, 1.0) * width));
    std::string s;
    for (int i = 0; i < width; ++i) s += i < full ? "█" : "░";
    return s;
  }

  void Draw(const analysis::Follower& f) {
    const int64_t now = Now();
    const Counts c = Count(f);
    Page p;
    p.title = "tokmeter watch";
    p.meta.push_back(
        now ? absl::StrCat("As of ", IsoTz(now, l_.tz),
                           opts_.exit_at_eof ? " (latest event)" : " (latest event + time since)")
            : "No events yet");
    p.meta.push_back(absl::StrCat(c.files, " file(s), ", Thousands(c.lines), " lines (",
                                  c.bad_lines, " bad), ", Thousands(events_), " events, ", alerts_,
                                  " alert(s)"));
    if (now) {
      const rules::WindowView w = engine_.spikes().At(now);
      p.Heading(
          absl::StrCat("Window ", IsoTz(w.start_ns, l_.tz), " (", w.width_ns / kMinuteNs, " min)"));
      Table t;
      t.cols = {{"", false, false, 0, "figure"}, {"Value", true, false, 0, "value"}};
      t.Add({Cell("Tokens"), Cell(Thousands(w.tokens))});
      t.Add({Cell("Requests"), Cell(Thousands(w.requests))});
      if (w.rate_limited) t.Add({Cell("Rate limited (429)"), Cell(Thousands(w.rate_limited))});
      if (w.baseline.threshold != INT64_MAX) {
        t.Add({Cell("Baseline p50 / p95"),
               Cell(absl::StrCat(Compact(w.baseline.p50), " / ", Compact(w.baseline.p95)))});
        t.Add({Cell("Spike threshold"), Cell(Compact(double(w.baseline.threshold)))});
        if (w.baseline.p50 > 0)
          t.Add({Cell("× median"), Cell(absl::StrFormat("%.1f", double(w.tokens) / w.baseline.p50),
                                        absl::StrFormat("%.3f", double(w.tokens) / w.baseline.p50),
                                        w.spike ? Style::kBad : Style::kNone)});
      } else {
        t.Add({Cell("Baseline"), Cell("too little history yet", "", Style::kDim)});
      }
      p.AddTable(std::move(t), true);
      Table top;
      top.cols = {{"Top", false, false, 0, "kind"},
                  {"Name", false, true, 0, "name"},
                  {"Tokens / calls", true, false, 0, "value"}};
      for (int k = 0; k < 4; ++k) {
        int n = 0;
        for (const auto& [name, v] : w.top[k]) {
          if (n++ == kTopRows) break;
          top.Add({Cell(rules::kTopNames[k]), Cell(name), Cell(Thousands(v))});
        }
      }
      if (!top.rows.empty()) p.AddTable(std::move(top));
    }
    if (!opts_.budgets.empty()) {
      p.Heading("Budgets");
      Table t;
      t.cols = {{"Budget", false, true, 2, "budget"}, {"Scope", false, true, 0, "scope"},
                {"Used", true, false, 0, "used"},     {"Limit", true, false, 0, "limit"},
                {"%", true, false, 0, "share"},       {"", false, false, 1, "bar"},
                {"Level", false, false, 0, "level"}};
      std::vector<rules::BudgetStatus> st = budgets_.Statuses(now);
      const int bar = out_.render.width > 0 && out_.render.width < 90 ? 10 : 20;
      for (size_t i = 0; i < st.size() && i < kBudgetRows; ++i) {
        const rules::BudgetStatus& s = st[i];
        const BudgetSpec& b = opts_.budgets[size_t(s.spec)];
        std::string level;
        Style style = Style::kGood;
        if (s.forecast >= 0) {
          std::string_view basis;
          level = std::string(
              rules::QuotaLevel(std::max(0.0, 1 - s.share), s.forecast / b.limit, &basis));
          style = LevelStyle(level);
        } else {
          level = s.share >= 1            ? (b.hard ? "over (deny)" : "over")
                  : s.share >= kWarnShare ? "high"
                                          : "ok";
          style = s.share >= 1            ? Style::kCritical
                  : s.share >= kWarnShare ? Style::kWarning
                                          : Style::kGood;
        }
        t.Add({Cell(b.text), Cell(ScopeOf(b, s.value)), Cell(AmountText(b.unit, s.consumed)),
               Cell(AmountText(b.unit, b.limit)), Cell(absl::StrFormat("%.1f%%", s.share * 100)),
               Cell(Bar(s.share, bar), "", style), Cell(level, level, style)});
      }
      if (st.empty()) {
        p.Text("No consumption in any budget's scope yet.", Style::kDim);
      } else {
        if (st.size() > kBudgetRows)
          t.Add({Cell(absl::StrCat("… ", st.size() - kBudgetRows, " more scopes"))});
        p.AddTable(std::move(t));
      }
    }
    p.Heading("Recent alerts");
    if (recent_.empty()) {
      p.Text("No alerts.", Style::kGood);
    } else {
      std::vector<std::pair<std::string, Style>> items;
      for (auto it = recent_.rbegin(); it != recent_.rend(); ++it) {
        const json::object& a = *it;
        items.emplace_back(
            absl::StrCat(Str(a, "timestamp"), " [", Str(a, "severity"), "] ", Str(a, "rule"), " — ",
                         Str(a, "subject"),
                         a.contains("threshold")
                             ? absl::StrFormat(" (%.0f%% of %s)", Dbl(a, "threshold") * 100,
                                               Str(a, "budget"))
                             : ""),
            SeverityStyle(Str(a, "severity")));
      }
      p.List(std::move(items));
    }
    if (io_.out_is_tty && !opts_.exit_at_eof) io_.out << "\x1b[H\x1b[2J";
    WriteTerminal(io_.out, p, out_.render);
    io_.out.flush();
  }

  const Options& opts_;
  Loaded& l_;
  const Output& out_;
  Io& io_;
  rules::RuleEngine engine_;
  rules::BudgetTracker budgets_;
  rules::AlertFn alert_fn_;
  bool usd_ = false;
  int64_t latest_ns_ = 0, wall_at_latest_ = 0;
  int64_t events_ = 0, alerts_ = 0;
  std::deque<json::object> recent_;
};

int Run(const std::vector<std::string>& args, Io& io) {
  CommonFlags c;
  std::string window = "5m", interval = "1s";
  std::vector<std::string> budgets;
  Options o;
  po::options_description d("watch options");
  d.add_options()("help,h", "show this help");
  d.add_options()("format,f", po::value(&c.format),
                  "table|json (default: table on a terminal, json otherwise)")(
      "from-start", po::bool_switch(&o.from_start),
      "read what the files hold first (in event time), then follow; default: start at their end")(
      "exit-at-eof", po::bool_switch(&o.exit_at_eof),
      "stop when the files end (a replay); JSON ends with a summary line")(
      "window", po::value(&window), "spike/retry-storm window (default 5m)")(
      "budget", po::value(&budgets)->composing(),
      "SCOPE=LIMIT[/PERIOD][,hard], repeatable: total=300M/month, session=2M, "
      "job:heartbeat=500k/day, cost=50/day")("interval", po::value(&interval),
                                             "refresh and poll interval (default 1s)")(
      "tz", po::value(&c.tz), "time zone for calendar budgets and times (default UTC)")(
      "claude", po::bool_switch(&c.claude),
      "follow Claude Code's logs (~/.claude/projects, $CLAUDE_CONFIG_DIR, ...)")(
      "codex", po::bool_switch(&c.codex), "follow Codex's logs (~/.codex/sessions, $CODEX_HOME)")(
      "path-tags", po::value(&c.path_tags), "e.g. 'runs/{workflow}/{run}/*'")(
      "pricing", po::value(&c.pricing), "price table JSON file (cost budgets)")(
      "color", po::value(&c.color), "auto | always | never (default auto; NO_COLOR honoured)")(
      "input", po::value(&c.inputs)->multitoken(), "files and directories to follow");
  if (!ParseFlags(args, d, "watch", "[PATH...]", io)) return kExitOk;
  if (c.format == "md" || c.format == "markdown" || c.format == "html" || c.format == "csv")
    throw UsageError{absl::StrCat("--format ", c.format, ": `watch` renders table|json")};
  Output out = ResolveOutput(c, kTableBit | kJsonBit, "watch", io);
  o.window_ns = ParseDurationFlag("window", window);
  if (o.window_ns == 0) throw UsageError{"--window: must be a duration (e.g. 5m)"};
  o.interval_ns = ParseDurationFlag("interval", interval);
  if (o.interval_ns == 0) throw UsageError{"--interval: must be a duration (e.g. 1s, 250ms)"};
  for (const std::string& b : budgets) {
    auto spec = ParseBudget(b);
    if (!spec.ok()) throw UsageError{absl::StrCat("--budget: ", spec.status().message())};
    o.budgets.push_back(std::move(*spec));
  }
  for (const std::string& in : c.inputs)
    if (in == "-") throw UsageError{"watch: follows files and directories, not stdin (-)"};
  Loaded l = Prepare(c, io);
  o.path_tags = c.path_tags;
  return Watch(o, l, out, io).Run();
}

}  // namespace

void Register(CommandList& list) {
  list.push_back({"watch",
                  "follow growing logs live: budget thresholds and rule alerts as they fire "
                  "(--budget total=300M/month, --from-start, --exit-at-eof)",
                  55, &Run});
}

}  // namespace tokmeter::cli::watch_cmd
