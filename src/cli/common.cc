// What every command shares (common.h).
#include "src/cli/common.h"

#include <pwd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"

namespace tokmeter::cli {

namespace po = boost::program_options;
namespace json = boost::json;
namespace fs = std::filesystem;
using analysis::Agg;
using analysis::Group;
using analysis::StoredEvent;

// ------------------------------------------------------------ environment --

Env Env::FromProcess() {
  Env e;
  auto get = [](const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
  };
  e.home = get("HOME");
  if (e.home.empty()) {
    if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) e.home = pw->pw_dir;
  }
  e.xdg_config_home = get("XDG_CONFIG_HOME");
  e.claude_config_dir = get("CLAUDE_CONFIG_DIR");
  e.codex_home = get("CODEX_HOME");
  int cols = 0;
  if (absl::SimpleAtoi(get("COLUMNS"), &cols) && cols > 0) e.columns = cols;
  e.no_color = !get("NO_COLOR").empty();
  e.dumb_terminal = get("TERM") == "dumb";
  return e;
}

// ------------------------------------------------------------- suggestions --

namespace {

// Optimal string alignment distance (Levenshtein plus adjacent swaps).
int EditDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = int(i);
  for (size_t j = 0; j <= m; ++j) d[0][j] = int(j);
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}

}  // namespace

std::string Suggest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  int best_d = 1 << 20;
  const std::string w = absl::AsciiStrToLower(absl::string_view(word.data(), word.size()));
  for (const auto& c : candidates) {
    const int d = EditDistance(w, c);
    if (d < best_d) best_d = d, best = c;
  }
  // Close enough: a third of the word (at least 1, at most 3 edits), or the
  // candidate starts with the word.
  const int allowed = std::clamp(int(w.size()) / 3, 1, 3);
  if (best_d <= allowed) return best;
  for (const auto& c : candidates)
    if (w.size() >= 3 && c.rfind(w, 0) == 0) return c;
  return "";
}

// ---------------------------------------------------------------- formats --

std::string FormatList(unsigned formats) {
  std::vector<std::string> v;
  if (formats & kTableBit) v.push_back("table");
  if (formats & kJsonBit) v.push_back("json");
  if (formats & kMarkdownBit) v.push_back("md");
  if (formats & kHtmlBit) v.push_back("html");
  if (formats & kCsvBit) v.push_back("csv");
  return absl::StrJoin(v, "|");
}

void AddCommonFlags(po::options_description& d, CommonFlags& c, unsigned formats) {
  const std::string format_help =
      absl::StrCat(FormatList(formats), " (default: table on a terminal, json otherwise)");
  d.add_options()("help,h", "show this help");
  d.add_options()("format,f", po::value(&c.format), format_help.c_str());
  d.add_options()("since", po::value(&c.since), "YYYY-MM-DD (in --tz) or RFC 3339")(
      "until", po::value(&c.until), "YYYY-MM-DD (inclusive) or RFC 3339 (exclusive)")(
      "as-of", po::value(&c.as_of),
      "'now' for periods that end now: RFC 3339, or YYYY-MM-DD (the end of that day); "
      "default: the latest event")("now", po::bool_switch(&c.now),
                                   "'now' is the wall clock, not the latest event")(
      "tz", po::value(&c.tz), "time zone for days and months (default UTC)")(
      "claude", po::bool_switch(&c.claude),
      "read Claude Code's logs (~/.claude/projects, $CLAUDE_CONFIG_DIR, ...)")(
      "codex", po::bool_switch(&c.codex), "read Codex's logs (~/.codex/sessions, $CODEX_HOME)")(
      "path-tags", po::value(&c.path_tags), "e.g. 'runs/{workflow}/{run}/*'")(
      "pricing", po::value(&c.pricing), "price table JSON file")(
      "color", po::value(&c.color), "auto | always | never (default auto; NO_COLOR honoured)")(
      "input", po::value(&c.inputs)->multitoken(), "input files, directories, -");
}

bool ParseFlags(const std::vector<std::string>& args, po::options_description& d,
                const std::string& command, const std::string& operands, Io& io,
                const char* positional) {
  po::positional_options_description pos;
  pos.add(positional, -1);
  po::variables_map vm;
  try {
    po::store(
        po::command_line_parser(args)
            .options(d)
            .positional(pos)
            .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
            .run(),
        vm);
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    std::string name = e.get_option_name();
    std::string bare = name;
    while (!bare.empty() && bare[0] == '-') bare.erase(0, 1);
    std::vector<std::string> names;
    for (const auto& o : d.options())
      if (o->long_name() != positional) names.push_back(o->long_name());
    std::string s = Suggest(bare, names);
    throw UsageError{absl::StrCat(command, ": unknown option '", name, "'",
                                  s.empty() ? "" : absl::StrCat(" (did you mean --", s, "?)"),
                                  "; see `tokmeter ", command, " --help`")};
  } catch (const po::error& e) {
    throw UsageError{absl::StrCat(command, ": ", e.what())};
  }
  if (vm.count("help")) {
    io.out << "usage: tokmeter " << command << " [options] " << operands << "\n\n";
    for (const auto& c : Commands())
      if (c.name == command) io.out << c.summary << "\n\n";
    // The positional catch-all is not an option a user types.
    po::options_description shown(absl::StrCat(command, " options"));
    for (const auto& o : d.options())
      if (o->long_name() != positional) shown.add(o);
    io.out << shown;
    return false;
  }
  return true;
}

Output ResolveOutput(const CommonFlags& c, unsigned formats, const std::string& command, Io& io) {
  Output o;
  const std::string& f = c.format;
  if (f.empty()) {
    o.format = io.out_is_tty && (formats & kTableBit) ? Format::kTable : Format::kJson;
  } else {
    static const std::vector<std::pair<std::string, Format>> kNames = {
        {"table", Format::kTable},       {"json", Format::kJson}, {"md", Format::kMarkdown},
        {"markdown", Format::kMarkdown}, {"html", Format::kHtml}, {"csv", Format::kCsv}};
    static const unsigned kBits[] = {kTableBit, kJsonBit, kMarkdownBit, kHtmlBit, kCsvBit};
    bool found = false;
    for (const auto& [name, fmt] : kNames) {
      if (name != f) continue;
      found = true;
      if (!(formats & kBits[int(fmt)]))
        throw UsageError{
            absl::StrCat("--format ", f, ": `", command, "` renders ", FormatList(formats))};
      o.format = fmt;
    }
    if (!found) {
      std::vector<std::string> names;
      for (const auto& s : absl::StrSplit(FormatList(formats), '|')) names.emplace_back(s);
      std::string s = Suggest(f, names);
      throw UsageError{absl::StrCat("--format: unknown format '", f, "' (", FormatList(formats),
                                    ")", s.empty() ? "" : absl::StrCat("; did you mean ", s, "?"))};
    }
  }
  if (c.color != "auto" && c.color != "always" && c.color != "never")
    throw UsageError{absl::StrCat("--color: '", c.color, "' is not auto, always or never")};
  o.render.color = c.color == "always" || (c.color == "auto" && io.out_is_tty && !io.env.no_color &&
                                           !io.env.dumb_terminal);
  o.render.width = io.env.columns > 0 ? io.env.columns : io.tty_columns;
  return o;
}

// ------------------------------------------------------------------- time --

int64_t Minus(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return b > 0 ? INT64_MIN : INT64_MAX;
  return r;
}

int64_t ParseTimeFlag(const std::string& flag, const std::string& s, const absl::TimeZone& tz,
                      bool end_of_day) {
  absl::Time t;
  absl::CivilDay day;
  std::string err;
  if (s.size() == 10 && absl::ParseCivilTime(s, &day)) {
    t = absl::FromCivil(end_of_day ? day + 1 : day, tz);
  } else if (!absl::ParseTime(absl::RFC3339_full, s, &t, &err)) {
    throw UsageError{
        absl::StrCat("--", flag, ": bad time '", s,
                     "' (expected YYYY-MM-DD or RFC 3339, e.g. 2026-11-23T09:00:00Z)")};
  }
  // The readers' range (docs/READERS.md), so that nanoseconds fit in int64.
  const int64_t year = absl::ToCivilYear(t, absl::UTCTimeZone()).year();
  if (year < 1900 || year > 2200)
    throw UsageError{absl::StrCat("--", flag, ": time '", s, "' is outside years 1900-2200")};
  return absl::ToUnixNanos(t);
}

int64_t ParseDurationFlag(const std::string& flag, const std::string& s) {
  absl::Duration d;
  if (s == "all") return 0;
  if (!absl::ParseDuration(s, &d) || d <= absl::ZeroDuration())
    throw UsageError{absl::StrCat("--", flag, ": bad duration '", s, "' (e.g. 5m, 1h, 24h)")};
  if (d > absl::Hours(24 * 366 * 100))
    throw UsageError{absl::StrCat("--", flag, ": duration '", s, "' is over 100 years")};
  return absl::ToInt64Nanoseconds(d);
}

std::string Iso(int64_t ns) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixNanos(ns), absl::UTCTimeZone());
}
std::string IsoTz(int64_t ns, const absl::TimeZone& tz) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", absl::FromUnixNanos(ns), tz);
}
std::string DayOf(int64_t ns, const absl::TimeZone& tz) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixNanos(ns), tz);
}

double Round(double v, int digits) {
  if (!std::isfinite(v)) return 0;
  double p = std::pow(10.0, digits);
  return std::round(v * p) / p;
}

std::string_view NowSourceName(NowSource s) {
  switch (s) {
    case NowSource::kLatestEvent:
      return "latest-event";
    case NowSource::kFlag:
      return "as-of";
    case NowSource::kClock:
      return "clock";
    case NowSource::kClockNoEvents:
      return "clock-no-events";
  }
  return "latest-event";
}

// ---------------------------------------------------------------- inputs --

namespace {

bool IsDir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

std::string Tilde(const std::string& path, const std::string& home) {
  if (!home.empty() && path.rfind(home + "/", 0) == 0) return "~" + path.substr(home.size());
  return path;
}

}  // namespace

std::vector<Location> DefaultLocations(const Env& env, bool claude, bool codex,
                                       std::vector<std::string>* looked_in) {
  std::vector<Location> out;
  std::set<std::string> seen;
  auto add = [&](const fs::path& p, const char* agent) {
    looked_in->push_back(p.string());
    if (!IsDir(p)) return;
    std::error_code ec;
    fs::path canon = fs::weakly_canonical(p, ec);
    if (!seen.insert(ec ? p.string() : canon.string()).second) return;
    out.push_back(Location{p.string(), agent});
  };
  const fs::path home = env.home;
  if (claude) {
    if (!env.claude_config_dir.empty()) {
      // A comma-separated list; each entry a config dir or its projects/ dir.
      for (absl::string_view part : absl::StrSplit(env.claude_config_dir, ',')) {
        std::string entry(absl::StripAsciiWhitespace(part));
        if (entry.empty()) continue;
        fs::path p(entry);
        if (IsDir(p / "projects")) {
          add(p / "projects", "Claude Code");
        } else if (p.filename() == "projects" ||
                   (p.filename().empty() && p.parent_path().filename() == "projects")) {
          add(p, "Claude Code");
        } else {
          add(p / "projects", "Claude Code");
        }
      }
    } else {
      const fs::path xdg =
          env.xdg_config_home.empty() ? home / ".config" : fs::path(env.xdg_config_home);
      add(xdg / "claude" / "projects", "Claude Code");
      if (!home.empty()) add(home / ".claude" / "projects", "Claude Code");
    }
  }
  if (codex) {
    const fs::path codex_home = env.codex_home.empty() ? home / ".codex" : fs::path(env.codex_home);
    if (!codex_home.empty()) {
      add(codex_home / "sessions", "Codex");
      add(codex_home / "archived_sessions", "Codex");
    }
  }
  return out;
}

namespace {

Loaded PrepareCommon(const CommonFlags& c) {
  Loaded l;
  l.tz_name = c.tz;
  if (!absl::LoadTimeZone(c.tz, &l.tz))
    throw UsageError{absl::StrCat("--tz: unknown time zone '", c.tz,
                                  "' (an IANA name such as UTC, Europe/Paris, Asia/Tokyo)")};
  if (!c.since.empty()) l.since_ns = ParseTimeFlag("since", c.since, l.tz, false);
  if (!c.until.empty()) l.until_ns = ParseTimeFlag("until", c.until, l.tz, true);
  if (l.since_ns && l.until_ns && l.since_ns >= l.until_ns)
    throw UsageError{"--since is not before --until"};
  l.clock_ns = absl::ToUnixNanos(absl::Now());
  if (!c.as_of.empty()) {
    if (c.now) throw UsageError{"--as-of and --now both say what 'now' is: give one"};
    l.fixed_now_ns = ParseTimeFlag("as-of", c.as_of, l.tz, true);
    l.fixed_source = NowSource::kFlag;
  } else if (c.now) {
    l.fixed_now_ns = l.clock_ns;
    l.fixed_source = NowSource::kClock;
  }
  if (!c.pricing.empty()) {
    auto t = PriceTable::LoadFile(c.pricing);
    if (!t.ok()) throw UsageError{absl::StrCat("--pricing: ", t.status().message())};
    l.user_prices = std::move(*t);
    l.prices = &*l.user_prices;
  } else {
    l.prices = &PriceTable::Builtin();
  }
  const PriceTable* prices = l.prices;
  l.store = std::make_unique<analysis::EventStore>(
      [prices](const analysis::UsageEvent& e) { return prices->Cost(e); });
  return l;
}

}  // namespace

Loaded PrepareInputs(const CommonFlags& c, std::vector<std::string> inputs, Io& io) {
  Loaded l = PrepareCommon(c);
  l.inputs = std::move(inputs);
  return l;
}

Loaded Prepare(const CommonFlags& c, Io& io) {
  Loaded l = PrepareCommon(c);
  l.inputs = c.inputs;
  if (c.inputs.empty() || c.claude || c.codex) {
    const bool pick = c.claude || c.codex;
    std::vector<std::string> looked;
    std::vector<Location> locs =
        DefaultLocations(io.env, pick ? c.claude : true, pick ? c.codex : true, &looked);
    if (locs.empty() && c.inputs.empty()) {
      std::vector<std::string> shown;
      for (const auto& p : looked) shown.push_back(Tilde(p, io.env.home));
      throw UsageError{absl::StrCat(
          "no inputs given, and no agent logs found in ", absl::StrJoin(shown, ", "),
          " (give files, directories, or - for stdin; $CLAUDE_CONFIG_DIR and $CODEX_HOME "
          "name other places)")};
    }
    std::vector<std::string> said;
    for (const auto& loc : locs) {
      l.inputs.push_back(loc.path);
      said.push_back(absl::StrCat(Tilde(loc.path, io.env.home), " (", loc.agent, ")"));
    }
    if (!said.empty()) io.err << "tokmeter: reading " << absl::StrJoin(said, ", ") << "\n";
  }
  return l;
}

void Read(Loaded& l, const CommonFlags& c, bool filter, Io& io) {
  analysis::ReadOptions ro;
  ro.path_tags = c.path_tags;
  if (filter) {
    ro.since_unix_ns = l.since_ns;
    ro.until_unix_ns = l.until_ns;
    // A fixed "now" is the end of what has happened.
    if (l.fixed_now_ns && (!ro.until_unix_ns || l.fixed_now_ns < ro.until_unix_ns))
      ro.until_unix_ns = l.fixed_now_ns;
  }
  auto r =
      analysis::ReadInputs(l.inputs, ro, [&l](const analysis::UsageEvent& e) { l.store->Add(e); });
  if (!r.ok()) throw UsageError{std::string(r.status().message())};
  l.read = std::move(*r);
  l.store->Finish();
  const int64_t latest = l.store->latest_ns();
  l.now_ns = l.NowAt(latest);
  l.now_source = l.fixed_now_ns ? l.fixed_source
                 : latest       ? NowSource::kLatestEvent
                                : NowSource::kClockNoEvents;
}

// ------------------------------------------------------------- documents --

json::value CostJson(const Agg& a) {
  if (!a.HasCost()) return nullptr;
  return Round(a.cost_usd, 6);
}

json::object TotalsJson(const Agg& a) {
  json::object o;
  ForEachNamedBucket(a.tokens, [&o](std::string_view name, int64_t v) { o[name] = v; });
  o["total_tokens"] = a.total();
  o["requests"] = a.requests;
  o["tool_calls"] = a.tool_calls;
  o["rate_limited"] = a.rate_limited;
  o["retries"] = a.retries;
  o["errors"] = a.errors;
  o["events"] = a.events;
  o["cost_usd"] = CostJson(a);
  o["unpriced_tokens"] = a.unpriced_tokens;
  o["cache_hit_rate"] = Round(analysis::CacheHitRate(a.tokens));
  o["prompt_cache_share"] = Round(analysis::PromptCacheShare(a.tokens));
  o["input_output_ratio"] = Round(analysis::InputOutputRatio(a.tokens), 3);
  o["mean_request_ms"] =
      a.MeanRequestMs() >= 0 ? json::value(Round(a.MeanRequestMs(), 3)) : json::value(nullptr);
  o["first"] = a.events ? json::value(Iso(a.first_ns)) : json::value(nullptr);
  o["last"] = a.events ? json::value(Iso(a.last_ns)) : json::value(nullptr);
  return o;
}

json::array ModelsJson(const std::map<std::string, Agg>& by_model, int64_t group_total) {
  std::vector<std::pair<std::string, const Agg*>> v;
  for (const auto& [m, a] : by_model) {
    // Tool spans and other token-less events carry no model: not a model.
    if (a.total() == 0 && a.requests == 0) continue;
    v.emplace_back(m, &a);
  }
  std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) {
    return x.second->total() != y.second->total() ? x.second->total() > y.second->total()
                                                  : x.first < y.first;
  });
  json::array out;
  for (const auto& [m, a] : v) {
    json::object row;
    row["model"] = m.empty() ? "(unknown)" : m;
    row["share"] = group_total > 0 ? Round(double(a->total()) / double(group_total)) : 0.0;
    for (auto& kv : TotalsJson(*a)) row[kv.key()] = kv.value();
    out.push_back(std::move(row));
  }
  return out;
}

json::object GroupJson(const Group& g, const char* key_name) {
  json::object o;
  o[key_name] = g.key.empty() ? "(untagged)" : g.key;
  for (auto& kv : TotalsJson(g.agg)) o[kv.key()] = kv.value();
  o["runs"] = g.runs;
  o["requests_per_run"] = g.runs > 0 ? Round(double(g.agg.requests) / double(g.runs), 3) : 0.0;
  o["models"] = ModelsJson(g.by_model, g.agg.total());
  return o;
}

json::object FindingJson(const analysis::Finding& f) {
  json::object o;
  o["kind"] = f.kind;
  o["severity"] = std::string(analysis::SeverityName(f.severity));
  o["subject"] = f.subject;
  json::object keys;
  for (const auto& [k, v] : f.keys) keys[k] = v;
  o["keys"] = std::move(keys);
  json::object ev;
  for (const auto& [k, v] : f.evidence) {
    if (k == "fingerprint") {
      ev[k] = absl::StrFormat("%016x", static_cast<uint64_t>(v));
    } else {
      ev[k] = Round(v);
    }
  }
  o["evidence"] = std::move(ev);
  o["rule"] = f.rule;
  o["recommendation"] = f.recommendation;
  o["time"] = f.time_ns ? json::value(Iso(f.time_ns)) : json::value(nullptr);
  o["end"] = f.end_ns ? json::value(Iso(f.end_ns)) : json::value(nullptr);
  o["tokens"] = f.tokens;
  return o;
}

json::array InputsJson(const analysis::ReadResult& r) {
  json::array a;
  for (const auto& s : r.inputs) {
    json::array first_bad;
    for (int64_t l : s.first_bad_lines) first_bad.push_back(l);
    a.push_back(json::object{{"path", s.path},
                             {"format", s.format},
                             {"bytes", s.bytes},
                             {"lines", s.lines},
                             {"records", s.records},
                             {"skipped_lines", s.skipped_lines},
                             {"first_bad_lines", std::move(first_bad)},
                             {"duplicates", s.duplicates},
                             {"dropped_records", s.dropped_records},
                             {"empty", s.empty}});
  }
  return a;
}

json::object BaseDoc(const std::string& command, const Loaded& l, const analysis::Summary& sum,
                     int64_t from_ns, int64_t to_ns) {
  json::object d;
  d["schema"] = kSchema;
  d["command"] = command;
  d["generated_at"] = Iso(absl::ToUnixNanos(absl::Now()));
  d["tz"] = l.tz_name;
  d["as_of"] = IsoTz(l.now_ns, l.tz);
  d["as_of_source"] = std::string(NowSourceName(l.now_source));
  d["latest_event"] = l.store->latest_ns() ? json::value(Iso(l.store->latest_ns())) : nullptr;
  d["period"] =
      json::object{{"since", from_ns ? json::value(IsoTz(from_ns, l.tz)) : json::value(nullptr)},
                   {"until", to_ns ? json::value(IsoTz(to_ns, l.tz)) : json::value(nullptr)}};
  d["inputs"] = InputsJson(l.read);
  json::array empty, bad;
  for (const auto& s : l.read.inputs) {
    if (s.empty || s.records == 0) empty.push_back(json::value(s.path));
    if (s.skipped_lines > 0) bad.push_back(json::value(s.path));
  }
  d["empty_inputs"] = std::move(empty);
  d["inputs_with_bad_lines"] = std::move(bad);
  d["no_data"] = sum.total.events == 0;
  d["totals"] = TotalsJson(sum.total);
  json::array unpriced;
  for (const auto& m : sum.UnpricedModels(*l.store)) unpriced.push_back(json::value(m));
  d["unpriced_models"] = std::move(unpriced);
  return d;
}

json::object BaseDoc(const std::string& command, const Loaded& l, std::span<const StoredEvent> recs,
                     int64_t from_ns, int64_t to_ns) {
  return BaseDoc(command, l, analysis::Summarize(recs), from_ns, to_ns);
}

void Emit(Io& io, const json::object& doc, const Output& o,
          const std::function<void(const json::object&, Page&)>& page) {
  if (o.format == Format::kJson) {
    WriteJson(io.out, doc);
    return;
  }
  Page p;
  page(doc, p);
  switch (o.format) {
    case Format::kTable:
      WriteTerminal(io.out, p, o.render);
      break;
    case Format::kMarkdown:
      WriteMarkdown(io.out, p);
      break;
    case Format::kHtml:
      WriteHtml(io.out, p);
      break;
    case Format::kCsv:
      WriteCsv(io.out, p);
      break;
    case Format::kJson:
      break;
  }
}

}  // namespace tokmeter::cli
