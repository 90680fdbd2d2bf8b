// The `tokmeter` command (cli.h): the usage text and dispatch to the
// commands of src/cli/commands/ (common.h Commands()).
#include "src/cli/cli.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/cli/common.h"
#include "src/cli/page.h"
#include "tokmeter/version.h"

namespace tokmeter::cli {
namespace {

std::string Usage() {
  std::string s = R"(usage: tokmeter <command> [options] [INPUT...]

Reads usage logs and explains where the tokens went. INPUT: files,
directories, - for stdin (tokmeter JSONL and protobuf, token-usage.jsonl,
turn_summary lines, Claude Code and Codex transcripts, OTLP JSON; .gz/.zst).
With no INPUT, the agents' own logs: ~/.claude/projects and
~/.config/claude/projects (or $CLAUDE_CONFIG_DIR), ~/.codex/sessions and
archived_sessions (or under $CODEX_HOME); --claude / --codex pick one.

commands:
)";
  for (const Command& c : Commands()) {
    std::string name(c.name);
    std::string pad(name.size() < 10 ? 10 - name.size() : 1, ' ');
    for (const std::string& line : Wrap(std::string(c.summary), 66)) {
      absl::StrAppend(&s, "  ", name, pad, line, "\n");
      name.clear();
      pad.assign(10, ' ');
    }
  }
  absl::StrAppend(&s, R"(
common options:
  --format FORMAT     table|json|md|html (csv for tables); default table on a
                      terminal, json otherwise
  --since, --until    YYYY-MM-DD (in --tz, --until inclusive) or RFC 3339
  --as-of TIME        "now" for periods that end now (default: the latest
                      event); --now: the wall clock
  --tz ZONE           time zone for days and months (default UTC)
  --color WHEN        auto|always|never (NO_COLOR honoured); width from
                      $COLUMNS or the terminal
  --path-tags PATTERN e.g. 'runs/{workflow}/{run}/*'
  --pricing FILE      price table (default: the built-in data/pricing.json)
Run `tokmeter <command> --help` for the command's own options;
`tokmeter --version` prints the version.
)");
  return s;
}

int Dispatch(const std::vector<std::string>& args, Io& io) {
  if (args.empty()) {
    io.err << Usage();
    return kExitUsage;
  }
  const std::string& cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    io.out << Usage();
    return kExitOk;
  }
  if (cmd == "--version" || cmd == "version") {
    io.out << "tokmeter " << TOKMETER_VERSION_STRING << "\n";
    return kExitOk;
  }
  std::vector<std::string> names;
  for (const Command& c : Commands()) {
    if (c.name == cmd) return c.run(rest, io);
    names.emplace_back(c.name);
  }
  std::string s = Suggest(cmd, names);
  io.err << "tokmeter: unknown command '" << cmd << "'"
         << (s.empty() ? "" : absl::StrCat(" (did you mean `tokmeter ", s, "`?)")) << "\n\n"
         << Usage();
  return kExitUsage;
}

}  // namespace

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  try {
    Io io{out, err, Env::FromProcess()};
    if (&out == &std::cout && isatty(STDOUT_FILENO)) {
      io.out_is_tty = true;
      winsize ws{};
      if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) io.tty_columns = ws.ws_col;
    }
    return Dispatch(args, io);
  } catch (const UsageError& e) {
    err << "tokmeter: " << e.message << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    err << "tokmeter: internal error: " << e.what() << "\n";
    return kExitInternal;
  } catch (...) {
    err << "tokmeter: internal error\n";
    return kExitInternal;
  }
}

}  // namespace tokmeter::cli
