// The macros work wherever a statement can go, whatever names the user's
// code declares. Canonical names only: the short aliases are switched off.
#define TOKMETER_NO_SHORT_MACROS
#include "tokmeter/tokmeter.h"

#ifdef TOK_SPAN
#error "TOKMETER_NO_SHORT_MACROS must remove the TOK_* aliases"
#endif

#include <string>

#include "gtest/gtest.h"
#include "tests/core/test_util.h"

namespace user {
// Names a user might have that the macros must not pick up.
struct Span {};
struct Trace {};
struct Context {};
namespace internal {}
namespace tokmeter {}
inline int Current() { return 0; }
}  // namespace user

namespace {

using namespace user;  // NOLINT: on purpose, to shadow tokmeter's names

TEST(MacroHygieneTest, MacrosAreSingleStatementsWithUniqueNames) {
  auto m = ::tokmeter::testing::StartMemory();
  int branch = 1;
  if (branch == 1)
    TOKMETER_SPAN("tool", "if-branch");
  else
    TOKMETER_SPAN("tool", "else-branch");
  for (int i = 0; i < 2; ++i) TOKMETER_SPAN("tool", "loop-body");
  {
    TOKMETER_TRACE("session", "s");
    TOKMETER_SPAN("tool", "a");
    TOKMETER_SPAN("tool", "b");       // same line: distinct objects
    int tokmeter_internal_span_ = 0;  // a user name that looks like the macro's
    (void)tokmeter_internal_span_;
    TOKMETER_SPAN_NAMED(span, std::string("llm"), std::string("a,b").substr(0, 3));
    span.Add(::tokmeter::Counter::kInputTokens, 1);
    ::tokmeter::Context ctx = span.context();
    TOKMETER_SPAN_IN(ctx, "tool", "in-ctx");
    TOKMETER_SPAN_IN_NAMED(in, ctx, "tool", "in-ctx-named");
    in.Tag("k", "v");
    TOKMETER_TRACE_NAMED(trace, "job", "cron-1");
    trace.Tag("job", "cron-1");
  }
  ASSERT_TRUE(m.runtime->Flush().ok());
  auto spans = m.sink->spans();
  int if_branch = 0, else_branch = 0, loop = 0, named = 0;
  for (const auto& s : spans) {
    if_branch += s.name == "if-branch";
    else_branch += s.name == "else-branch";
    loop += s.name == "loop-body";
    named += s.name == "a,b";
  }
  EXPECT_EQ(if_branch, 1);
  EXPECT_EQ(else_branch, 0);
  EXPECT_EQ(loop, 2);
  EXPECT_EQ(named, 1);
  // if-branch, 2 loop bodies, 2 trace roots, a, b, a,b, in-ctx, in-ctx-named.
  EXPECT_EQ(spans.size(), 10u);
}

}  // namespace
