#include "src/proto/records.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "src/model/proto_wire.h"
#include "tokmeter/sinks.h"

namespace tokmeter::proto {

using model::wire::BeginLength;
using model::wire::BeginMessage;
using model::wire::EndLength;
using model::wire::PutBytesField;
using model::wire::PutFixed64Field;
using model::wire::PutVarintField;
namespace pf = model::proto_file;
namespace field = model::proto_file::field;

void AppendFileHeader(std::string& out, int64_t created_unix_ns) {
  out.append(pf::kFileMagic);
  std::string header;
  PutVarintField(header, field::kHeaderVersion, pf::kSchemaVersion);
  PutBytesField(header, field::kHeaderWriter, "tokmeter 0.1.0");
  PutFixed64Field(header, field::kHeaderCreated, uint64_t(created_unix_ns));
  model::wire::PutVarint(out, header.size());
  out.append(header);
}

uint32_t ChunkEncoder::Intern(std::string_view s) {
  if (s.empty()) return 0;
  size_t slot = ((reinterpret_cast<uintptr_t>(s.data()) >> 3) ^ s.size()) & 255;
  CacheEntry& e = cache_[slot];
  if (e.data == s.data() && e.size == s.size()) return e.id;
  auto [it, inserted] = ids_.try_emplace(s, uint32_t(strings_.size() + 1));
  if (inserted) strings_.push_back(s);
  e = CacheEntry{s.data(), s.size(), it->second};
  return it->second;
}

void ChunkEncoder::PutTags(uint32_t field, std::span<const Tag> tags) {
  for (const Tag& t : tags) {
    uint32_t key = Intern(t.key);
    size_t m = BeginMessage(body_, field);
    if (key != 0) PutVarintField(body_, field::kTagKey, key);
    switch (t.type) {
      case TagType::kString:
        PutVarintField(body_, field::kTagStr, Intern(t.str));
        break;
      case TagType::kInt:
        PutVarintField(body_, field::kTagInt, uint64_t(t.num));
        break;
      case TagType::kBool:
        PutVarintField(body_, field::kTagBool, t.num != 0);
        break;
    }
    EndLength(body_, m);
  }
}

void ChunkEncoder::PutCounters(uint32_t field, const Counters& c) {
  int last = -1;
  for (uint32_t m = c.mask; m != 0; m &= m - 1) {
    int i = __builtin_ctz(m);
    if (c.values[i] != 0) last = i;
  }
  if (last < 0) return;
  size_t pos = BeginMessage(body_, field);
  for (int i = 0; i <= last; ++i) {
    model::wire::PutVarint(body_, c.has(Counter(i)) ? uint64_t(c.values[i]) : 0);
  }
  EndLength(body_, pos);
}

void ChunkEncoder::AddTrace(const TraceRecord& t) {
  size_t rec = BeginLength(body_);
  size_t msg = BeginMessage(body_, field::kTrace);
  PutFixed64Field(body_, field::kTraceHi, t.trace_id.hi);
  PutFixed64Field(body_, field::kTraceLo, t.trace_id.lo);
  PutFixed64Field(body_, field::kTraceRootSpan, t.root_span_id);
  PutFixed64Field(body_, field::kTraceStart, uint64_t(t.start_unix_ns));
  if (uint32_t id = Intern(t.kind)) PutVarintField(body_, field::kTraceKind, id);
  if (uint32_t id = Intern(t.name)) PutVarintField(body_, field::kTraceName, id);
  PutTags(field::kTraceTags, t.tags);
  EndLength(body_, msg);
  EndLength(body_, rec);
  ++records_;
}

void ChunkEncoder::AddSpan(const SpanRecord& s) {
  size_t rec = BeginLength(body_);
  size_t msg = BeginMessage(body_, field::kSpan);
  PutFixed64Field(body_, field::kSpanHi, s.trace_id.hi);
  PutFixed64Field(body_, field::kSpanLo, s.trace_id.lo);
  PutFixed64Field(body_, field::kSpanId, s.span_id);
  if (s.parent_id != 0) PutFixed64Field(body_, field::kSpanParent, s.parent_id);
  PutFixed64Field(body_, field::kSpanStart, uint64_t(s.start_unix_ns));
  if (int64_t d = s.end_unix_ns - s.start_unix_ns; d != 0) {
    PutVarintField(body_, field::kSpanDuration, uint64_t(d));
  }
  if (uint32_t id = Intern(s.kind)) PutVarintField(body_, field::kSpanKind, id);
  if (uint32_t id = Intern(s.name)) PutVarintField(body_, field::kSpanName, id);
  if (s.thread_id != 0) PutVarintField(body_, field::kSpanThread, s.thread_id);
  if (s.is_trace_root) PutVarintField(body_, field::kSpanRoot, 1);
  if (s.has_fingerprint) PutFixed64Field(body_, field::kSpanFingerprint, s.fingerprint);
  PutCounters(field::kSpanCounters, s.counters);
  PutTags(field::kSpanTags, s.tags);
  for (const UserCounter& c : s.user_counters) {
    size_t m = BeginMessage(body_, field::kSpanUserCounters);
    if (uint32_t id = Intern(c.name)) PutVarintField(body_, field::kUserCounterName, id);
    if (c.value != 0) PutVarintField(body_, field::kUserCounterValue, uint64_t(c.value));
    EndLength(body_, m);
  }
  EndLength(body_, msg);
  EndLength(body_, rec);
  ++records_;
}

void ChunkEncoder::AddRollup(const RollupRecord& r) {
  size_t rec = BeginLength(body_);
  size_t msg = BeginMessage(body_, field::kRollup);
  PutFixed64Field(body_, field::kRollupHi, r.trace_id.hi);
  PutFixed64Field(body_, field::kRollupLo, r.trace_id.lo);
  PutFixed64Field(body_, field::kRollupSpan, r.span_id);
  if (uint32_t id = Intern(r.scope)) PutVarintField(body_, field::kRollupScope, id);
  if (uint32_t id = Intern(r.kind)) PutVarintField(body_, field::kRollupKind, id);
  if (uint32_t id = Intern(r.name)) PutVarintField(body_, field::kRollupName, id);
  PutFixed64Field(body_, field::kRollupStart, uint64_t(r.start_unix_ns));
  if (int64_t d = r.end_unix_ns - r.start_unix_ns; d != 0) {
    PutVarintField(body_, field::kRollupDuration, uint64_t(d));
  }
  if (r.spans != 0) PutVarintField(body_, field::kRollupSpans, uint64_t(r.spans));
  PutCounters(field::kRollupCounters, r.totals);
  PutTags(field::kRollupTags, r.trace_tags);
  EndLength(body_, msg);
  EndLength(body_, rec);
  ++records_;
}

void ChunkEncoder::AddDrops(const DropRecord& d) {
  size_t rec = BeginLength(body_);
  size_t msg = BeginMessage(body_, field::kDrops);
  if (d.thread_id != 0) PutVarintField(body_, field::kDropsThread, d.thread_id);
  PutFixed64Field(body_, field::kDropsTime, uint64_t(d.time_unix_ns));
  if (d.dropped != 0) PutVarintField(body_, field::kDropsDropped, d.dropped);
  if (d.total_dropped != 0) PutVarintField(body_, field::kDropsTotal, d.total_dropped);
  EndLength(body_, msg);
  EndLength(body_, rec);
  ++records_;
}

void ChunkEncoder::AddAlert(const AlertRecord& a) {
  const Finding& f = a.finding;
  size_t rec = BeginLength(body_);
  size_t msg = BeginMessage(body_, field::kAlert);
  PutFixed64Field(body_, field::kAlertTime, uint64_t(a.time_unix_ns));
  if (uint32_t id = Intern(f.kind)) PutVarintField(body_, field::kAlertRule, id);
  PutVarintField(body_, field::kAlertSeverity, uint64_t(f.severity));
  if (uint32_t id = Intern(f.subject)) PutVarintField(body_, field::kAlertSubject, id);
  for (const auto& [k, v] : f.keys) {
    size_t m = BeginMessage(body_, field::kAlertKeys);
    if (uint32_t id = Intern(k)) PutVarintField(body_, field::kTagKey, id);
    PutVarintField(body_, field::kTagStr, Intern(v));
    EndLength(body_, m);
  }
  for (const auto& [name, value] : f.evidence) {
    size_t m = BeginMessage(body_, field::kAlertEvidence);
    if (uint32_t id = Intern(name)) PutVarintField(body_, field::kEvidenceName, id);
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    PutFixed64Field(body_, field::kEvidenceValue, bits);
    EndLength(body_, m);
  }
  if (uint32_t id = Intern(f.rule)) PutVarintField(body_, field::kAlertCondition, id);
  if (uint32_t id = Intern(f.recommendation)) PutVarintField(body_, field::kAlertMessage, id);
  if (f.time_ns != 0) PutFixed64Field(body_, field::kAlertSince, uint64_t(f.time_ns));
  if (f.end_ns != 0) PutFixed64Field(body_, field::kAlertUntil, uint64_t(f.end_ns));
  if (f.tokens != 0) PutVarintField(body_, field::kAlertTokens, uint64_t(f.tokens));
  if (a.trace_id.valid()) {
    PutFixed64Field(body_, field::kAlertTraceHi, a.trace_id.hi);
    PutFixed64Field(body_, field::kAlertTraceLo, a.trace_id.lo);
  }
  if (a.span_id != 0) PutFixed64Field(body_, field::kAlertSpanId, a.span_id);
  EndLength(body_, msg);
  EndLength(body_, rec);
  ++records_;
}

void ChunkEncoder::AddJsonlLine(std::string_view line) {
  size_t rec = BeginLength(body_);
  PutBytesField(body_, field::kJsonlLine, line);
  EndLength(body_, rec);
  ++records_;
}

void ChunkEncoder::AddBatch(const Batch& batch) {
  for (const TraceRecord& t : batch.traces) AddTrace(t);
  for (const SpanRecord& s : batch.spans) AddSpan(s);
  for (const RollupRecord& r : batch.rollups) AddRollup(r);
  for (const DropRecord& d : batch.drops) AddDrops(d);
  for (const AlertRecord& a : batch.alerts) AddAlert(a);
}

void ChunkEncoder::Finish(std::string& out) {
  if (records_ == 0 && strings_.empty()) return;
  size_t rec = BeginLength(out);
  size_t msg = BeginMessage(out, field::kStrings);
  for (std::string_view s : strings_) PutBytesField(out, field::kStringValue, s);
  EndLength(out, msg);
  EndLength(out, rec);
  out.append(body_);
  body_.clear();
  strings_.clear();
  ids_.clear();
  for (CacheEntry& e : cache_) e = CacheEntry{};
  records_ = 0;
}

// ---------------------------------------------------------------------------
// Reading

struct RecordReader::Impl {
  pf::FileRecordDecoder decoder;
  pf::FileRecord record;
  // The latest tags of each trace, owned: a span's trace_tags.
  struct TraceTags {
    std::vector<OwnedTag> owned;
    std::vector<Tag> views;
  };
  absl::flat_hash_map<TraceId, std::unique_ptr<TraceTags>> trace_tags;
};

RecordReader::RecordReader() : impl_(std::make_unique<Impl>()) {}

RecordReader::~RecordReader() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::unique_ptr<RecordReader>> RecordReader::Open(const std::string& path) {
  std::unique_ptr<RecordReader> r(new RecordReader());
  r->name_ = path;
  if (path == "-") {
    r->fd_ = 0;
  } else {
    r->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (r->fd_ < 0) {
      int e = errno;
      std::string msg = absl::StrCat("cannot open ", path, ": ", std::strerror(e));
      if (e == ENOENT) return absl::NotFoundError(msg);
      if (e == EACCES) return absl::PermissionDeniedError(msg);
      return absl::UnavailableError(msg);
    }
    r->owns_fd_ = true;
  }
  absl::Status st = r->ReadHeader();
  if (!st.ok()) return st;
  return r;
}

absl::StatusOr<std::unique_ptr<RecordReader>> RecordReader::FromBuffer(std::string_view data,
                                                                       std::string name) {
  std::unique_ptr<RecordReader> r(new RecordReader());
  r->name_ = std::move(name);
  r->view_ = data;
  r->end_ = data.size();
  absl::Status st = r->ReadHeader();
  if (!st.ok()) return st;
  return r;
}

absl::StatusOr<bool> RecordReader::Fill(size_t n) {
  if (end_ - pos_ >= n) return true;
  if (fd_ < 0) return false;
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  while (end_ < n) {
    size_t want = std::max<size_t>(n, end_ + (size_t{256} << 10));
    if (buf_.size() < want) buf_.resize(want);
    ssize_t got = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (got < 0) {
      if (errno == EINTR) continue;
      return absl::DataLossError(absl::StrCat("reading ", name_, ": ", std::strerror(errno)));
    }
    if (got == 0) return false;
    end_ += size_t(got);
  }
  return true;
}

absl::Status RecordReader::ReadHeader() {
  absl::StatusOr<bool> have = Fill(pf::kFileMagic.size());
  if (!have.ok()) return have.status();
  const char* base = fd_ >= 0 ? buf_.data() : view_.data();
  if (!*have || !pf::HasMagic(std::string_view(base + pos_, end_ - pos_))) {
    return absl::InvalidArgumentError(
        absl::StrCat(name_, ": not a tokmeter protobuf file (no magic)"));
  }
  pos_ += pf::kFileMagic.size();
  file_offset_ += pf::kFileMagic.size();
  std::string_view frame;
  absl::StatusOr<bool> got = NextFrame(&frame);
  if (!got.ok()) return got.status();
  pf::FileHeader header;
  if (!*got || frame.size() > (1u << 20)) {
    return absl::DataLossError(absl::StrCat(name_, ": truncated file header"));
  }
  if (!pf::DecodeFileHeader(frame, &header)) {
    return absl::DataLossError(absl::StrCat(name_, ": corrupt file header"));
  }
  if (header.schema_version > pf::kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(name_, ": schema version ", header.schema_version,
                     " is newer than this reader's (", pf::kSchemaVersion, ")"));
  }
  schema_version_ = header.schema_version;
  writer_ = std::string(header.writer);
  return absl::OkStatus();
}

absl::StatusOr<bool> RecordReader::NextFrame(std::string_view* frame) {
  absl::StatusOr<bool> have = Fill(1);
  if (!have.ok() || !*have) return have;
  have = Fill(10);  // the length varint (or what is left of the file)
  if (!have.ok()) return have.status();
  for (;;) {
    const char* base = fd_ >= 0 ? buf_.data() : view_.data();
    const char* p = base + pos_;
    if (pf::NextFrame(p, base + end_, frame)) {
      const size_t used = size_t(p - (base + pos_));
      pos_ += used;
      file_offset_ += used;
      return true;
    }
    // Truncated here: read the rest of the frame if the file has it.
    const char* q = base + pos_;
    uint64_t len = 0;
    if (!model::wire::ReadVarint(q, base + end_, len) || len > (uint64_t{1} << 31)) {
      return absl::DataLossError(
          absl::StrCat(name_, ": truncated record at byte offset ", file_offset_));
    }
    const size_t need = size_t(q - (base + pos_)) + size_t(len);
    have = Fill(need);
    if (!have.ok()) return have.status();
    if (!*have) {
      return absl::DataLossError(
          absl::StrCat(name_, ": truncated record at byte offset ", file_offset_));
    }
  }
}

absl::StatusOr<bool> RecordReader::Next(FileRecordView& out) {
  Impl& im = *impl_;
  for (;;) {
    const uint64_t offset = file_offset_;
    std::string_view frame;
    absl::StatusOr<bool> got = NextFrame(&frame);
    if (!got.ok()) return got.status();
    if (!*got) return false;
    pf::FileRecord& r = im.record;
    if (!im.decoder.Decode(frame, &r)) {
      return absl::DataLossError(absl::StrCat(name_, ": corrupt record at byte offset ", offset));
    }
    out.batch.traces.clear();
    out.batch.spans.clear();
    out.batch.rollups.clear();
    out.batch.drops.clear();
    out.batch.alerts.clear();
    out.jsonl_line = {};
    out.offset = offset;
    out.type = r.type;
    switch (r.type) {
      case FileRecordType::kStrings:
      case FileRecordType::kUnknown:  // a record type from a newer writer: skipped
        continue;
      case FileRecordType::kTrace: {
        // Remember the trace's tags for its spans.
        auto& slot = im.trace_tags[r.trace.trace_id];
        if (!slot) slot = std::make_unique<Impl::TraceTags>();
        slot->owned.clear();
        for (const Tag& tag : r.trace.tags) {
          slot->owned.push_back(ToOwned(tag));
        }
        slot->views.clear();
        for (const OwnedTag& o : slot->owned) {
          slot->views.push_back(Tag{o.key, o.type, o.str, o.num});
        }
        out.batch.traces.push_back(r.trace);
        return true;
      }
      case FileRecordType::kSpan:
        if (auto it = im.trace_tags.find(r.span.trace_id); it != im.trace_tags.end()) {
          r.span.trace_tags = it->second->views;
        }
        out.batch.spans.push_back(r.span);
        return true;
      case FileRecordType::kRollup:
        out.batch.rollups.push_back(r.rollup);
        return true;
      case FileRecordType::kDrops:
        out.batch.drops.push_back(r.drops);
        return true;
      case FileRecordType::kAlert:
        out.batch.alerts.push_back(std::move(r.alert));
        return true;
      case FileRecordType::kJsonlLine:
        out.jsonl_line = r.jsonl_line;
        return true;
    }
  }
}

absl::Status ReadProtobufFile(const std::string& path,
                              const std::function<void(const FileRecordView&)>& fn) {
  absl::StatusOr<std::unique_ptr<RecordReader>> reader = RecordReader::Open(path);
  if (!reader.ok()) return reader.status();
  FileRecordView rec;
  for (;;) {
    absl::StatusOr<bool> more = (*reader)->Next(rec);
    if (!more.ok()) return more.status();
    if (!*more) return absl::OkStatus();
    fn(rec);
  }
}

}  // namespace tokmeter::proto
