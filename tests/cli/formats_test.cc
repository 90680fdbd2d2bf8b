// Every command renders every format its help lists; convert picks its
// output format from the extension or --to and never overwrites its input.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"

namespace tokmeter::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The formats a command's --help lists for --format ("table|json|md|html").
std::vector<std::string> AdvertisedFormats(const std::string& command) {
  Result help = Tokmeter({command, "--help"});
  EXPECT_EQ(help.rc, 0);
  const size_t at = help.out.find("--format");
  EXPECT_NE(at, std::string::npos) << command;
  if (at == std::string::npos) return {};
  std::string line = help.out.substr(at, help.out.find('\n', at) - at);
  std::string list = line.substr(line.find_first_of("tjmhc", 12));
  list = list.substr(0, list.find(' '));
  return absl::StrSplit(list, '|');
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(CliFormatsTest, EveryCommandRendersEveryFormatItAdvertises) {
  const std::vector<std::vector<std::string>> commands = {{"report"},
                                                          {"detect"},
                                                          {"top", "--window", "all"},
                                                          {"spikes"},
                                                          {"quota", "--limit", "1M"},
                                                          {"daily"},
                                                          {"monthly"},
                                                          {"session"},
                                                          {"blocks"}};
  for (const auto& c : commands) {
    const std::vector<std::string> formats = AdvertisedFormats(c[0]);
    EXPECT_GE(formats.size(), 4u) << c[0];
    for (const auto& f : formats) {
      std::vector<std::string> args = c;
      args.insert(args.end(), {"--format", f, Data("usage.jsonl"), Data("bad.jsonl")});
      Result r = Tokmeter(args);
      EXPECT_EQ(r.rc, 0) << c[0] << " --format " << f << ": " << r.err;
      EXPECT_FALSE(r.out.empty()) << c[0] << " " << f;
      if (f == "html") EXPECT_EQ(r.out.rfind("<!DOCTYPE html>", 0), 0u) << c[0];
      if (f == "json") EXPECT_EQ(r.doc().at("command").as_string(), c[0]);
      if (f == "csv") EXPECT_THAT(r.out.substr(0, r.out.find('\n')), HasSubstr(",")) << c[0];
    }
  }
  // compare, with its two inputs.
  for (const auto& f : AdvertisedFormats("compare")) {
    Result r = Tokmeter({"compare", "--format", f, Data("usage.jsonl"), Data("bad.jsonl")});
    EXPECT_EQ(r.rc, 0) << "compare --format " << f << ": " << r.err;
  }
  // A format a command does not render is refused with the list it does.
  Result quota_csv = Tokmeter({"quota", "--limit", "1M", "--format", "csv", Data("usage.jsonl")});
  EXPECT_EQ(quota_csv.rc, 2);
  EXPECT_THAT(quota_csv.err, HasSubstr("`quota` renders table|json|md|html"));
}

// CSV: raw numbers, one line per row (no breakdown or total rows).
TEST(CliFormatsTest, CsvOfDaily) {
  Result r = Tokmeter({"daily", "--format", "csv", Data("usage.jsonl"), Data("bad.jsonl")});
  ASSERT_EQ(r.rc, 0) << r.err;
  // Totals of the fixtures (cli_test.cc): 150,783 in, 2,745 out, 180,088
  // cache read, 69,042 cache write, 402,658 in all, 5 requests. Cost: the
  // priced claude-sonnet-4-5 part, 783 × 3 + 1,745 × 15 + 180,088 × 0.3 +
  // 69,042 × 3.75 = 341,457.9 per M = $0.341458 (mystery-model-9 unpriced).
  EXPECT_EQ(r.out,
            "date,models,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,"
            "total_tokens,requests,tool_calls,rate_limited,cost_usd\r\n"
            "2026-11-23,\"claude-sonnet-4-5, mystery-model-9\",150783,2745,180088,69042,402658,5,"
            "0,0,0.341458\r\n");
}

TEST(CliConvertTest, RefusesToOverwriteItsInput) {
  TempDir dir("convert_same");
  const std::string in = dir.Write("same.jsonl", Slurp(Data("usage.jsonl")));
  Result r = Tokmeter({"convert", in, in});
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("is the input file"));
  EXPECT_EQ(Slurp(in), Slurp(Data("usage.jsonl")));
  // The same file by another name.
  Result r2 = Tokmeter({"convert", in, dir.path() + "/./same.jsonl"});
  EXPECT_EQ(r2.rc, 2);
  EXPECT_EQ(Slurp(in), Slurp(Data("usage.jsonl")));
}

TEST(CliConvertTest, OutputFormatFromTheExtensionOrTo) {
  TempDir dir("convert_ext");
  const std::string csv = dir.path() + "/u.csv";
  Result r = Tokmeter({"convert", Data("usage.jsonl"), csv});
  EXPECT_EQ(r.rc, 2);
  EXPECT_THAT(r.err, HasSubstr("cannot tell the output format from"));
  EXPECT_FALSE(std::filesystem::exists(csv));
  // JSONL to JSONL is not a conversion.
  Result same_format = Tokmeter({"convert", Data("usage.jsonl"), dir.path() + "/copy.jsonl"});
  EXPECT_EQ(same_format.rc, 2);
  EXPECT_THAT(same_format.err, HasSubstr("already JSONL"));
  EXPECT_EQ(Tokmeter({"convert", "--to", "yaml", Data("usage.jsonl"), csv}).rc, 2);
#ifdef TOKMETER_CLI_HAVE_PROTO
  const std::string pb = dir.path() + "/u.bin";
  Result to_pb = Tokmeter({"convert", "--to", "pb", Data("usage.jsonl"), pb});
  ASSERT_EQ(to_pb.rc, 0) << to_pb.err;
  EXPECT_EQ(Slurp(pb).substr(1, 5), "TKMPB");
  const std::string back = dir.path() + "/back.jsonl";
  Result to_jsonl = Tokmeter({"convert", pb, back});
  ASSERT_EQ(to_jsonl.rc, 0) << to_jsonl.err;
  EXPECT_EQ(Slurp(back), Slurp(Data("usage.jsonl")));
#endif
}

TEST(CliConvertTest, HelpNamesTheOperands) {
  Result r = Tokmeter({"convert", "--help"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_THAT(r.out, HasSubstr("usage: tokmeter convert [options] IN OUT"));
  EXPECT_THAT(r.out, HasSubstr("--to"));
  EXPECT_THAT(r.out, Not(HasSubstr("--file")));
}

}  // namespace
}  // namespace tokmeter::cli::testing
