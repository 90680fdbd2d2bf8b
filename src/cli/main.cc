// The `tokmeter` executable: argv → tokmeter::cli::Run.
#include <iostream>
#include <string>
#include <vector>

#include "src/cli/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  int rc = tokmeter::cli::Run(args, std::cout, std::cerr);
  std::cout.flush();
  return rc;
}
