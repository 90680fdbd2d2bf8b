#include "src/proto/records.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "src/proto/wire.h"
#include "tokmeter/sinks.h"
#include "tokmeter/v1/records.pb.h"

namespace tokmeter::proto {

using internal::BeginLength;
using internal::BeginMessage;
using internal::EndLength;
using internal::PutBytesField;
using internal::PutFixed64Field;
using internal::PutVarintField;

namespace {

// Record oneof field numbers (records.proto).
constexpr uint32_t kRecStrings = 1, kRecTrace = 2, kRecSpan = 3, kRecRollup = 4, kRecDrops = 5,
                   kRecJsonlLine = 6;

}  // namespace

void AppendFileHeader(std::string& out, int64_t created_unix_ns) {
  out.append(kFileMagic);
  std::string header;
  PutVarintField(header, 1, kSchemaVersion);
  PutBytesField(header, 2, "tokmeter 0.1.0");
  PutFixed64Field(header, 3, uint64_t(created_unix_ns));
  internal::PutVarint(out, header.size());
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
    if (key != 0) PutVarintField(body_, 1, key);
    switch (t.type) {
      case TagType::kString:
        PutVarintField(body_, 2, Intern(t.str));
        break;
      case TagType::kInt:
        PutVarintField(body_, 3, uint64_t(t.num));
        break;
      case TagType::kBool:
        PutVarintField(body_, 4, t.num != 0);
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
    internal::PutVarint(body_, c.has(Counter(i)) ? uint64_t(c.values[i]) : 0);
  }
  EndLength(body_, pos);
}

void ChunkEncoder::AddTrace(const TraceRecord& t) {
  size_t rec = BeginLength(body_);
  size_t msg = BeginMessage(body_, kRecTrace);
  PutFixed64Field(body_, 1, t.trace_id.hi);
  PutFixed64Field(body_, 2, t.trace_id.lo);
  PutFixed64Field(body_, 3, t.root_span_id);
  PutFixed64Field(body_, 4, uint64_t(t.start_unix_ns));
  if (uint32_t id = Intern(t.kind)) PutVarintField(body_, 5, id);
  if (uint32_t id = Intern(t.name)) PutVarintField(body_, 6, id);
  PutTags(7, t.tags);
  EndLength(body_, msg);
  EndLength(body_, rec);
  ++records_;
}

void ChunkEncoder::AddSpan(const SpanRecord& s) {
  size_t rec = BeginLength(body_);
  size_t msg = BeginMessage(body_, kRecSpan);
  PutFixed64Field(body_, 1, s.trace_id.hi);
  PutFixed64Field(body_, 2, s.trace_id.lo);
  PutFixed64Field(body_, 3, s.span_id);
  if (s.parent_id != 0) PutFixed64Field(body_, 4, s.parent_id);
  PutFixed64Field(body_, 5, uint64_t(s.start_unix_ns));
  if (int64_t d = s.end_unix_ns - s.start_unix_ns; d != 0) PutVarintField(body_, 6, uint64_t(d));
  if (uint32_t id = Intern(s.kind)) PutVarintField(body_, 7, id);
  if (uint32_t id = Intern(s.name)) PutVarintField(body_, 8, id);
  if (s.thread_id != 0) PutVarintField(body_, 9, s.thread_id);
  if (s.is_trace_root) PutVarintField(body_, 10, 1);
  if (s.has_fingerprint) PutFixed64Field(body_, 11, s.fingerprint);
  PutCounters(12, s.counters);
  PutTags(13, s.tags);
  for (const UserCounter& c : s.user_counters) {
    size_t m = BeginMessage(body_, 14);
    if (uint32_t id = Intern(c.name)) PutVarintField(body_, 1, id);
    if (c.value != 0) PutVarintField(body_, 2, uint64_t(c.value));
    EndLength(body_, m);
  }
  EndLength(body_, msg);
  EndLength(body_, rec);
  ++records_;
}

void ChunkEncoder::AddRollup(const RollupRecord& r) {
  size_t rec = BeginLength(body_);
  size_t msg = BeginMessage(body_, kRecRollup);
  PutFixed64Field(body_, 1, r.trace_id.hi);
  PutFixed64Field(body_, 2, r.trace_id.lo);
  PutFixed64Field(body_, 3, r.span_id);
  if (uint32_t id = Intern(r.scope)) PutVarintField(body_, 4, id);
  if (uint32_t id = Intern(r.kind)) PutVarintField(body_, 5, id);
  if (uint32_t id = Intern(r.name)) PutVarintField(body_, 6, id);
  PutFixed64Field(body_, 7, uint64_t(r.start_unix_ns));
  if (int64_t d = r.end_unix_ns - r.start_unix_ns; d != 0) PutVarintField(body_, 8, uint64_t(d));
  if (r.spans != 0) PutVarintField(body_, 9, uint64_t(r.spans));
  PutCounters(10, r.totals);
  PutTags(11, r.trace_tags);
  EndLength(body_, msg);
  EndLength(body_, rec);
  ++records_;
}

void ChunkEncoder::AddDrops(const DropRecord& d) {
  size_t rec = BeginLength(body_);
  size_t msg = BeginMessage(body_, kRecDrops);
  if (d.thread_id != 0) PutVarintField(body_, 1, d.thread_id);
  PutFixed64Field(body_, 2, uint64_t(d.time_unix_ns));
  if (d.dropped != 0) PutVarintField(body_, 3, d.dropped);
  if (d.total_dropped != 0) PutVarintField(body_, 4, d.total_dropped);
  EndLength(body_, msg);
  EndLength(body_, rec);
  ++records_;
}

void ChunkEncoder::AddJsonlLine(std::string_view line) {
  size_t rec = BeginLength(body_);
  PutBytesField(body_, kRecJsonlLine, line);
  EndLength(body_, rec);
  ++records_;
}

void ChunkEncoder::AddBatch(const Batch& batch) {
  for (const TraceRecord& t : batch.traces) AddTrace(t);
  for (const SpanRecord& s : batch.spans) AddSpan(s);
  for (const RollupRecord& r : batch.rollups) AddRollup(r);
  for (const DropRecord& d : batch.drops) AddDrops(d);
}

void ChunkEncoder::Finish(std::string& out) {
  if (records_ == 0 && strings_.empty()) return;
  size_t rec = BeginLength(out);
  size_t msg = BeginMessage(out, kRecStrings);
  for (std::string_view s : strings_) PutBytesField(out, 1, s);
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
  tokmeter::v1::Record msg;
  std::vector<std::string> table;
  std::vector<Tag> tags;
  std::vector<UserCounter> user_counters;
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
  absl::StatusOr<bool> have = Fill(kFileMagic.size());
  if (!have.ok()) return have.status();
  const char* base = fd_ >= 0 ? buf_.data() : view_.data();
  if (!*have || !HasProtobufMagic(std::string_view(base + pos_, end_ - pos_))) {
    return absl::InvalidArgumentError(
        absl::StrCat(name_, ": not a tokmeter protobuf file (no magic)"));
  }
  pos_ += kFileMagic.size();
  file_offset_ += kFileMagic.size();
  have = Fill(10);
  if (!have.ok()) return have.status();
  base = fd_ >= 0 ? buf_.data() : view_.data();
  const char* p = base + pos_;
  uint64_t len = 0;
  if (!internal::ReadVarint(p, base + end_, len) || len > (1u << 20)) {
    return absl::DataLossError(absl::StrCat(name_, ": truncated file header"));
  }
  size_t vs = size_t(p - (base + pos_));
  have = Fill(vs + len);
  if (!have.ok()) return have.status();
  if (!*have) return absl::DataLossError(absl::StrCat(name_, ": truncated file header"));
  base = fd_ >= 0 ? buf_.data() : view_.data();
  tokmeter::v1::FileHeader header;
  if (!header.ParseFromArray(base + pos_ + vs, int(len))) {
    return absl::DataLossError(absl::StrCat(name_, ": corrupt file header"));
  }
  if (header.schema_version() > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(name_, ": schema version ", header.schema_version(),
                     " is newer than this reader's (", kSchemaVersion, ")"));
  }
  schema_version_ = header.schema_version();
  writer_ = header.writer();
  pos_ += vs + len;
  file_offset_ += vs + len;
  return absl::OkStatus();
}

namespace {

template <typename Fn>
void ForEachCounter(const google::protobuf::RepeatedField<int64_t>& values, Fn&& fn) {
  int n = std::min(values.size(), kNumCounters);
  for (int i = 0; i < n; ++i) {
    if (values[i] != 0) fn(Counter(i), values[i]);
  }
}

}  // namespace

absl::StatusOr<bool> RecordReader::Next(DecodedRecord& out) {
  Impl& im = *impl_;
  for (;;) {
    absl::StatusOr<bool> have = Fill(1);
    if (!have.ok()) return have.status();
    if (!*have) return false;
    have = Fill(10);
    if (!have.ok()) return have.status();
    const char* base = fd_ >= 0 ? buf_.data() : view_.data();
    const char* p = base + pos_;
    uint64_t len = 0;
    auto corrupt = [&](const char* what) {
      return absl::DataLossError(
          absl::StrCat(name_, ": ", what, " record at byte offset ", file_offset_));
    };
    if (!internal::ReadVarint(p, base + end_, len)) return corrupt("truncated");
    if (len > (uint64_t{1} << 31)) return corrupt("corrupt (length)");
    size_t vs = size_t(p - (base + pos_));
    have = Fill(vs + len);
    if (!have.ok()) return have.status();
    if (!*have) return corrupt("truncated");
    base = fd_ >= 0 ? buf_.data() : view_.data();
    if (!im.msg.ParseFromArray(base + pos_ + vs, int(len))) return corrupt("corrupt");
    uint64_t offset = file_offset_;
    pos_ += vs + len;
    file_offset_ += vs + len;

    auto str = [&](uint32_t id, std::string_view& dst) {
      if (id == 0) {
        dst = {};
        return true;
      }
      if (id > im.table.size()) return false;
      dst = im.table[id - 1];
      return true;
    };
    auto tags = [&](const auto& src, std::vector<Tag>& dst) {
      dst.clear();
      for (const tokmeter::v1::Tag& t : src) {
        Tag tag;
        if (!str(t.key(), tag.key)) return false;
        switch (t.value_case()) {
          case tokmeter::v1::Tag::kInt:
            tag.type = TagType::kInt;
            tag.num = t.int_();
            break;
          case tokmeter::v1::Tag::kBool:
            tag.type = TagType::kBool;
            tag.num = t.bool_() ? 1 : 0;
            break;
          default:
            tag.type = TagType::kString;
            if (!str(t.str(), tag.str)) return false;
        }
        dst.push_back(tag);
      }
      return true;
    };

    out.batch.traces.clear();
    out.batch.spans.clear();
    out.batch.rollups.clear();
    out.batch.drops.clear();
    out.jsonl_line = {};
    out.offset = offset;
    switch (im.msg.record_case()) {
      case tokmeter::v1::Record::kStrings: {
        const auto& values = im.msg.strings().values();
        im.table.assign(values.begin(), values.end());
        continue;
      }
      case tokmeter::v1::Record::kTrace: {
        const auto& m = im.msg.trace();
        TraceRecord t;
        t.trace_id = TraceId{m.trace_id_hi(), m.trace_id_lo()};
        t.root_span_id = m.root_span_id();
        t.start_unix_ns = m.start_unix_ns();
        if (!str(m.kind(), t.kind) || !str(m.name(), t.name) || !tags(m.tags(), im.tags)) {
          return corrupt("bad string id in");
        }
        // Remember the trace's tags for its spans.
        auto& slot = im.trace_tags[t.trace_id];
        if (!slot) slot = std::make_unique<Impl::TraceTags>();
        slot->owned.clear();
        for (const Tag& tag : im.tags) {
          slot->owned.push_back(
              OwnedTag{std::string(tag.key), tag.type, std::string(tag.str), tag.num});
        }
        slot->views.clear();
        for (const OwnedTag& o : slot->owned) {
          slot->views.push_back(Tag{o.key, o.type, o.str, o.num});
        }
        t.tags = im.tags;
        out.type = RecordType::kTrace;
        out.batch.traces.push_back(t);
        return true;
      }
      case tokmeter::v1::Record::kSpan: {
        const auto& m = im.msg.span();
        SpanRecord s;
        s.trace_id = TraceId{m.trace_id_hi(), m.trace_id_lo()};
        s.span_id = m.span_id();
        s.parent_id = m.parent_id();
        s.start_unix_ns = m.start_unix_ns();
        s.end_unix_ns = m.start_unix_ns() + m.duration_ns();
        s.thread_id = m.thread();
        s.is_trace_root = m.root();
        s.has_fingerprint = m.has_fingerprint();
        s.fingerprint = m.fingerprint();
        if (!str(m.kind(), s.kind) || !str(m.name(), s.name) || !tags(m.tags(), im.tags)) {
          return corrupt("bad string id in");
        }
        ForEachCounter(m.counters(), [&](Counter c, int64_t v) { s.counters.Add(c, v); });
        im.user_counters.clear();
        for (const auto& c : m.user_counters()) {
          UserCounter uc;
          if (!str(c.name(), uc.name)) return corrupt("bad string id in");
          uc.value = c.value();
          im.user_counters.push_back(uc);
        }
        s.tags = im.tags;
        s.user_counters = im.user_counters;
        if (auto it = im.trace_tags.find(s.trace_id); it != im.trace_tags.end()) {
          s.trace_tags = it->second->views;
        }
        out.type = RecordType::kSpan;
        out.batch.spans.push_back(s);
        return true;
      }
      case tokmeter::v1::Record::kRollup: {
        const auto& m = im.msg.rollup();
        RollupRecord r;
        r.trace_id = TraceId{m.trace_id_hi(), m.trace_id_lo()};
        r.span_id = m.span_id();
        r.start_unix_ns = m.start_unix_ns();
        r.end_unix_ns = m.start_unix_ns() + m.duration_ns();
        r.spans = m.spans();
        if (!str(m.scope(), r.scope) || !str(m.kind(), r.kind) || !str(m.name(), r.name) ||
            !tags(m.tags(), im.tags)) {
          return corrupt("bad string id in");
        }
        ForEachCounter(m.counters(), [&](Counter c, int64_t v) { r.totals.Add(c, v); });
        r.trace_tags = im.tags;
        out.type = RecordType::kRollup;
        out.batch.rollups.push_back(r);
        return true;
      }
      case tokmeter::v1::Record::kDrops: {
        const auto& m = im.msg.drops();
        DropRecord d;
        d.thread_id = m.thread();
        d.time_unix_ns = m.time_unix_ns();
        d.dropped = m.dropped();
        d.total_dropped = m.total_dropped();
        out.type = RecordType::kDrops;
        out.batch.drops.push_back(d);
        return true;
      }
      case tokmeter::v1::Record::kJsonlLine:
        out.type = RecordType::kJsonlLine;
        out.jsonl_line = im.msg.jsonl_line();
        return true;
      default:
        continue;  // a record type from a newer writer: skipped
    }
  }
}

absl::Status ReadProtobufFile(const std::string& path,
                              const std::function<void(const DecodedRecord&)>& fn) {
  absl::StatusOr<std::unique_ptr<RecordReader>> reader = RecordReader::Open(path);
  if (!reader.ok()) return reader.status();
  DecodedRecord rec;
  for (;;) {
    absl::StatusOr<bool> more = (*reader)->Next(rec);
    if (!more.ok()) return more.status();
    if (!*more) return absl::OkStatus();
    fn(rec);
  }
}

}  // namespace tokmeter::proto
