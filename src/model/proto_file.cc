// The protobuf file decoder (src/model/proto_file.h).
#include "src/model/proto_file.h"

#include <cstring>

#include "src/model/proto_wire.h"

namespace tokmeter::model::proto_file {
namespace {
using wire::kFixed64;
using wire::kLen;
using wire::kVarint;
}  // namespace

bool DecodeFileHeader(std::string_view msg, FileHeader* out) {
  *out = FileHeader{};
  wire::Reader r(msg);
  uint32_t f, t;
  while (r.Next(f, t)) {
    if (f == field::kHeaderVersion && t == kVarint) {
      out->schema_version = uint32_t(r.Varint());
    } else if (f == field::kHeaderWriter && t == kLen) {
      out->writer = r.Bytes();
    } else if (f == field::kHeaderCreated && t == kFixed64) {
      out->created_unix_ns = int64_t(r.Fixed64());
    } else {
      r.Skip(t);
    }
  }
  return r.ok;
}

bool NextFrame(const char*& p, const char* end, std::string_view* frame) {
  const char* q = p;
  uint64_t len = 0;
  if (!wire::ReadVarint(q, end, len) || len > (uint64_t{1} << 31) || uint64_t(end - q) < len) {
    return false;
  }
  *frame = std::string_view(q, size_t(len));
  p = q + len;
  return true;
}

bool FileRecordDecoder::Str(uint64_t id, std::string_view* dst) const {
  if (id == 0) {
    *dst = {};
    return true;
  }
  if (id > table_.size()) return false;
  *dst = table_[id - 1];
  return true;
}

bool FileRecordDecoder::Strings(std::string_view msg, KeepFn keep) {
  table_.clear();
  wire::Reader r(msg);
  uint32_t f, t;
  while (r.Next(f, t)) {
    if (f == field::kStringValue && t == kLen) {
      table_.push_back(keep(r.Bytes()));
    } else {
      r.Skip(t);
    }
  }
  return r.ok;
}

bool FileRecordDecoder::Tags(std::string_view msg, std::vector<Tag>& dst) {
  Tag tag;
  wire::Reader r(msg);
  uint32_t f, t;
  bool ok = true;
  while (r.Next(f, t)) {
    if (f == field::kTagKey && t == kVarint) {
      ok &= Str(r.Varint(), &tag.key);
    } else if (f == field::kTagStr && t == kVarint) {
      tag.type = TagType::kString;
      ok &= Str(r.Varint(), &tag.str);
    } else if (f == field::kTagInt && t == kVarint) {
      tag.type = TagType::kInt;
      tag.num = int64_t(r.Varint());
    } else if (f == field::kTagBool && t == kVarint) {
      tag.type = TagType::kBool;
      tag.num = r.Varint() != 0;
    } else {
      r.Skip(t);
    }
  }
  dst.push_back(tag);
  return ok && r.ok;
}

bool FileRecordDecoder::CountersOf(std::string_view packed, Counters* c) {
  wire::Reader r(packed);
  for (int i = 0; !r.done(); ++i) {
    const int64_t v = int64_t(r.Varint());
    if (i < kNumCounters && v != 0) c->Add(Counter(i), v);
  }
  return r.ok;
}

bool FileRecordDecoder::Decode(std::string_view msg, FileRecord* out) {
  return Decode(msg, out,
                [this](std::string_view s) -> std::string_view { return owned_.emplace_back(s); });
}

bool FileRecordDecoder::Decode(std::string_view msg, FileRecord* out, KeepFn keep) {
  out->type = FileRecordType::kUnknown;
  tags_.clear();
  user_counters_.clear();
  wire::Reader rec(msg);
  uint32_t f, t;
  bool ok = true;
  while (rec.Next(f, t)) {
    if (t != kLen) {
      rec.Skip(t);
      continue;
    }
    std::string_view body = rec.Bytes();
    if (!rec.ok) break;
    wire::Reader r(body);
    uint32_t g, u;
    switch (f) {
      case field::kStrings:
        owned_.clear();  // the previous table's copies (none with a caller's KeepFn)
        ok &= Strings(body, keep);
        out->type = FileRecordType::kStrings;
        break;
      case field::kTrace: {
        TraceRecord& x = out->trace;
        x = TraceRecord{};
        while (r.Next(g, u)) {
          if (g == field::kTraceHi && u == kFixed64) {
            x.trace_id.hi = r.Fixed64();
          } else if (g == field::kTraceLo && u == kFixed64) {
            x.trace_id.lo = r.Fixed64();
          } else if (g == field::kTraceRootSpan && u == kFixed64) {
            x.root_span_id = r.Fixed64();
          } else if (g == field::kTraceStart && u == kFixed64) {
            x.start_unix_ns = int64_t(r.Fixed64());
          } else if (g == field::kTraceKind && u == kVarint) {
            ok &= Str(r.Varint(), &x.kind);
          } else if (g == field::kTraceName && u == kVarint) {
            ok &= Str(r.Varint(), &x.name);
          } else if (g == field::kTraceTags && u == kLen) {
            ok &= Tags(r.Bytes(), tags_);
          } else {
            r.Skip(u);
          }
        }
        x.tags = tags_;
        out->type = FileRecordType::kTrace;
        break;
      }
      case field::kSpan: {
        SpanRecord& x = out->span;
        x = SpanRecord{};
        int64_t duration = 0;
        while (r.Next(g, u)) {
          if (g == field::kSpanHi && u == kFixed64) {
            x.trace_id.hi = r.Fixed64();
          } else if (g == field::kSpanLo && u == kFixed64) {
            x.trace_id.lo = r.Fixed64();
          } else if (g == field::kSpanId && u == kFixed64) {
            x.span_id = r.Fixed64();
          } else if (g == field::kSpanParent && u == kFixed64) {
            x.parent_id = r.Fixed64();
          } else if (g == field::kSpanStart && u == kFixed64) {
            x.start_unix_ns = int64_t(r.Fixed64());
          } else if (g == field::kSpanDuration && u == kVarint) {
            duration = int64_t(r.Varint());
          } else if (g == field::kSpanKind && u == kVarint) {
            ok &= Str(r.Varint(), &x.kind);
          } else if (g == field::kSpanName && u == kVarint) {
            ok &= Str(r.Varint(), &x.name);
          } else if (g == field::kSpanThread && u == kVarint) {
            x.thread_id = uint32_t(r.Varint());
          } else if (g == field::kSpanRoot && u == kVarint) {
            x.is_trace_root = r.Varint() != 0;
          } else if (g == field::kSpanFingerprint && u == kFixed64) {
            x.has_fingerprint = true;
            x.fingerprint = r.Fixed64();
          } else if (g == field::kSpanCounters && u == kLen) {
            ok &= CountersOf(r.Bytes(), &x.counters);
          } else if (g == field::kSpanTags && u == kLen) {
            ok &= Tags(r.Bytes(), tags_);
          } else if (g == field::kSpanUserCounters && u == kLen) {
            UserCounter c;
            wire::Reader m(r.Bytes());
            uint32_t h, v;
            while (m.Next(h, v)) {
              if (h == field::kUserCounterName && v == kVarint) {
                ok &= Str(m.Varint(), &c.name);
              } else if (h == field::kUserCounterValue && v == kVarint) {
                c.value = int64_t(m.Varint());
              } else {
                m.Skip(v);
              }
            }
            ok &= m.ok;
            user_counters_.push_back(c);
          } else {
            r.Skip(u);
          }
        }
        x.end_unix_ns = x.start_unix_ns + duration;
        x.tags = tags_;
        x.user_counters = user_counters_;
        out->type = FileRecordType::kSpan;
        break;
      }
      case field::kRollup: {
        RollupRecord& x = out->rollup;
        x = RollupRecord{};
        int64_t duration = 0;
        while (r.Next(g, u)) {
          if (g == field::kRollupHi && u == kFixed64) {
            x.trace_id.hi = r.Fixed64();
          } else if (g == field::kRollupLo && u == kFixed64) {
            x.trace_id.lo = r.Fixed64();
          } else if (g == field::kRollupSpan && u == kFixed64) {
            x.span_id = r.Fixed64();
          } else if (g == field::kRollupScope && u == kVarint) {
            ok &= Str(r.Varint(), &x.scope);
          } else if (g == field::kRollupKind && u == kVarint) {
            ok &= Str(r.Varint(), &x.kind);
          } else if (g == field::kRollupName && u == kVarint) {
            ok &= Str(r.Varint(), &x.name);
          } else if (g == field::kRollupStart && u == kFixed64) {
            x.start_unix_ns = int64_t(r.Fixed64());
          } else if (g == field::kRollupDuration && u == kVarint) {
            duration = int64_t(r.Varint());
          } else if (g == field::kRollupSpans && u == kVarint) {
            x.spans = int64_t(r.Varint());
          } else if (g == field::kRollupCounters && u == kLen) {
            ok &= CountersOf(r.Bytes(), &x.totals);
          } else if (g == field::kRollupTags && u == kLen) {
            ok &= Tags(r.Bytes(), tags_);
          } else {
            r.Skip(u);
          }
        }
        x.end_unix_ns = x.start_unix_ns + duration;
        x.trace_tags = tags_;
        out->type = FileRecordType::kRollup;
        break;
      }
      case field::kDrops: {
        DropRecord& x = out->drops;
        x = DropRecord{};
        while (r.Next(g, u)) {
          if (g == field::kDropsThread && u == kVarint) {
            x.thread_id = uint32_t(r.Varint());
          } else if (g == field::kDropsTime && u == kFixed64) {
            x.time_unix_ns = int64_t(r.Fixed64());
          } else if (g == field::kDropsDropped && u == kVarint) {
            x.dropped = r.Varint();
          } else if (g == field::kDropsTotal && u == kVarint) {
            x.total_dropped = r.Varint();
          } else {
            r.Skip(u);
          }
        }
        out->type = FileRecordType::kDrops;
        break;
      }
      case field::kAlert: {
        AlertRecord& x = out->alert;
        x = AlertRecord{};
        Finding& f = x.finding;
        std::string_view sv;
        while (r.Next(g, u)) {
          if (g == field::kAlertTime && u == kFixed64) {
            x.time_unix_ns = int64_t(r.Fixed64());
          } else if (g == field::kAlertRule && u == kVarint) {
            ok &= Str(r.Varint(), &sv);
            f.kind = std::string(sv);
          } else if (g == field::kAlertSeverity && u == kVarint) {
            const uint64_t v = r.Varint();
            f.severity = v == 0   ? Severity::kInfo
                         : v == 2 ? Severity::kCritical
                                  : Severity::kWarning;
          } else if (g == field::kAlertSubject && u == kVarint) {
            ok &= Str(r.Varint(), &sv);
            f.subject = std::string(sv);
          } else if (g == field::kAlertKeys && u == kLen) {
            tags_.clear();
            ok &= Tags(r.Bytes(), tags_);
            for (const Tag& t : tags_) f.keys.emplace_back(std::string(t.key), std::string(t.str));
          } else if (g == field::kAlertEvidence && u == kLen) {
            wire::Reader e(r.Bytes());
            std::string_view name;
            double value = 0;
            uint32_t h, w;
            while (e.Next(h, w)) {
              if (h == field::kEvidenceName && w == kVarint) {
                ok &= Str(e.Varint(), &name);
              } else if (h == field::kEvidenceValue && w == kFixed64) {
                const uint64_t bits = e.Fixed64();
                std::memcpy(&value, &bits, sizeof value);
              } else {
                e.Skip(w);
              }
            }
            ok &= e.ok;
            f.evidence.emplace_back(std::string(name), value);
          } else if (g == field::kAlertCondition && u == kVarint) {
            ok &= Str(r.Varint(), &sv);
            f.rule = std::string(sv);
          } else if (g == field::kAlertMessage && u == kVarint) {
            ok &= Str(r.Varint(), &sv);
            f.recommendation = std::string(sv);
          } else if (g == field::kAlertSince && u == kFixed64) {
            f.time_ns = int64_t(r.Fixed64());
          } else if (g == field::kAlertUntil && u == kFixed64) {
            f.end_ns = int64_t(r.Fixed64());
          } else if (g == field::kAlertTokens && u == kVarint) {
            f.tokens = int64_t(r.Varint());
          } else if (g == field::kAlertTraceHi && u == kFixed64) {
            x.trace_id.hi = r.Fixed64();
          } else if (g == field::kAlertTraceLo && u == kFixed64) {
            x.trace_id.lo = r.Fixed64();
          } else if (g == field::kAlertSpanId && u == kFixed64) {
            x.span_id = r.Fixed64();
          } else {
            r.Skip(u);
          }
        }
        out->type = FileRecordType::kAlert;
        break;
      }
      case field::kJsonlLine:
        out->jsonl_line = body;
        out->type = FileRecordType::kJsonlLine;
        continue;  // bytes, not a message
      default:
        continue;  // a record type from a newer writer
    }
    ok &= r.ok;
  }
  return ok && rec.ok;
}

}  // namespace tokmeter::model::proto_file
