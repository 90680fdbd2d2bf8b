// The out-of-line parts of tokmeter/record.h: hex forms of ids, owning
// copies of records.
#include "tokmeter/record.h"

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"

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
std::string TagText(const std::vector<OwnedTag>& tags, std::string_view key) {
  for (const auto& t : tags) {
    if (t.key != key) continue;
    switch (t.type) {
      case TagType::kString:
        return t.str;
      case TagType::kInt:
        return absl::StrCat(t.num);
      case TagType::kBool:
        return t.num ? "true" : "false";
    }
  }
  return "";
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

OwnedTag ToOwned(const Tag& t) {
  return OwnedTag{std::string(t.key), t.type, std::string(t.str), t.num};
}

std::string OwnedSpan::tag(std::string_view key) const { return TagText(tags, key); }
std::string OwnedSpan::trace_tag(std::string_view key) const { return TagText(trace_tags, key); }

OwnedSpan ToOwned(const SpanRecord& s) {
  OwnedSpan o;
  o.trace_id = s.trace_id;
  o.span_id = s.span_id;
  o.parent_id = s.parent_id;
  o.start_unix_ns = s.start_unix_ns;
  o.end_unix_ns = s.end_unix_ns;
  o.kind = std::string(s.kind);
  o.name = std::string(s.name);
  o.thread_id = s.thread_id;
  o.is_trace_root = s.is_trace_root;
  o.has_fingerprint = s.has_fingerprint;
  o.fingerprint = s.fingerprint;
  o.counters = s.counters;
  for (const auto& c : s.user_counters) o.user_counters.emplace_back(std::string(c.name), c.value);
  for (const auto& t : s.tags) o.tags.push_back(ToOwned(t));
  for (const auto& t : s.trace_tags) o.trace_tags.push_back(ToOwned(t));
  return o;
}

OwnedRollup ToOwned(const RollupRecord& r) {
  return OwnedRollup{r.trace_id,
                     r.span_id,
                     std::string(r.scope),
                     std::string(r.kind),
                     std::string(r.name),
                     r.start_unix_ns,
                     r.end_unix_ns,
                     r.spans,
                     r.totals};
}

}  // namespace tokmeter
