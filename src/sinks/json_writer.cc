#include "src/sinks/json_writer.h"

#include <algorithm>
#include <cstring>

#include "absl/time/time.h"
#include "src/model/utf8.h"

namespace tokmeter::internal {
namespace {

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

char* WriteJsonStringFrom(char* out, std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t run = i;  // start of the pending run of bytes copied as they are
  while (i < n) {
    if (!NeedsAttention(p[i])) {
      ++i;
      continue;
    }
    if (p[i] >= 0x80) {
      size_t len = model::Utf8SequenceLength(p + i, n - i);
      if (len != 0) {
        i += len;  // valid: copied with the run
        continue;
      }
      std::memcpy(out, p + run, i - run);
      out += i - run;
      out = WriteLiteral(out, "\xEF\xBF\xBD");  // U+FFFD (model::kReplacementChar)
      run = ++i;
      continue;
    }
    std::memcpy(out, p + run, i - run);
    out += i - run;
    const unsigned char c = p[i];
    switch (c) {
      case '"':
        out = WriteLiteral(out, "\\\"");
        break;
      case '\\':
        out = WriteLiteral(out, "\\\\");
        break;
      case '\n':
        out = WriteLiteral(out, "\\n");
        break;
      case '\r':
        out = WriteLiteral(out, "\\r");
        break;
      case '\t':
        out = WriteLiteral(out, "\\t");
        break;
      case '\b':
        out = WriteLiteral(out, "\\b");
        break;
      case '\f':
        out = WriteLiteral(out, "\\f");
        break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        std::memcpy(out, esc, 6);
        out += 6;
      }
    }
    run = ++i;
  }
  std::memcpy(out, p + run, n - run);
  out += n - run;
  *out++ = '"';
  return out;
}

void TimestampFormatter::Refresh(int64_t sec) {
  std::string s =
      absl::FormatTime("%Y-%m-%dT%H:%M:%S.", absl::FromUnixSeconds(sec), absl::UTCTimeZone());
  prefix_len_ = std::min(s.size(), sizeof(prefix_));
  std::memcpy(prefix_, s.data(), prefix_len_);
  cached_sec_ = sec;
}

void TimestampFormatter::Append(std::string& out, int64_t unix_ns) {
  char buf[kTimestampBytes + 8];
  out.append(buf, Write(buf, unix_ns));
}

void AppendJsonString(std::string& out, std::string_view s) {
  size_t old = out.size();
  out.resize(old + JsonStringBound(s.size()));
  char* end = WriteJsonString(out.data() + old, s);
  out.resize(end - out.data());
}

void AppendDurationMs(std::string& out, int64_t ns) {
  char buf[32];
  out.append(buf, WriteDurationMs(buf, ns));
}

}  // namespace tokmeter::internal
