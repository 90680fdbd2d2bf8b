// Helpers shared by the core tests.
#ifndef TOKMETER_TESTS_CORE_TEST_UTIL_H_
#define TOKMETER_TESTS_CORE_TEST_UTIL_H_

#include <memory>
#include <utility>

#include "gtest/gtest.h"
#include "tokmeter/tokmeter.h"

namespace tokmeter::testing {

// A runtime writing to one memory sink (plus any extra sinks).
struct MemoryRuntime {
  MemorySink* sink = nullptr;
  std::unique_ptr<Runtime> runtime;
};

inline MemoryRuntime StartMemory(Options opts = {}) {
  MemoryRuntime m;
  auto sink = std::make_unique<MemorySink>();
  m.sink = sink.get();
  opts.sinks.push_back(std::move(sink));
  auto rt = Runtime::Start(std::move(opts));
  EXPECT_TRUE(rt.ok()) << rt.status();
  m.runtime = std::move(*rt);
  return m;
}

}  // namespace tokmeter::testing

#endif  // TOKMETER_TESTS_CORE_TEST_UTIL_H_
