// tokmeter::cli: the `tokmeter` command run in-process.
#include <cstdio>
#include <sstream>

#include "tokmeter/cli/cli.h"
#include "tokmeter/version.h"

int main() {
  std::ostringstream out, err;
  int rc = tokmeter::cli::Run({"--version"}, out, err);
  std::printf("cli: %s", out.str().c_str());
  return rc == 0 && out.str() == "tokmeter " TOKMETER_VERSION_STRING "\n" ? 0 : 1;
}
