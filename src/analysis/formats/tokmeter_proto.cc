// Reads tokmeter protobuf files (written by the protobuf sink and `tokmeter
// convert`) into the same records as the tokmeter JSONL parser: the one
// decoder of src/model/proto_file.h, then each decoded record mapped to an
// event (spans, roll-ups), a trace (its tags for later spans) or drops.
#include <charconv>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/analysis/formats/formats.h"
#include "src/model/proto_file.h"
#include "src/model/proto_wire.h"

namespace tokmeter::analysis::reader_internal {
namespace {

namespace pf = model::proto_file;

struct Mapper {
  ParseContext& ctx;

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

  void Counts(const Counters& c, UsageEvent& ev) {
    ev.tokens = BucketsOf(c);
    ev.requests = ClampTokenCount(c[Counter::kRequests]);
    ev.tool_calls = ClampTokenCount(c[Counter::kToolCalls]);
    ev.retries = ClampTokenCount(c[Counter::kRetries]);
    ev.retry_wait_ms = ClampTokenCount(c[Counter::kRetryWaitMs]);
    ev.rate_limited = ClampTokenCount(c[Counter::kRateLimited]);
    ev.errors = ClampTokenCount(c[Counter::kErrors]);
    ev.response_bytes = ClampTokenCount(c[Counter::kResponseBytes]);
  }

  // Tags: the well-known span tags go where the JSONL parser puts them
  // (provider, model, status); every other one becomes an event tag.
  void Tags(std::span<const Tag> tags, UsageEvent& ev, bool span_tags) {
    for (const Tag& t : tags) {
      if (span_tags && t.type == TagType::kString && t.key == "provider") {
        ev.provider = t.str;
      } else if (span_tags && t.type == TagType::kString && t.key == "model") {
        ev.model = t.str;
      } else if (span_tags && t.type == TagType::kInt && t.key == "status") {
        ev.status = t.num;
      } else {
        std::string_view value = t.type == TagType::kString ? t.str
                                 : t.type == TagType::kInt  ? Decimal(t.num)
                                 : t.num                    ? std::string_view("true")
                                                            : std::string_view("false");
        ev.SetTag(t.key, value);
      }
    }
  }

  void Add(const pf::FileRecord& r) {
    ParsedRecord rec;
    UsageEvent& ev = rec.ev;
    ev.format = SourceFormat::kTokmeterProto;
    switch (r.type) {
      case pf::FileRecordType::kTrace:
        rec.type = ParsedRecordType::kTrace;
        ev.trace_id = Hex(r.trace.trace_id.hi, r.trace.trace_id.lo, true);
        ev.span_id = Hex(0, r.trace.root_span_id, false);
        ev.kind = r.trace.kind;
        ev.name = r.trace.name;
        ev.time_unix_ns = r.trace.start_unix_ns;
        Tags(r.trace.tags, ev, false);
        break;
      case pf::FileRecordType::kSpan: {
        const SpanRecord& s = r.span;
        rec.type = ParsedRecordType::kEvent;
        ev.trace_id = Hex(s.trace_id.hi, s.trace_id.lo, true);
        ev.span_id = Hex(0, s.span_id, false);
        if (s.parent_id != 0) ev.parent_id = Hex(0, s.parent_id, false);
        ev.kind = s.kind;
        ev.name = s.name;
        ev.time_unix_ns = s.end_unix_ns;
        const int64_t d = s.end_unix_ns - s.start_unix_ns;
        ev.duration_ns = d >= 0 ? d : -1;
        if (s.has_fingerprint) ev.fingerprint = s.fingerprint;
        Counts(s.counters, ev);
        Tags(s.tags, ev, true);
        break;
      }
      case pf::FileRecordType::kRollup: {
        // Roll-ups duplicate span records: a distinct kind keeps them out of
        // totals.
        const RollupRecord& x = r.rollup;
        rec.type = ParsedRecordType::kEvent;
        ev.trace_id = Hex(x.trace_id.hi, x.trace_id.lo, true);
        ev.span_id = Hex(0, x.span_id, false);
        ev.name = x.name;
        ev.time_unix_ns = x.end_unix_ns;
        const int64_t d = x.end_unix_ns - x.start_unix_ns;
        ev.duration_ns = d >= 0 ? d : -1;
        Counts(x.totals, ev);
        Tags(x.trace_tags, ev, false);
        if (!x.scope.empty()) ev.SetTag("scope", x.scope);
        if (!x.kind.empty()) ev.SetTag("turn_kind", x.kind);
        ev.kind = kTurnSummaryRollupKind;
        break;
      }
      case pf::FileRecordType::kDrops:
        rec.type = ParsedRecordType::kDrops;
        ev.time_unix_ns = r.drops.time_unix_ns;
        rec.count = ClampTokenCount(int64_t(r.drops.dropped));
        break;
      default:
        return;
    }
    ctx.out->push_back(std::move(rec));
  }
};

bool SniffTokmeterProto(std::string_view head) { return pf::HasMagic(head); }

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
  if (data.size() < pf::kFileMagic.size()) return absl::OkStatus();
  const char* p = data.data() + pf::kFileMagic.size();
  const char* end = data.data() + data.size();
  std::string_view frame;
  pf::FileHeader header;
  if (!pf::NextFrame(p, end, &frame) || !pf::DecodeFileHeader(frame, &header)) {
    ++*bad;
    return absl::OkStatus();
  }
  if (header.schema_version > pf::kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat("tokmeter protobuf schema version ",
                                                      header.schema_version,
                                                      " is newer than this reader's"));
  }
  pf::FileRecordDecoder decoder;
  pf::FileRecord record;
  Mapper mapper{ctx};
  // String tables are copied into the chunk's arena: the events view them.
  auto keep = [&ctx](std::string_view s) { return ctx.arena->Copy(s); };
  int hint = -1;
  while (p < end) {
    if (!pf::NextFrame(p, end, &frame)) {
      ++*bad;  // truncated at the end (a writer was killed mid-write)
      break;
    }
    if (!decoder.Decode(frame, &record, keep)) {
      ++*bad;
      continue;
    }
    if (record.type == pf::FileRecordType::kJsonlLine) {
      // A JSONL line kept verbatim by `tokmeter convert`.
      int index = hint;
      if (ParseLine(record.jsonl_line, ctx, hint, &index) == LineResult::kBad) ++*bad;
      hint = index;
      continue;
    }
    mapper.Add(record);
  }
  return absl::OkStatus();
}

bool MaybeTokmeterProto(std::string_view head) {
  return head.size() < pf::kFileMagic.size() && pf::kFileMagic.starts_with(head);
}

// A protobuf file that grows: its framing (a varint length before every
// record) lets whole records be decoded as they arrive; a record cut at the
// end waits for its remaining bytes. The decoder's string table carries
// over between calls.
class TokmeterProtoFeeder final : public FileFeeder {
 public:
  absl::StatusOr<size_t> Feed(std::string_view data, ParseContext& ctx, int64_t* bad) override {
    const char* const begin = data.data();
    const char* p = begin;
    const char* const end = begin + data.size();
    if (!magic_) {
      if (data.size() < pf::kFileMagic.size()) return 0;
      if (!pf::HasMagic(data)) {
        return absl::FailedPreconditionError("not a tokmeter protobuf file");
      }
      p += pf::kFileMagic.size();
      magic_ = true;
    }
    const size_t before = ctx.out->size();
    std::string_view frame;
    Mapper mapper{ctx};
    while (p < end && ctx.out->size() == before) {
      if (!pf::NextFrame(p, end, &frame)) {
        // Incomplete, unless its length cannot be one (then nothing after it
        // can be found: the rest of the file is unreadable).
        const char* q = p;
        uint64_t len = 0;
        const bool varint = model::wire::ReadVarint(q, end, len);
        if ((varint && len > (uint64_t{1} << 31)) || (!varint && end - p >= 10)) {
          return absl::DataLossError("corrupt record length");
        }
        break;
      }
      if (!header_) {
        pf::FileHeader header;
        if (!pf::DecodeFileHeader(frame, &header)) {
          return absl::DataLossError("corrupt file header");
        }
        if (header.schema_version > pf::kSchemaVersion) {
          return absl::FailedPreconditionError(absl::StrCat("tokmeter protobuf schema version ",
                                                            header.schema_version,
                                                            " is newer than this reader's"));
        }
        header_ = true;
        continue;
      }
      // Views into the decoder's strings stay valid until its next table;
      // Feed returns after the first record that produced records, so
      // they are emitted before that.
      if (!decoder_.Decode(frame, &record_)) {
        ++*bad;
        continue;
      }
      if (record_.type == pf::FileRecordType::kJsonlLine) {
        int index = hint_;
        if (ParseLine(record_.jsonl_line, ctx, hint_, &index) == LineResult::kBad) ++*bad;
        hint_ = index;
        continue;
      }
      mapper.Add(record_);
    }
    return size_t(p - begin);
  }

 private:
  bool magic_ = false;
  bool header_ = false;
  int hint_ = -1;
  pf::FileRecordDecoder decoder_;
  pf::FileRecord record_;
};

std::unique_ptr<FileFeeder> FollowTokmeterProto() {
  return std::make_unique<TokmeterProtoFeeder>();
}

}  // namespace

FileFormat TokmeterProtoFileFormat() {
  return FileFormat{SourceFormat::kTokmeterProto, SniffTokmeterProto, ReadTokmeterProto,
                    MaybeTokmeterProto, FollowTokmeterProto};
}

}  // namespace tokmeter::analysis::reader_internal
