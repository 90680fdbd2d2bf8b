// tests/cli/cli_testing.h — running the tokmeter command in-process, temp
// files and directories, and setting environment variables for one test.
#ifndef TOKMETER_TESTS_CLI_CLI_TESTING_H_
#define TOKMETER_TESTS_CLI_CLI_TESTING_H_

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "boost/json.hpp"
#include "src/cli/cli.h"

namespace tokmeter::cli::testing {

inline std::string Data(const std::string& name) {
  return std::string(TOKMETER_CLI_TEST_DATA) + "/" + name;
}

struct Result {
  int rc = -1;
  std::string out, err;
  boost::json::value parsed;  // `out` parsed, when it is JSON
  const boost::json::object& doc() const { return parsed.as_object(); }
};

inline Result Tokmeter(std::vector<std::string> args) {
  std::ostringstream out, err;
  Result r;
  r.rc = Run(args, out, err);
  r.out = out.str();
  r.err = err.str();
  boost::system::error_code ec;
  r.parsed = boost::json::parse(r.out, ec);
  if (ec || !r.parsed.is_object()) r.parsed = boost::json::object();
  return r;
}

inline std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("tokmeter_cli_test_" + std::to_string(getpid()) + "_" + name))
      .string();
}

// A fresh directory, removed with everything in it at scope exit.
class TempDir {
 public:
  explicit TempDir(const std::string& name) : path_(TempPath(name)) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  // Writes `text` to path()/rel (directories made); returns the full path.
  std::string Write(const std::string& rel, const std::string& text) const {
    std::filesystem::path p = std::filesystem::path(path_) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

 private:
  std::string path_;
};

// Sets (or, with nullopt, unsets) environment variables for one scope.
using EnvVars = std::map<std::string, std::optional<std::string>>;
class ScopedEnv {
 public:
  explicit ScopedEnv(EnvVars vars) {
    for (const auto& [k, v] : vars) {
      const char* old = std::getenv(k.c_str());
      saved_[k] = old ? std::optional<std::string>(old) : std::nullopt;
      if (v) {
        setenv(k.c_str(), v->c_str(), 1);
      } else {
        unsetenv(k.c_str());
      }
    }
  }
  ~ScopedEnv() {
    for (const auto& [k, v] : saved_) {
      if (v) {
        setenv(k.c_str(), v->c_str(), 1);
      } else {
        unsetenv(k.c_str());
      }
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

// A HOME with nothing in it, and none of the agents' variables: no test
// reads the machine's own agent logs.
inline ScopedEnv EmptyHome(const TempDir& home) {
  return ScopedEnv(EnvVars{{"HOME", home.path()},
                           {"XDG_CONFIG_HOME", std::nullopt},
                           {"CLAUDE_CONFIG_DIR", std::nullopt},
                           {"CODEX_HOME", std::nullopt},
                           {"COLUMNS", std::nullopt},
                           {"NO_COLOR", std::nullopt}});
}

// One Claude Code assistant line (streaming snapshot fields trimmed).
inline std::string ClaudeLine(const std::string& ts, const std::string& id, int64_t input,
                              int64_t output, int64_t cache_read, int64_t cache_write,
                              const std::string& session = "s1",
                              const std::string& model = "claude-sonnet-4-5-20250929") {
  return R"({"parentUuid":null,"isSidechain":false,"message":{"model":")" + model + R"(","id":")" +
         id +
         R"(","type":"message","role":"assistant","content":[],"stop_reason":"end_turn","usage":{"input_tokens":)" +
         std::to_string(input) + R"(,"cache_creation_input_tokens":)" +
         std::to_string(cache_write) + R"(,"cache_read_input_tokens":)" +
         std::to_string(cache_read) + R"(,"output_tokens":)" + std::to_string(output) +
         R"(}},"requestId":"req_)" + id + R"(","type":"assistant","uuid":"u-)" + id +
         R"(","timestamp":")" + ts + R"(","cwd":"/home/dev/p","sessionId":")" + session +
         R"(","version":"2.1.200"})" + "\n";
}

}  // namespace tokmeter::cli::testing

#endif  // TOKMETER_TESTS_CLI_CLI_TESTING_H_
