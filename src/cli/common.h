// src/cli/common.h — what every `tokmeter` command shares: the command
// registry, the process environment read once, common flags (with typo
// suggestions), formats, the one notion of "now", loading inputs (and the
// agents' default log locations), and the JSON parts every document has.
//
// A command lives in src/cli/commands/<file>.cc and defines
//   namespace tokmeter::cli::<file>_cmd { void Register(CommandList& list); }
// src/cli/CMakeLists.txt lists the files and generates the calls, so adding a
// command is adding a file.
#ifndef TOKMETER_CLI_COMMON_H_
#define TOKMETER_CLI_COMMON_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "boost/json.hpp"
#include "boost/program_options.hpp"
#include "src/analysis/aggregate.h"
#include "src/analysis/detect.h"
#include "src/analysis/reader.h"
#include "src/analysis/store.h"
#include "src/cli/page.h"
#include "src/cli/render.h"
#include "src/pricing/pricing.h"

namespace tokmeter::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitUsage = 2;
inline constexpr const char* kSchema = "tokmeter-report/1";
inline constexpr int64_t kSecondNs = 1'000'000'000;
inline constexpr int64_t kDayNs = int64_t{86400} * kSecondNs;

// A usage error: message for stderr, exit 2.
struct UsageError {
  std::string message;
};

// The process environment, read once by Run() (commands never call getenv).
struct Env {
  std::string home;               // $HOME (else the password database)
  std::string xdg_config_home;    // $XDG_CONFIG_HOME ("" = unset)
  std::string claude_config_dir;  // $CLAUDE_CONFIG_DIR ("" = unset)
  std::string codex_home;         // $CODEX_HOME ("" = unset)
  int columns = 0;                // $COLUMNS (0 = unset or not a number)
  bool no_color = false;          // $NO_COLOR set and not empty
  bool dumb_terminal = false;     // $TERM is "dumb"
  static Env FromProcess();
};

// What a command writes to and knows about its terminal.
struct Io {
  std::ostream& out;
  std::ostream& err;
  Env env;
  bool out_is_tty = false;  // `out` is the process's stdout and a terminal
  int tty_columns = 0;      // its width (0 = unknown)
};

using CommandFn = int (*)(const std::vector<std::string>& args, Io& io);
struct Command {
  std::string_view name;
  std::string_view summary;  // one line of the usage text
  int rank = 0;              // order in the usage text
  CommandFn run = nullptr;
};
using CommandList = std::vector<Command>;
// Every command, by rank (generated from src/cli/commands/*.cc).
const CommandList& Commands();

// The closest candidate to `word` by edit distance (optimal string
// alignment), when it is close enough to be a likely typo; "" otherwise.
std::string Suggest(std::string_view word, const std::vector<std::string>& candidates);

// --------------------------------------------------------------- formats --

enum FormatBit : unsigned {
  kTableBit = 1,
  kJsonBit = 2,
  kMarkdownBit = 4,
  kHtmlBit = 8,
  kCsvBit = 16,
};
inline constexpr unsigned kDocumentFormats = kTableBit | kJsonBit | kMarkdownBit | kHtmlBit;
inline constexpr unsigned kTabularFormats = kDocumentFormats | kCsvBit;
std::string FormatList(unsigned formats);  // "table|json|md|html"

// ------------------------------------------------------------------ flags --

struct CommonFlags {
  std::vector<std::string> inputs;
  std::string format, since, until, tz = "UTC", path_tags, pricing, as_of, color = "auto";
  bool now = false, claude = false, codex = false;
};

// Adds the flags every reading command takes; --format lists `formats`.
void AddCommonFlags(boost::program_options::options_description& d, CommonFlags& c,
                    unsigned formats);
// Parses `args` (after the command name) into `desc`; positional arguments
// go to `positional`. Unknown flags get a suggestion. Returns false when
// --help was given (help printed to io.out).
bool ParseFlags(const std::vector<std::string>& args,
                boost::program_options::options_description& d, const std::string& command,
                const std::string& operands, Io& io, const char* positional = "input");

// How the command's output is rendered.
struct Output {
  Format format = Format::kJson;
  RenderOptions render;
};
Output ResolveOutput(const CommonFlags& c, unsigned formats, const std::string& command, Io& io);

// ------------------------------------------------------------------- time --

// RFC 3339, or YYYY-MM-DD in `tz` (its start, or with `end_of_day` its end).
int64_t ParseTimeFlag(const std::string& flag, const std::string& s, const absl::TimeZone& tz,
                      bool end_of_day);
// "5m", "24h"; "all" → 0. Bad → UsageError naming the flag.
int64_t ParseDurationFlag(const std::string& flag, const std::string& s);
// a − b, saturated to int64.
int64_t Minus(int64_t a, int64_t b);

std::string Iso(int64_t ns);                              // RFC 3339 UTC
std::string IsoTz(int64_t ns, const absl::TimeZone& tz);  // RFC 3339 in tz
std::string DayOf(int64_t ns, const absl::TimeZone& tz);  // YYYY-MM-DD in tz
double Round(double v, int digits = 6);

// ---------------------------------------------------------------- loading --

// "Now" for every command: the exclusive end of what has happened.
//   --as-of T      T (a date means the end of that day)
//   --now          the wall clock
//   default        just after the latest event; the wall clock when there is none
enum class NowSource { kLatestEvent, kFlag, kClock, kClockNoEvents };
std::string_view NowSourceName(NowSource s);  // latest-event | as-of | clock | clock-no-events

struct Loaded {
  std::optional<PriceTable> user_prices;
  const PriceTable* prices = nullptr;
  std::unique_ptr<analysis::EventStore> store;
  analysis::ReadResult read;
  absl::TimeZone tz;
  std::string tz_name;
  int64_t since_ns = 0, until_ns = 0;  // from the flags; 0 = unbounded
  std::vector<std::string> inputs;     // what was read (defaults resolved)
  // "Now": fixed_now_ns when --as-of or --now fixed it (0 otherwise); call
  // NowAt(latest) for the value, and now_ns/now_source after reading.
  int64_t fixed_now_ns = 0;
  NowSource fixed_source = NowSource::kLatestEvent;
  int64_t clock_ns = 0;
  int64_t now_ns = 0;
  NowSource now_source = NowSource::kLatestEvent;

  int64_t NowAt(int64_t latest_ns) const {
    if (fixed_now_ns) return fixed_now_ns;
    return latest_ns ? latest_ns + 1 : clock_ns;
  }
  // Records with time in [from, to) (0 = unbounded); needs Read().
  std::span<const analysis::StoredEvent> Select(int64_t from, int64_t to) const {
    return store->Range(from, to);
  }
};

// Parses the common flags, resolves the inputs (the agents' log locations
// when none are given, said on stderr) and makes the store; the command then
// says how the store treats records (StreamTo / KeepFrom) and calls Read().
Loaded Prepare(const CommonFlags& c, Io& io);
// Prepare for an explicit list of inputs (compare's two sides).
Loaded PrepareInputs(const CommonFlags& c, std::vector<std::string> inputs, Io& io);
// Reads the inputs. With `filter`, events outside --since/--until (and after
// a fixed now) are skipped by the reader. Sets now_ns / now_source.
void Read(Loaded& l, const CommonFlags& c, bool filter, Io& io);

// The agents' log locations that exist (Claude Code, Codex), for the flags.
struct Location {
  std::string path;
  std::string agent;  // "Claude Code" | "Codex"
};
std::vector<Location> DefaultLocations(const Env& env, bool claude, bool codex,
                                       std::vector<std::string>* looked_in);

// ------------------------------------------------------------- documents --

boost::json::object TotalsJson(const analysis::Agg& a);
boost::json::value CostJson(const analysis::Agg& a);
boost::json::array ModelsJson(const std::map<std::string, analysis::Agg>& by_model,
                              int64_t group_total);
boost::json::object GroupJson(const analysis::Group& g, const char* key_name);
boost::json::object FindingJson(const analysis::Finding& f);
boost::json::array InputsJson(const analysis::ReadResult& r);

// The parts every command's document has: schema, command, times ("now",
// period), inputs, totals, no_data.
boost::json::object BaseDoc(const std::string& command, const Loaded& l,
                            const analysis::Summary& sum, int64_t from_ns, int64_t to_ns);
boost::json::object BaseDoc(const std::string& command, const Loaded& l,
                            std::span<const analysis::StoredEvent> recs, int64_t from_ns,
                            int64_t to_ns);

// Writes `doc` in `o.format`: JSON as is, the others through `page` (the
// command's renderer of its document, page.h).
void Emit(Io& io, const boost::json::object& doc, const Output& o,
          const std::function<void(const boost::json::object&, Page&)>& page);

}  // namespace tokmeter::cli

#endif  // TOKMETER_CLI_COMMON_H_
