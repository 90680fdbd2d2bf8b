// src/cli/cli.h — the `tokmeter` command, callable in-process.
#ifndef TOKMETER_CLI_CLI_H_
#define TOKMETER_CLI_CLI_H_

#include <ostream>
#include <string>
#include <vector>

namespace tokmeter::cli {

// Runs one `tokmeter` command. `args` are the arguments after the program
// name, e.g. {"report", "--format", "json", "logs/"}. Output goes to `out`,
// messages and progress to `err`. Returns the exit code: 0 success (also when
// there is no data), 1 internal error, 2 bad flag or unreadable input.
// Never throws. Thread-compatible: concurrent calls must use different
// streams.
int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace tokmeter::cli

#endif  // TOKMETER_CLI_CLI_H_
