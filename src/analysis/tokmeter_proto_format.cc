// Reads tokmeter protobuf files (proto/tokmeter/v1/records.proto, written by
// the protobuf sink and `tokmeter convert`) into the same records as the
// tokmeter JSONL parser in formats.cc. A small wire-format decoder of its own
// keeps the analysis library free of the protobuf runtime.
#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/analysis/reader.h"
#include "src/analysis/reader_internal.h"

namespace tokmeter::analysis::reader_internal {
namespace {

constexpr std::string_view kMagic{"\x89TKMPB\r\n", 8};
constexpr uint32_t kSchemaVersion = 1;
constexpr int64_t kMaxCount = int64_t(1) << 50;
// Built-in counters in tokmeter::Counter order (Span.counters, Rollup.counters).
enum : int {
  kInput,
  kOutput,
  kCacheRead,
  kCacheWrite,
  kCacheWrite1h,
  kReasoning,
  kRequests,
  kToolCalls,
  kRetries,
  kRetryWaitMs,
  kRateLimited,
  kErrors,
  kResponseBytes,
  kNumCounters
};

// A cursor over one message.
struct Wire {
  const char* p;
  const char* end;
  bool ok = true;

  bool done() const { return p >= end || !ok; }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) break;
      uint8_t b = uint8_t(*p++);
      v |= uint64_t(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
    ok = false;
    return 0;
  }
  uint64_t Fixed64() {
    if (end - p < 8) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(uint8_t(p[i])) << (8 * i);
    p += 8;
    return v;
  }
  std::string_view Bytes() {
    uint64_t n = Varint();
    if (!ok || uint64_t(end - p) < n) {
      ok = false;
      return {};
    }
    std::string_view s(p, size_t(n));
    p += n;
    return s;
  }
  // Reads a tag; returns false at the end.
  bool Next(uint32_t& field, uint32_t& type) {
    if (done()) return false;
    uint64_t t = Varint();
    field = uint32_t(t >> 3);
    type = uint32_t(t & 7);
    return ok;
  }
  void Skip(uint32_t type) {
    switch (type) {
      case 0:
        Varint();
        break;
      case 1:
        p += 8;
        break;
      case 2:
        Bytes();
        break;
      case 5:
        p += 4;
        break;
      default:
        ok = false;
    }
    if (p > end) ok = false;
  }
};

struct Decoder {
  ParseContext& ctx;
  std::vector<std::string_view> table;  // copies in the arena

  std::string_view Str(uint64_t id, bool& ok) const {
    if (id == 0) return {};
    if (id > table.size()) {
      ok = false;
      return {};
    }
    return table[id - 1];
  }
  std::string_view Hex(uint64_t hi, uint64_t lo, bool wide) {
    static constexpr char kHex[] = "0123456789abcdef";
    char* p = ctx.arena->Alloc(wide ? 32 : 16);
    char* q = p;
    if (wide) {
      for (int i = 60; i >= 0; i -= 4) *q++ = kHex[(hi >> i) & 15];
    }
    for (int i = 60; i >= 0; i -= 4) *q++ = kHex[(lo >> i) & 15];
    return {p, size_t(q - p)};
  }
  std::string_view Decimal(int64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    return ctx.arena->Copy(std::string_view(buf, size_t(r.ptr - buf)));
  }
  static int64_t Clamp(int64_t v) { return std::clamp<int64_t>(v, 0, kMaxCount); }

  void Counters(std::string_view packed, UsageEvent& ev) {
    Wire w{packed.data(), packed.data() + packed.size()};
    int64_t c[kNumCounters] = {};
    for (int i = 0; !w.done(); ++i) {
      int64_t v = int64_t(w.Varint());
      if (i < kNumCounters) c[i] = Clamp(v);
    }
    ev.tokens.input = c[kInput];
    ev.tokens.output = c[kOutput];
    ev.tokens.cache_read = c[kCacheRead];
    ev.tokens.cache_write_1h = std::min(c[kCacheWrite1h], c[kCacheWrite]);
    ev.tokens.cache_write_5m = c[kCacheWrite] - ev.tokens.cache_write_1h;
    ev.tokens.reasoning = c[kReasoning];
    ev.tokens.CapReasoning();
    ev.requests = c[kRequests];
    ev.tool_calls = c[kToolCalls];
    ev.retries = c[kRetries];
    ev.retry_wait_ms = c[kRetryWaitMs];
    ev.rate_limited = c[kRateLimited];
    ev.errors = c[kErrors];
    ev.response_bytes = c[kResponseBytes];
  }

  // One Tag message: the well-known span tags go where the JSONL parser puts
  // them (provider, model, status); every other one becomes an event tag.
  bool Tag(std::string_view msg, UsageEvent& ev, bool span_tag) {
    Wire w{msg.data(), msg.data() + msg.size()};
    uint32_t f, t;
    bool ok = true;
    std::string_view key, str;
    int64_t num = 0;
    int type = 0;  // 0 string, 1 int, 2 bool
    while (w.Next(f, t)) {
      if (f == 1 && t == 0)
        key = Str(w.Varint(), ok);
      else if (f == 2 && t == 0) {
        str = Str(w.Varint(), ok);
        type = 0;
      } else if (f == 3 && t == 0) {
        num = int64_t(w.Varint());
        type = 1;
      } else if (f == 4 && t == 0) {
        num = w.Varint() != 0;
        type = 2;
      } else
        w.Skip(t);
    }
    if (!w.ok || !ok) return false;
    if (span_tag && key == "provider" && type == 0) {
      ev.provider = str;
    } else if (span_tag && key == "model" && type == 0) {
      ev.model = str;
    } else if (span_tag && key == "status" && type == 1) {
      ev.status = num;
    } else {
      std::string_view value = type == 0   ? str
                               : type == 1 ? Decimal(num)
                               : num       ? std::string_view("true")
                                           : std::string_view("false");
      ev.SetTag(key, value);
    }
    return true;
  }

  bool StringTable(std::string_view msg) {
    table.clear();
    Wire w{msg.data(), msg.data() + msg.size()};
    uint32_t f, t;
    while (w.Next(f, t)) {
      if (f == 1 && t == 2)
        table.push_back(ctx.arena->Copy(w.Bytes()));
      else
        w.Skip(t);
    }
    return w.ok;
  }

  // Span (3), Trace (2) and Rollup (4) share most field shapes.
  bool SpanLike(uint32_t which, std::string_view msg) {
    Record rec;
    UsageEvent& ev = rec.ev;
    ev.format = SourceFormat::kTokmeterProto;
    Wire w{msg.data(), msg.data() + msg.size()};
    uint32_t f, t;
    bool ok = true;
    uint64_t hi = 0, lo = 0, span_id = 0, parent = 0;
    int64_t start = 0, duration = 0;
    std::string_view kind, scope;
    const bool span = which == 3, trace = which == 2;
    while (w.Next(f, t)) {
      if (f == 1 && t == 1)
        hi = w.Fixed64();
      else if (f == 2 && t == 1)
        lo = w.Fixed64();
      else if (f == 3 && t == 1)
        span_id = w.Fixed64();
      else if (span && f == 4 && t == 1)
        parent = w.Fixed64();
      else if (span && f == 5 && t == 1)
        start = int64_t(w.Fixed64());
      else if (span && f == 6 && t == 0)
        duration = int64_t(w.Varint());
      else if (span && f == 7 && t == 0)
        kind = Str(w.Varint(), ok);
      else if (span && f == 8 && t == 0)
        ev.name = Str(w.Varint(), ok);
      else if (span && f == 11 && t == 1)
        ev.fingerprint = w.Fixed64();
      else if (span && f == 12 && t == 2)
        Counters(w.Bytes(), ev);
      else if (span && f == 13 && t == 2)
        ok = Tag(w.Bytes(), ev, true) && ok;
      else if (trace && f == 4 && t == 1)
        start = int64_t(w.Fixed64());
      else if (trace && f == 5 && t == 0)
        kind = Str(w.Varint(), ok);
      else if (trace && f == 6 && t == 0)
        ev.name = Str(w.Varint(), ok);
      else if (trace && f == 7 && t == 2)
        ok = Tag(w.Bytes(), ev, false) && ok;
      else if (!span && !trace && f == 4 && t == 0)
        scope = Str(w.Varint(), ok);
      else if (!span && !trace && f == 5 && t == 0)
        kind = Str(w.Varint(), ok);
      else if (!span && !trace && f == 6 && t == 0)
        ev.name = Str(w.Varint(), ok);
      else if (!span && !trace && f == 7 && t == 1)
        start = int64_t(w.Fixed64());
      else if (!span && !trace && f == 8 && t == 0)
        duration = int64_t(w.Varint());
      else if (!span && !trace && f == 10 && t == 2)
        Counters(w.Bytes(), ev);
      else if (!span && !trace && f == 11 && t == 2)
        ok = Tag(w.Bytes(), ev, false) && ok;
      else
        w.Skip(t);
    }
    if (!w.ok || !ok) return false;
    ev.trace_id = Hex(hi, lo, true);
    ev.span_id = Hex(0, span_id, false);
    if (parent != 0) ev.parent_id = Hex(0, parent, false);
    ev.kind = kind;
    if (trace) {
      ev.time_unix_ns = start;
      rec.type = RecordType::kTrace;
    } else {
      ev.time_unix_ns = start + duration;
      ev.duration_ns = duration >= 0 ? duration : -1;
      rec.type = RecordType::kEvent;
      if (!span) {  // roll-ups duplicate span records: kept out of totals
        if (!scope.empty()) ev.SetTag(ctx.arena->Copy("scope"), scope);
        if (!kind.empty()) ev.SetTag(ctx.arena->Copy("turn_kind"), kind);
        ev.kind = kTurnSummaryRollupKind;
      }
    }
    ctx.out->push_back(std::move(rec));
    return true;
  }

  bool Drops(std::string_view msg) {
    Record rec;
    rec.type = RecordType::kDrops;
    rec.ev.format = SourceFormat::kTokmeterProto;
    Wire w{msg.data(), msg.data() + msg.size()};
    uint32_t f, t;
    while (w.Next(f, t)) {
      if (f == 2 && t == 1)
        rec.ev.time_unix_ns = int64_t(w.Fixed64());
      else if (f == 3 && t == 0)
        rec.count = Clamp(int64_t(w.Varint()));
      else
        w.Skip(t);
    }
    if (!w.ok) return false;
    ctx.out->push_back(std::move(rec));
    return true;
  }
};

bool SniffTokmeterProto(std::string_view head) { return head.substr(0, kMagic.size()) == kMagic; }

absl::Status ReadTokmeterProto(std::string_view head, ByteSource& rest, ParseContext& ctx,
                               int64_t* bad) {
  std::string data(head);
  for (;;) {
    size_t at = data.size();
    data.resize(at + (size_t{1} << 20));
    absl::StatusOr<size_t> n = rest.Read(data.data() + at, size_t{1} << 20);
    if (!n.ok()) return n.status();
    data.resize(at + *n);
    if (*n == 0) break;
  }
  Wire file{data.data() + kMagic.size(), data.data() + data.size()};
  if (data.size() < kMagic.size()) return absl::OkStatus();
  std::string_view header = file.Bytes();
  if (!file.ok) {
    ++*bad;
    return absl::OkStatus();
  }
  Wire h{header.data(), header.data() + header.size()};
  uint32_t f, t;
  while (h.Next(f, t)) {
    if (f == 1 && t == 0) {
      uint64_t version = h.Varint();
      if (version > kSchemaVersion) {
        return absl::FailedPreconditionError(absl::StrCat("tokmeter protobuf schema version ",
                                                          version, " is newer than this reader's"));
      }
    } else {
      h.Skip(t);
    }
  }
  Decoder d{ctx, {}};
  int hint = -1;
  while (!file.done()) {
    std::string_view record = file.Bytes();
    if (!file.ok) {
      ++*bad;  // truncated at the end (a writer was killed mid-write)
      break;
    }
    Wire r{record.data(), record.data() + record.size()};
    bool ok = true;
    while (r.Next(f, t)) {
      if (t != 2) {
        r.Skip(t);
        continue;
      }
      std::string_view msg = r.Bytes();
      switch (f) {
        case 1:
          ok = d.StringTable(msg);
          break;
        case 2:
        case 3:
        case 4:
          ok = d.SpanLike(f, msg);
          break;
        case 5:
          ok = d.Drops(msg);
          break;
        case 6: {  // a JSONL line kept verbatim by `tokmeter convert`
          int index = hint;
          if (ParseLine(msg, ctx, hint, &index) == LineResult::kBad) ok = false;
          hint = index;
          break;
        }
        default:
          break;  // a record type from a newer writer
      }
    }
    if (!r.ok || !ok) ++*bad;
  }
  return absl::OkStatus();
}

}  // namespace

// Registered in FileFormats() (formats.cc).
FileFormat TokmeterProtoFileFormat() {
  return FileFormat{SourceFormat::kTokmeterProto, SniffTokmeterProto, ReadTokmeterProto};
}

}  // namespace tokmeter::analysis::reader_internal
