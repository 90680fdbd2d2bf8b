// Helpers shared by the format parsers (reader_internal.h): counts, times,
// substring search, bracket matching, hex.
#include <array>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <algorithm>
#include <charconv>
#include <cstring>

#include "src/analysis/reader_internal.h"

namespace tokmeter::analysis::reader_internal {

int64_t Count(const JsonField& f) {
  if (f.kind != JsonField::kInt && f.kind != JsonField::kDouble) return 0;
  return std::clamp<int64_t>(f.i, 0, kMaxTokenCount);
}

JsonCapture& Capture() {
  thread_local JsonCapture capture;
  return capture;
}

bool LooksLikeObject(std::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i < line.size() && line[i] == '{' && line.back() == '}';
}

bool ReadTime(const JsonField& f, int64_t* unix_ns) {
  if (f.kind == JsonField::kNull || (f.kind == JsonField::kString && f.text.empty())) return true;
  return f.kind == JsonField::kString && ParseTime(f.text, unix_ns);
}

void AddTag(UsageEvent& ev, std::string_view key, std::string_view value, ParseContext& ctx) {
  ev.SetTag(ctx.Keep(key), value);
}

namespace {
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}
bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}
}  // namespace

bool ParseTime(std::string_view s, int64_t* unix_ns) {
  // YYYY-MM-DD[T ]HH:MM:SS[.frac](Z|±HH:MM)
  int y, mo, d, h, mi, se;
  if (s.size() < 19 || !Digits(s, 0, 4, &y) || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &se)) {
    return false;
  }
  // Years are bounded so that nanoseconds since 1970 fit in int64 (to 2262).
  if (y < 1900 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
      se > 60) {
    return false;
  }
  size_t i = 19;
  int64_t frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 9) {
        frac = frac * 10 + (s[i] - '0');
        ++digits;
      }
      ++i;
    }
    if (digits == 0) return false;
    while (digits < 9) {
      frac *= 10;
      ++digits;
    }
  }
  int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!Digits(s, i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !Digits(s, i + 4, 2, &om)) {
      return false;
    }
    offset_s = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    i += 6;
  }  // no zone: UTC
  if (i != s.size()) return false;
  int64_t days = DaysFromCivil(y, unsigned(mo), unsigned(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_s;
  *unix_ns = secs * 1000000000 + frac;
  return true;
}

bool ParseInt(std::string_view s, int64_t* out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

std::vector<std::string_view> SplitPath(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find('/', i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
namespace {
// The same filter 32 bytes at a time; chosen at run time when the CPU has AVX2.
__attribute__((target("avx2"))) size_t FastFindAvx2(const char* h, size_t last, size_t i,
                                                    std::string_view needle) {
  const size_t n = needle.size();
  const __m256i first = _mm256_set1_epi8(needle[0]);
  const __m256i lastc = _mm256_set1_epi8(needle[n - 1]);
  for (; i + 31 <= last; i += 32) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i));
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i + n - 1));
    unsigned mask = unsigned(_mm256_movemask_epi8(
        _mm256_and_si256(_mm256_cmpeq_epi8(a, first), _mm256_cmpeq_epi8(b, lastc))));
    while (mask) {
      int bit = __builtin_ctz(mask);
      if (std::memcmp(h + i + bit + 1, needle.data() + 1, n - 2) == 0) return i + size_t(bit);
      mask &= mask - 1;
    }
  }
  return i | (size_t(1) << 63);  // not found below i: continue from i
}
const bool kHasAvx2 = __builtin_cpu_supports("avx2");
}  // namespace
#define TOKMETER_HAVE_AVX2_FIND 1
#endif

size_t FastFind(std::string_view hay, std::string_view needle, size_t from) {
  constexpr size_t npos = std::string_view::npos;
  const size_t n = needle.size();
  if (n == 0) return from <= hay.size() ? from : npos;
  if (hay.size() < n || from > hay.size() - n) return npos;
  const char* h = hay.data();
  const size_t last = hay.size() - n;  // last possible start
  size_t i = from;
#if defined(TOKMETER_HAVE_AVX2_FIND)
  if (n >= 2 && kHasAvx2 && last - i >= 64) {
    size_t r = FastFindAvx2(h, last, i, needle);
    if (!(r >> 63)) return r;
    i = r & ~(size_t(1) << 63);
  }
#endif
#if defined(__SSE2__)
  if (n >= 2) {
    const __m128i first = _mm_set1_epi8(needle[0]);
    const __m128i lastc = _mm_set1_epi8(needle[n - 1]);
    for (; i + 15 <= last; i += 16) {
      __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i));
      __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i + n - 1));
      unsigned mask = unsigned(
          _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, lastc))));
      while (mask) {
        int bit = __builtin_ctz(mask);
        if (std::memcmp(h + i + bit + 1, needle.data() + 1, n - 2) == 0) return i + size_t(bit);
        mask &= mask - 1;
      }
    }
  }
#endif
  for (; i <= last; ++i) {
    if (h[i] == needle[0] && std::memcmp(h + i, needle.data(), n) == 0) return i;
  }
  return npos;
}

size_t SkipBalanced(std::string_view s, size_t open) {
  constexpr size_t npos = std::string_view::npos;
  const char* d = s.data();
  const size_t n = s.size();
  int depth = 0;
  size_t i = open;
  while (i < n) {
    char c = d[i];
    if (c == '"') {
      size_t j = i + 1;
      for (;;) {
        const void* q = j < n ? std::memchr(d + j, '"', n - j) : nullptr;
        if (!q) return npos;
        size_t k = size_t(static_cast<const char*>(q) - d);
        size_t b = k;
        while (b > i + 1 && d[b - 1] == '\\') --b;
        if (((k - b) & 1) == 0) {
          i = k + 1;
          break;
        }
        j = k + 1;
      }
      continue;
    }
    if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
      if (depth < 0) return npos;
    }
    ++i;
  }
  return npos;
}

size_t SkipString(std::string_view s, size_t open) {
  const char* d = s.data();
  const size_t n = s.size();
  size_t j = open + 1;
  for (;;) {
    const void* q = j < n ? std::memchr(d + j, '"', n - j) : nullptr;
    if (!q) return std::string_view::npos;
    size_t k = size_t(static_cast<const char*>(q) - d);
    size_t b = k;
    while (b > open + 1 && d[b - 1] == '\\') --b;
    if (((k - b) & 1) == 0) return k + 1;  // an even run of backslashes: not escaped
    j = k + 1;
  }
}

namespace {
inline bool Blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
size_t SkipBlanks(std::string_view s, size_t i) {
  while (i < s.size() && Blank(s[i])) ++i;
  return i;
}
}  // namespace

size_t SkipValue(std::string_view s, size_t pos) {
  constexpr size_t npos = std::string_view::npos;
  if (pos >= s.size()) return npos;
  const char c = s[pos];
  if (c == '"') return SkipString(s, pos);
  if (c == '{' || c == '[') return SkipBalanced(s, pos);
  size_t i = pos;
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !Blank(s[i])) ++i;
  return i > pos ? i : npos;
}

bool LooksSpaced(std::string_view line) {
  size_t i = SkipBlanks(line, 0);
  if (i >= line.size() || line[i] != '{') return false;
  ++i;
  if (i < line.size() && Blank(line[i])) return true;  // "{ "
  if (i >= line.size() || line[i] != '"') return false;
  // The first key is short: look for its end within the head only.
  const size_t end = SkipString(line.substr(0, std::min<size_t>(line.size(), 512)), i);
  if (end == std::string_view::npos || end >= line.size()) return false;
  if (Blank(line[end])) return true;                                         // "key" :
  return line[end] == ':' && end + 1 < line.size() && Blank(line[end + 1]);  // "key": v
}

std::string_view CompactJson(std::string_view line, std::string* buf) {
  const char* d = line.data();
  const size_t n = line.size();
  size_t i = 0;
  bool copying = false;
  size_t run = 0;  // start of the bytes not yet copied
  while (i < n) {
    const char c = d[i];
    if (c == '"') {
      size_t e = SkipString(line, i);
      i = e == std::string_view::npos ? n : e;  // an unterminated string: kept as it is
      continue;
    }
    if (Blank(c)) {
      if (!copying) {
        buf->clear();
        buf->reserve(n);
        copying = true;
      }
      buf->append(d + run, i - run);
      while (i < n && Blank(d[i])) ++i;
      run = i;
      continue;
    }
    ++i;
  }
  if (!copying) return line;
  buf->append(d + run, n - run);
  return *buf;
}

bool ForEachMember(std::string_view s, size_t open,
                   absl::FunctionRef<bool(std::string_view, std::string_view)> fn, size_t* end) {
  constexpr size_t npos = std::string_view::npos;
  if (open >= s.size() || s[open] != '{') return false;
  size_t i = SkipBlanks(s, open + 1);
  if (i < s.size() && s[i] == '}') {
    if (end) *end = i + 1;
    return true;
  }
  while (i < s.size()) {
    if (s[i] != '"') return false;
    const size_t kend = SkipString(s, i);
    if (kend == npos) return false;
    std::string_view key = s.substr(i + 1, kend - i - 2);
    i = SkipBlanks(s, kend);
    if (i >= s.size() || s[i] != ':') return false;
    i = SkipBlanks(s, i + 1);
    const size_t vend = SkipValue(s, i);
    if (vend == npos) return false;
    if (!fn(key, s.substr(i, vend - i))) return false;
    i = SkipBlanks(s, vend);
    if (i >= s.size()) return false;
    if (s[i] == '}') {
      if (end) *end = i + 1;
      return true;
    }
    if (s[i] != ',') return false;
    i = SkipBlanks(s, i + 1);
  }
  return false;
}

uint64_t ParseHex64(std::string_view s) {
  // A table, not branches: fingerprints are random hex, and a per-digit
  // digit-or-letter branch mispredicts half the time.
  static constexpr auto kValue = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (int c = '0'; c <= '9'; ++c) t[c] = int8_t(c - '0');
    for (int c = 'a'; c <= 'f'; ++c) t[c] = int8_t(c - 'a' + 10);
    for (int c = 'A'; c <= 'F'; ++c) t[c] = int8_t(c - 'A' + 10);
    return t;
  }();
  if (s.empty() || s.size() > 16) return 0;
  uint64_t v = 0;
  int bad = 0;
  for (char c : s) {
    const int8_t d = kValue[static_cast<unsigned char>(c)];
    bad |= d;  // negative (the sign bit) iff some digit is not hex
    v = (v << 4) | uint64_t(uint8_t(d) & 15);
  }
  return bad < 0 ? 0 : v;
}

}  // namespace tokmeter::analysis::reader_internal
