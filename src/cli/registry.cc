// Commands(): every src/cli/commands/<file>.cc registers its commands through
// <file>_cmd::Register; CMake lists the files in command_files.inc.
#include <algorithm>

#include "src/cli/common.h"

#define TOKMETER_CLI_COMMAND_FILE(file) \
  namespace tokmeter::cli::file##_cmd { \
    void Register(CommandList& list);   \
  }
#include "src/cli/command_files.inc"
#undef TOKMETER_CLI_COMMAND_FILE

namespace tokmeter::cli {

const CommandList& Commands() {
  static const CommandList* list = [] {
    auto* l = new CommandList;
#define TOKMETER_CLI_COMMAND_FILE(file) file##_cmd::Register(*l);
#include "src/cli/command_files.inc"
#undef TOKMETER_CLI_COMMAND_FILE
    std::stable_sort(l->begin(), l->end(),
                     [](const Command& a, const Command& b) { return a.rank < b.rank; });
    return l;
  }();
  return *list;
}

}  // namespace tokmeter::cli
