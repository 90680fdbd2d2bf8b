// Helpers shared by the core tests.
#ifndef TOKMETER_TESTS_CORE_TEST_UTIL_H_
#define TOKMETER_TESTS_CORE_TEST_UTIL_H_

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
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

// Whether the file sinks reserve disk blocks ahead of their writes for files
// beside `probe`: fallocate(FALLOC_FL_KEEP_SIZE) works there and it is not
// tmpfs (where the sinks skip it). Creates and removes `probe`.
inline bool SinksPreallocateAt(const std::filesystem::path& probe) {
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT, 0644);
  if (fd < 0) return false;
  const bool can = ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 20) == 0;
  struct statfs sfs;
  const bool tmpfs = ::fstatfs(fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
  ::close(fd);
  std::filesystem::remove(probe);
  return can && !tmpfs;
}

// Bytes of disk blocks allocated to the file at `p`.
inline uint64_t AllocatedBytes(const std::filesystem::path& p) {
  struct stat st;
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return uint64_t(st.st_blocks) * 512;
}

}  // namespace tokmeter::testing

#endif  // TOKMETER_TESTS_CORE_TEST_UTIL_H_
