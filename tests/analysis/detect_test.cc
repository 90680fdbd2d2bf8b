// The detect adapter (src/analysis/detect.h): data_gap and the inputs.
// Each rule is tested in tests/rules/rules_test.cc.
#include "src/analysis/detect.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tokmeter::analysis {
namespace {

std::vector<Finding> RunRule(EventStore& store, const std::vector<InputSummary>* inputs) {
  store.Finish();
  DetectInput in;
  in.store = &store;
  in.recs = store.records();
  in.inputs = inputs;
  return Detect(in);
}

TEST(DataGapTest, EmptyAndMalformedInputs) {
  EventStore store;
  std::vector<InputSummary> inputs(3);
  inputs[0].path = "ok.jsonl";
  inputs[0].records = 5;
  inputs[1].path = "empty.jsonl";
  inputs[1].empty = true;
  inputs[2].path = "bad.jsonl";
  inputs[2].records = 3;
  inputs[2].skipped_lines = 2;
  inputs[2].first_bad_lines = {4, 9};
  std::vector<Finding> f = RunRule(store, &inputs);
  ASSERT_EQ(f.size(), 2u);
  // Both info with no tokens at stake: in subject order.
  EXPECT_EQ(f[0].subject, "input bad.jsonl");
  EXPECT_EQ(f[0].Evidence("skipped_lines"), 2);
  EXPECT_NE(f[0].recommendation.find("first: 4, 9"), std::string::npos);
  EXPECT_EQ(f[1].subject, "input empty.jsonl");
  EXPECT_EQ(f[1].Evidence("empty"), 1);
}

}  // namespace
}  // namespace tokmeter::analysis
