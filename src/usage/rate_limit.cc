// Rate-limit headers, retry-after, Go durations, and the HTTP side of a call.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "absl/time/time.h"
#include "src/usage/internal.h"
#include "tokmeter/usage.h"

namespace tokmeter {
namespace {

// Debian's abseil uses its own string_view, so plain helpers on std:: here.
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}
std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}
bool EqualsIgnoreCase(std::string_view a, std::string_view b) { return Lower(a) == Lower(b); }
bool ConsumePrefix(std::string_view* s, std::string_view prefix) {
  if (!s->starts_with(prefix)) return false;
  s->remove_prefix(prefix.size());
  return true;
}
bool ParseDouble(std::string_view s, double* out) {
  std::string str(s);
  if (str.empty()) return false;
  char* end = nullptr;
  *out = std::strtod(str.c_str(), &end);
  return end == str.c_str() + str.size();
}

// Largest delay we report (a year): keeps arithmetic in range on garbage.
constexpr double kMaxMs = 365.0 * 24 * 3600 * 1000;

std::optional<int64_t> CeilMs(double ms) {
  if (!std::isfinite(ms) || ms < 0) return std::nullopt;
  if (ms > kMaxMs) ms = kMaxMs;
  return static_cast<int64_t>(std::ceil(ms - 1e-9));
}

// Digits with an optional fraction ("12", "1.25", ".5"); advances `s`.
std::optional<double> TakeNumber(std::string_view& s) {
  size_t i = 0;
  bool digits = false;
  while (i < s.size() && IsDigit(s[i])) {
    ++i;
    digits = true;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) {
      ++i;
      digits = true;
    }
  }
  if (!digits) return std::nullopt;
  double d;
  if (!ParseDouble(s.substr(0, i), &d)) return std::nullopt;
  s.remove_prefix(i);
  return d;
}

std::optional<int64_t> ParseCount(std::string_view v) {
  int64_t n;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec == std::errc() && ptr == v.data() + v.size()) return n;
  double d;
  if (ParseDouble(v, &d) && std::isfinite(d) && std::fabs(d) < 9e15) {
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

RateLimitWindow& WindowFor(RateLimitInfo& info, std::string_view name) {
  for (RateLimitWindow& w : info.windows) {
    if (w.name == name) return w;
  }
  info.windows.emplace_back();
  info.windows.back().name.assign(name);
  return info.windows.back();
}

int64_t UnixMs(absl::Time t) { return absl::ToUnixMillis(t); }

}  // namespace

const RateLimitWindow* RateLimitInfo::window(std::string_view name) const {
  for (const RateLimitWindow& w : windows) {
    if (w.name == name) return &w;
  }
  return nullptr;
}

std::optional<int64_t> ParseGoDurationMs(std::string_view s) {
  s = Trim(s);
  if (s.empty()) return std::nullopt;
  if (s[0] == '+') s.remove_prefix(1);
  if (s == "0") return 0;
  double total_ms = 0;
  bool first = true;
  while (!s.empty()) {
    std::optional<double> n = TakeNumber(s);
    if (!n) return std::nullopt;
    double unit_ms;
    if (s.starts_with("ns")) {
      unit_ms = 1e-6;
      s.remove_prefix(2);
    } else if (s.starts_with("us")) {
      unit_ms = 1e-3;
      s.remove_prefix(2);
    } else if (s.starts_with("\xC2\xB5s") || s.starts_with("\xCE\xBCs")) {  // µs, μs
      unit_ms = 1e-3;
      s.remove_prefix(3);
    } else if (s.starts_with("ms")) {
      unit_ms = 1;
      s.remove_prefix(2);
    } else if (s.starts_with("s")) {
      unit_ms = 1000;
      s.remove_prefix(1);
    } else if (s.starts_with("m")) {
      unit_ms = 60e3;
      s.remove_prefix(1);
    } else if (s.starts_with("h")) {
      unit_ms = 3600e3;
      s.remove_prefix(1);
    } else if (s.empty() && first) {
      unit_ms = 1000;  // a bare number: seconds (lenient; Go itself rejects it)
    } else {
      return std::nullopt;
    }
    total_ms += *n * unit_ms;
    first = false;
  }
  return CeilMs(total_ms);
}

std::optional<int64_t> ParseRetryAfterMs(std::string_view s, absl::Time now) {
  s = Trim(s);
  if (s.empty()) return std::nullopt;
  if (IsDigit(s[0]) || s[0] == '.') {
    std::string_view rest = s;
    std::optional<double> secs = TakeNumber(rest);
    if (secs && rest.empty()) return CeilMs(*secs * 1000);
    return std::nullopt;
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  absl::Time t;
  std::string err;
  std::string str(s);
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", str, absl::UTCTimeZone(), &t, &err) ||
      absl::ParseTime("%a, %d %b %Y %H:%M:%S UTC", str, absl::UTCTimeZone(), &t, &err) ||
      absl::ParseTime("%a, %d %b %Y %H:%M:%S %z", str, absl::UTCTimeZone(), &t, &err)) {
    double ms = absl::ToDoubleMilliseconds(t - now);
    return CeilMs(ms < 0 ? 0 : ms);
  }
  return std::nullopt;
}

namespace {

enum class WindowField { kLimit, kRemaining, kReset };
constexpr std::pair<std::string_view, WindowField> kAnthropicFields[] = {
    {"-limit", WindowField::kLimit},
    {"-remaining", WindowField::kRemaining},
    {"-reset", WindowField::kReset}};
constexpr std::pair<std::string_view, WindowField> kOpenAiFields[] = {
    {"limit-", WindowField::kLimit},
    {"remaining-", WindowField::kRemaining},
    {"reset-", WindowField::kReset}};

// One rate-limit header's value into its window: a count, or a reset given
// as an RFC 3339 time (Anthropic) or a Go duration such as "6m0s" (OpenAI).
// A value neither parses as leaves the field unset.
void SetWindowField(RateLimitWindow& w, WindowField which, std::string_view value, absl::Time now) {
  if (which == WindowField::kLimit) {
    w.limit = ParseCount(value);
  } else if (which == WindowField::kRemaining) {
    w.remaining = ParseCount(value);
  } else if (std::optional<int64_t> d = ParseGoDurationMs(value)) {
    w.reset_after_ms = d;
    w.reset_unix_ms = UnixMs(now) + *d;
  } else {
    absl::Time t;
    std::string err;
    if (absl::ParseTime(absl::RFC3339_full, std::string(value), &t, &err)) {
      w.reset_unix_ms = UnixMs(t);
      double ms = absl::ToDoubleMilliseconds(t - now);
      w.reset_after_ms = CeilMs(ms < 0 ? 0 : ms);
    }
  }
}

}  // namespace

RateLimitInfo ParseRateLimit(int status, std::span<const HeaderView> headers, absl::Time now) {
  RateLimitInfo info;
  info.status = status;
  bool have_retry_ms = false;
  for (const auto& [raw_key, raw_value] : headers) {
    std::string key = Lower(Trim(raw_key));
    std::string_view value = Trim(raw_value);
    std::string_view k = key;
    if (k == "retry-after-ms") {
      std::string_view rest = value;
      std::optional<double> ms = TakeNumber(rest);
      if (ms && rest.empty()) {
        info.retry_after_ms = CeilMs(*ms);
        have_retry_ms = info.retry_after_ms.has_value();
      }
      continue;
    }
    if (k == "retry-after") {
      if (!have_retry_ms) info.retry_after_ms = ParseRetryAfterMs(value, now);
      continue;
    }
    // anthropic-ratelimit-<name>-{limit,remaining,reset} and
    // anthropic-priority-<name>-{...} (Priority Tier).
    std::string name_prefix;
    bool anthropic = false;
    if (ConsumePrefix(&k, "anthropic-ratelimit-")) {
      anthropic = true;
    } else if (ConsumePrefix(&k, "anthropic-priority-")) {
      anthropic = true;
      name_prefix = "priority-";
    }
    if (anthropic) {
      for (const auto& [suffix, which] : kAnthropicFields) {
        if (!k.ends_with(suffix)) continue;
        std::string name = name_prefix + std::string(k.substr(0, k.size() - suffix.size()));
        SetWindowField(WindowFor(info, name), which, value, now);
        break;
      }
      continue;
    }
    // x-ratelimit-{limit,remaining,reset}-<name>.
    if (ConsumePrefix(&k, "x-ratelimit-")) {
      for (const auto& [prefix, which] : kOpenAiFields) {
        if (!k.starts_with(prefix)) continue;
        SetWindowField(WindowFor(info, k.substr(prefix.size())), which, value, now);
        break;
      }
    }
  }
  return info;
}

void ApplyHttpResponse(ParsedUsage& u, int status, std::span<const HeaderView> headers,
                       absl::Time now) {
  u.rate_limit = ParseRateLimit(status, headers, now);
  if (u.request_id.empty()) {
    for (const auto& [k, v] : headers) {
      std::string_view key = Trim(k);
      if (EqualsIgnoreCase(key, "request-id") || EqualsIgnoreCase(key, "x-request-id")) {
        u.request_id.assign(Trim(v));
        break;
      }
    }
  }
  if (!u.error && status >= 400) {
    u.error = usage_internal::ClassifyError("http_" + std::to_string(status), "", "");
  }
}

}  // namespace tokmeter
