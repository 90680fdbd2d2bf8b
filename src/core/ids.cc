// Hex forms of trace and span ids.
#include <cstdint>
#include <string>
#include <string_view>

#include "tokmeter/record.h"

namespace tokmeter {
namespace {
constexpr char kHex[] = "0123456789abcdef";

void AppendHex64(std::string& out, uint64_t v) {
  char buf[16];
  for (int i = 15; i >= 0; --i, v >>= 4) buf[i] = kHex[v & 15];
  out.append(buf, 16);
}

bool ParseHex64(std::string_view hex, uint64_t* out) {
  if (hex.size() != 16) return false;
  uint64_t v = 0;
  for (char c : hex) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return false;
    v = (v << 4) | uint64_t(d);
  }
  *out = v;
  return true;
}
}  // namespace

std::string TraceId::ToHex() const {
  std::string s;
  s.reserve(32);
  AppendHex64(s, hi);
  AppendHex64(s, lo);
  return s;
}

TraceId TraceId::FromHex(std::string_view hex) {
  TraceId t;
  if (hex.size() != 32 || !ParseHex64(hex.substr(0, 16), &t.hi) ||
      !ParseHex64(hex.substr(16), &t.lo)) {
    return TraceId{};
  }
  return t;
}

std::string SpanIdToHex(uint64_t id) {
  std::string s;
  s.reserve(16);
  AppendHex64(s, id);
  return s;
}

uint64_t SpanIdFromHex(std::string_view hex) {
  uint64_t v = 0;
  return ParseHex64(hex, &v) ? v : 0;
}

}  // namespace tokmeter
