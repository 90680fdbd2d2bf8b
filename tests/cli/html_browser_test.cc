// The HTML report in headless Chromium (Debian's `chromium`): the page loads
// without script or console errors, ECharts draws every chart, the numbers
// on the page equal the JSON report's, and nothing is wider than a phone.
#include <stdio.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_testing.h"

namespace tokmeter::cli::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kChromium = "/usr/bin/chromium";

struct Page {
  std::string dom, log;
};

// Loads `html` at `width` × 900 px and returns the DOM after its scripts ran
// and Chromium's log (console messages are logged there).
Page Load(const TempDir& dir, const std::string& html, int width) {
  const std::string file = dir.Write(absl::StrCat("page", width, ".html"), html);
  const std::string profile = dir.path() + absl::StrCat("/profile", width);
  const std::string log = dir.path() + absl::StrCat("/chromium", width, ".log");
  const std::string cmd = absl::StrCat(
      "timeout 50 ", kChromium,
      " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
      " --disable-background-networking --disable-component-update --disable-sync"
      " --user-data-dir=",
      profile, " --window-size=", width,
      ",900 --virtual-time-budget=5000 --enable-logging=stderr --v=0 --dump-dom file://", file,
      " 2>", log);
  Page p;
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return p;
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) p.dom.append(buf, n);
  pclose(f);
  std::ifstream l(log);
  p.log.assign(std::istreambuf_iterator<char>(l), std::istreambuf_iterator<char>());
  return p;
}

// The value of attribute `name` on the first element whose tag text starts
// with `element` (e.g. "<html", "<div class=\"chart\" id=\"chart-0\"").
std::string Attr(const std::string& dom, const std::string& element, const std::string& name) {
  const size_t at = dom.find(element);
  if (at == std::string::npos) return "";
  const size_t end = dom.find('>', at);
  const std::string tag = dom.substr(at, end - at);
  const std::string key = " " + name + "=\"";
  const size_t k = tag.find(key);
  if (k == std::string::npos) return "";
  const size_t v = k + key.size();
  return tag.substr(v, tag.find('"', v) - v);
}

class CliHtmlBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kChromium))
      GTEST_SKIP() << kChromium << " is not installed (scripts/setup installs it)";
  }
};

TEST_F(CliHtmlBrowserTest, LoadsCleanAndShowsTheJsonNumbersAtPhoneWidth) {
  TempDir dir("browser");
  Result json = Tokmeter({"report", "--format", "json", Data("usage.jsonl"), Data("bad.jsonl")});
  Result html = Tokmeter({"report", "--format", "html", Data("usage.jsonl"), Data("bad.jsonl")});
  ASSERT_EQ(html.rc, 0) << html.err;
  Page p = Load(dir, html.out, 390);
  ASSERT_THAT(p.dom, HasSubstr("</html>")) << p.log;
  EXPECT_EQ(Attr(p.dom, "<html", "data-errors"), "") << p.log;
  EXPECT_THAT(p.log, Not(HasSubstr("CONSOLE"))) << p.log;
  // Every chart drawn: the timeline, the days, tokens by workflow and model.
  size_t charts = 0;
  for (size_t q = html.out.find("<div class=\"chart\""); q != std::string::npos;
       q = html.out.find("<div class=\"chart\"", q + 1))
    ++charts;
  ASSERT_GE(charts, 2u);
  EXPECT_EQ(Attr(p.dom, "<html", "data-charts"), std::to_string(charts));
  // ECharts put a canvas in each.
  EXPECT_THAT(p.dom, HasSubstr("<canvas"));
  // Phone width: the page itself does not scroll sideways (wide tables
  // scroll inside their own box).
  EXPECT_EQ(Attr(p.dom, "<html", "data-overflow"), "false");
  // Numbers: the overview's "All" row and the timeline's sum are the JSON
  // totals; each workflow row is its group's total.
  const auto& totals = json.doc().at("totals").as_object();
  const std::string total = std::to_string(totals.at("total_tokens").as_int64());
  const size_t all = p.dom.find("<tr class=\"total\">");
  ASSERT_NE(all, std::string::npos);
  EXPECT_EQ(Attr(p.dom.substr(all), "<td class=\"n\"", "data-v"), total);
  EXPECT_EQ(Attr(p.dom, "<div class=\"chart\" id=\"chart-0\"", "data-sum"), total);
  // The chart of tokens by workflow and model: per workflow, its models'
  // bars add up to the workflow's total.
  const size_t by_group = p.dom.find("aria-label=\"Tokens by workflow and model\"");
  ASSERT_NE(by_group, std::string::npos);
  const size_t div = p.dom.rfind("<div", by_group);
  std::string values = Attr(p.dom.substr(div), "<div", "data-values");
  for (size_t q = values.find("&quot;"); q != std::string::npos; q = values.find("&quot;"))
    values.replace(q, 6, "\"");
  const boost::json::array series = boost::json::parse(values).as_array();
  const auto& groups = json.doc().at("groups").as_array();
  for (size_t i = 0; i < groups.size(); ++i) {
    double sum = 0;
    for (const auto& s : series) sum += s.as_array().at(i).to_number<double>();
    EXPECT_EQ(sum, double(groups[i].as_object().at("total_tokens").as_int64())) << i;
  }
  for (const auto& g : json.doc().at("groups").as_array()) {
    const auto& go = g.as_object();
    const std::string row = absl::StrCat("<td>", std::string(go.at("name").as_string()), "</td>");
    const size_t at = p.dom.find(row);
    ASSERT_NE(at, std::string::npos) << row;
    EXPECT_EQ(Attr(p.dom.substr(at), "<td class=\"n\"", "data-v"),
              std::to_string(go.at("total_tokens").as_int64()));
  }
}

TEST_F(CliHtmlBrowserTest, EveryCommandsPageLoadsClean) {
  TempDir dir("browser_cmds");
  int k = 0;
  const std::vector<std::vector<std::string>> commands = {
      {"daily"}, {"blocks"}, {"compare"}, {"quota", "--limit", "1M"}, {"spikes"}};
  for (std::vector<std::string> args : commands) {
    args.insert(args.end(), {"--format", "html", Data("usage.jsonl"), Data("bad.jsonl")});
    Result html = Tokmeter(args);
    ASSERT_EQ(html.rc, 0) << args[0] << ": " << html.err;
    Page p = Load(dir, html.out, 1024 + k++);
    ASSERT_THAT(p.dom, HasSubstr("</html>")) << args[0] << p.log;
    EXPECT_EQ(Attr(p.dom, "<html", "data-errors"), "") << args[0];
    EXPECT_THAT(p.log, Not(HasSubstr("CONSOLE"))) << args[0] << p.log;
  }
}

}  // namespace
}  // namespace tokmeter::cli::testing
