// Helpers for the reader tests: a temporary directory, file writing, gzip,
// events copied out of the ReadInputs callback, and reading standard input.
#ifndef TOKMETER_TESTS_READERS_TEST_UTIL_H_
#define TOKMETER_TESTS_READERS_TEST_UTIL_H_

#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "src/analysis/reader.h"

namespace tokmeter::analysis::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "tokmeter_readers_XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    path_ = p ? p : "/tmp";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_; }
  // Writes `content` to dir/rel (creating parents) and returns the full path.
  std::string Write(const std::string& rel, const std::string& content) const {
    std::filesystem::path p = std::filesystem::path(path_) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

 private:
  std::string path_;
};

// `s` as one gzip member.
inline std::string Gzip(const std::string& s) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(compressBound(s.size()) + 64, '\0');
  z.next_in = (Bytef*)s.data();
  z.avail_in = s.size();
  z.next_out = (Bytef*)out.data();
  z.avail_out = out.size();
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// An event with its strings owned.
struct Ev {
  UsageEvent e;
  std::string kind, name, provider, model, trace_id, span_id, parent_id;
  std::map<std::string, std::string> tags;
  std::string tag(const std::string& k) const {
    auto it = tags.find(k);
    return it == tags.end() ? "" : it->second;
  }
};

struct Collected {
  std::vector<Ev> events;
  ReadResult result;
  absl::Status status;
  TokenBuckets totals;  // rollups excluded
  int64_t requests = 0, rate_limited = 0, tool_calls = 0;

  const InputSummary* input(const std::string& suffix) const {
    for (const InputSummary& s : result.inputs) {
      if (s.path.size() >= suffix.size() &&
          s.path.compare(s.path.size() - suffix.size(), suffix.size(), suffix) == 0) {
        return &s;
      }
    }
    return nullptr;
  }
};

// An event copied out of the callback (its views are valid only there).
inline Ev CopyEvent(const UsageEvent& e) {
  Ev ev;
  ev.e = e;
  ev.kind = std::string(e.kind);
  ev.name = std::string(e.name);
  ev.provider = std::string(e.provider);
  ev.model = std::string(e.model);
  ev.trace_id = std::string(e.trace_id);
  ev.span_id = std::string(e.span_id);
  ev.parent_id = std::string(e.parent_id);
  for (int i = 0; i < e.num_tags; ++i) {
    ev.tags[std::string(e.tags[i].first)] = std::string(e.tags[i].second);
  }
  // Views must not be used after the callback: clear them in the copy.
  ev.e.num_tags = 0;
  ev.e.kind = ev.e.name = ev.e.provider = ev.e.model = {};
  ev.e.trace_id = ev.e.span_id = ev.e.parent_id = {};
  return ev;
}

inline Collected ReadAll(const std::vector<std::string>& inputs, ReadOptions opts = {}) {
  Collected c;
  auto r = ReadInputs(inputs, opts, [&](const UsageEvent& e) {
    Ev ev = CopyEvent(e);
    if (!IsRollup(e)) {
      c.totals.Add(e.tokens);
      c.requests += e.requests;
      c.rate_limited += e.rate_limited;
      c.tool_calls += e.tool_calls;
    }
    c.events.push_back(std::move(ev));
  });
  if (r.ok()) {
    c.result = std::move(*r);
  } else {
    c.status = r.status();
  }
  return c;
}

// ReadAll({"-"}) with `bytes` on standard input: fd 0 is a pipe a thread
// writes them to, for the read's duration.
inline void ReadAllFromStdin(const std::string& bytes, Collected* c) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  int saved = ::dup(0);
  ::dup2(fds[0], 0);
  ::close(fds[0]);
  std::thread writer([&] {
    ASSERT_EQ(::write(fds[1], bytes.data(), bytes.size()), ssize_t(bytes.size()));
    ::close(fds[1]);
  });
  *c = ReadAll({"-"});
  writer.join();
  ::dup2(saved, 0);
  ::close(saved);
}

}  // namespace tokmeter::analysis::testing

#endif  // TOKMETER_TESTS_READERS_TEST_UTIL_H_
