// Built with TOKMETER_ENABLED=0: every macro is compiled out. Arguments are
// type-checked but never evaluated, even while a runtime records.
#include <string>

#include "gtest/gtest.h"
#include "tests/core/test_util.h"
#include "tokmeter/tokmeter.h"

static_assert(TOKMETER_ENABLED == 0, "this test must be built with TOKMETER_ENABLED=0");

namespace {

int evaluated = 0;
std::string Name() {
  ++evaluated;
  return "name";
}

TEST(CompiledOutTest, ArgumentsAreNeverEvaluatedAndNothingIsRecorded) {
  auto m = tokmeter::testing::StartMemory();
  {
    TOK_TRACE("session", Name());
    TOK_TRACE_NAMED(t, "session", Name());
    t.Tag("channel", "c").Add(tokmeter::Counter::kInputTokens, 5);  // methods are no-ops
    TOK_SPAN("llm", Name());
    TOK_SPAN_NAMED(s, "llm", Name());
    s.Add(tokmeter::Counter::kOutputTokens, 1).Tag("model", "m").Fingerprint("x");
    EXPECT_FALSE(s.recording());
    TOK_SPAN_IN(tokmeter::Context{}, "tool", Name());
    TOK_SPAN_IN_NAMED(w, s.context(), "tool", Name());
    w.End();
  }
  EXPECT_EQ(evaluated, 0);
  ASSERT_TRUE(m.runtime->Flush().ok());
  EXPECT_TRUE(m.sink->spans().empty());
  // The classes themselves still work when used directly.
  { tokmeter::Span direct("llm", "direct"); }
  ASSERT_TRUE(m.runtime->Flush().ok());
  EXPECT_EQ(m.sink->spans().size(), 1u);
}

}  // namespace
