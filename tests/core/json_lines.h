// JSONL read back in the tests with Boost.JSON, an independent parser that
// also rejects invalid UTF-8: every line must parse (a line that does not
// fails the test) and be an object.
#ifndef TOKMETER_TESTS_CORE_JSON_LINES_H_
#define TOKMETER_TESTS_CORE_JSON_LINES_H_

#include <filesystem>
#include <fstream>
#include <istream>
#include <sstream>
#include <string>
#include <vector>

#include "boost/json.hpp"
#include "gtest/gtest.h"

namespace tokmeter::testing {

// Every line of `in`, parsed; `where` names the input in failure messages.
inline std::vector<boost::json::object> ParseJsonLines(std::istream& in, const std::string& where) {
  std::vector<boost::json::object> out;
  std::string line;
  while (std::getline(in, line)) {
    boost::json::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    EXPECT_FALSE(ec) << "bad line in " << where << ": " << line;
    if (!ec) out.push_back(v.as_object());
  }
  return out;
}

// The lines of the file at `path`.
inline std::vector<boost::json::object> ReadJsonLines(const std::filesystem::path& path) {
  std::ifstream in(path);
  return ParseJsonLines(in, path.string());
}

// The lines of `text`.
inline std::vector<boost::json::object> ParseJsonLines(const std::string& text) {
  std::istringstream in(text);
  return ParseJsonLines(in, "text");
}

}  // namespace tokmeter::testing

#endif  // TOKMETER_TESTS_CORE_JSON_LINES_H_
