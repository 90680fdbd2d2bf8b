// The protobuf file sink (include/tokmeter/proto_sink.h).
#include "tokmeter/proto_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/proto/records.h"
#include "src/sinks/append_file.h"
#include "tokmeter/sinks.h"

namespace tokmeter {
namespace {

// An owning copy of a TraceRecord, re-encoded at the top of a rotated file.
// One write(2): a header, or a string table and its records.
struct Chunk {
  std::string bytes;
  bool file_start = false;  // header or trace head of a new file: never forces rotation
};

struct OwnedTrace {
  TraceId trace_id;
  uint64_t root_span_id = 0;
  int64_t start_unix_ns = 0;
  std::string kind, name;
  std::vector<OwnedTag> tags;
};

class ProtobufSink : public Sink {
 public:
  explicit ProtobufSink(ProtobufSinkOptions o)
      : opts_(std::move(o)), name_("protobuf:" + opts_.path), prealloc_(opts_.preallocate_bytes) {
    if (opts_.max_bytes > 0) {
      chunk_limit_ = std::clamp<uint64_t>(opts_.max_bytes / 2, 1024, uint64_t{1} << 20);
    }
  }
  ~ProtobufSink() override {
    if (fd_ >= 0) ::close(fd_);
  }

  // Opens (or creates) the file; queues the header for an empty file.
  absl::Status Open() {
    pid_ = ::getpid();
    prealloc_.Reset();
    if (absl::Status st = internal::OpenForAppend(opts_.path, O_RDWR, &fd_, &size_); !st.ok()) {
      return st;
    }
    if (size_ == 0) {
      std::string header;
      proto::AppendFileHeader(header, absl::GetCurrentTimeNanos());
      pending_bytes_ += header.size();
      pending_.push_front(Chunk{std::move(header), true});
      has_records_ = false;
      front_written_ = 0;
    } else {
      has_records_ = true;
      char magic[8] = {};
      if (::pread(fd_, magic, sizeof(magic), 0) != ssize_t(sizeof(magic)) ||
          !model::proto_file::HasMagic(std::string_view(magic, sizeof(magic)))) {
        ::close(fd_);
        fd_ = -1;
        return absl::FailedPreconditionError(
            absl::StrCat(opts_.path, " exists and is not a tokmeter protobuf file"));
      }
    }
    return absl::OkStatus();
  }

  std::string_view name() const override { return name_; }

  absl::Status Write(const Batch& batch) override {
    if (::getpid() != pid_) {
      // A forked child: chunks the parent had not written yet are the parent's.
      pending_.clear();
      front_written_ = 0;
      pid_ = ::getpid();
    }
    if (opts_.max_bytes > 0) RememberTraces(batch);
    Encode(batch);
    return Drain();
  }

  absl::Status Flush() override { return Drain(); }

  absl::Status Close() override {
    absl::Status st = Drain();
    if (absl::Status closed = internal::CloseAppendFile(&fd_, opts_.path); st.ok()) st = closed;
    if (!pending_.empty()) {
      size_t chunks = pending_.size();
      pending_.clear();
      return absl::DataLossError(absl::StrCat(
          name_, ": ", chunks, " chunks could not be written before close (", st.message(), ")"));
    }
    return st;
  }

 private:
  // Encodes the batch into chunks of at most chunk_limit_ bytes (one chunk
  // when the file never rotates). Each chunk becomes one write(2).
  void Encode(const Batch& batch) {
    auto cut = [&] {
      if (chunk_limit_ != 0 && enc_.body_size() >= chunk_limit_) FinishChunk();
    };
    for (const TraceRecord& t : batch.traces) enc_.AddTrace(t), cut();
    for (const SpanRecord& s : batch.spans) enc_.AddSpan(s), cut();
    for (const RollupRecord& r : batch.rollups) enc_.AddRollup(r), cut();
    for (const DropRecord& d : batch.drops) enc_.AddDrops(d), cut();
    for (const AlertRecord& a : batch.alerts) enc_.AddAlert(a), cut();
    FinishChunk();
  }

  void FinishChunk() {
    if (enc_.empty()) return;
    std::string chunk;
    enc_.Finish(chunk);
    pending_bytes_ += chunk.size();
    pending_.push_back(Chunk{std::move(chunk), false});
  }

  void RememberTraces(const Batch& batch) {
    for (const TraceRecord& t : batch.traces) {
      OwnedTrace& o = live_traces_[t.trace_id];
      o.trace_id = t.trace_id;
      o.root_span_id = t.root_span_id;
      o.start_unix_ns = t.start_unix_ns;
      o.kind = std::string(t.kind);
      o.name = std::string(t.name);
      o.tags.clear();
      for (const Tag& tag : t.tags) {
        o.tags.push_back(ToOwned(tag));
      }
    }
    for (const RollupRecord& r : batch.rollups) {
      if (r.scope == "trace") live_traces_.erase(r.trace_id);
    }
  }

  // Writes pending chunks, rotating as needed. Keeps what cannot be written.
  absl::Status Drain() {
    if (fd_ < 0) {
      if (pending_.empty()) return absl::OkStatus();
      absl::Status st = Open();
      if (!st.ok()) return Backlog(st);
    }
    while (!pending_.empty()) {
      std::string& chunk = pending_.front().bytes;
      bool file_start = pending_.front().file_start;
      if (front_written_ == 0 && opts_.max_bytes > 0 && has_records_ && !file_start &&
          size_ + chunk.size() > opts_.max_bytes) {
        absl::Status st = Rotate();
        if (!st.ok()) return Backlog(st);
        continue;
      }
      prealloc_.Before(fd_, chunk.size() - front_written_, opts_.max_bytes);
      ssize_t n = ::write(fd_, chunk.data() + front_written_, chunk.size() - front_written_);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Backlog(absl::UnavailableError(
            absl::StrCat("writing ", opts_.path, ": ", std::strerror(errno))));
      }
      front_written_ += size_t(n);
      size_ += uint64_t(n);
      if (!file_start) has_records_ = true;
      if (front_written_ == chunk.size()) {
        pending_bytes_ -= chunk.size();
        pending_.pop_front();
        front_written_ = 0;
      }
    }
    return absl::OkStatus();
  }

  // Bounds the backlog after a failed write; says how much is pending/lost.
  absl::Status Backlog(const absl::Status& cause) {
    int64_t lost = 0;
    while (pending_bytes_ > opts_.max_pending_bytes && pending_.size() > 1) {
      // Never drop a partly written chunk: its tail must follow its head.
      auto victim = front_written_ > 0 ? std::next(pending_.begin()) : pending_.begin();
      if (victim->file_start) break;  // the header and trace head stay
      pending_bytes_ -= victim->bytes.size();
      pending_.erase(victim);
      ++lost;
    }
    lost_chunks_ += lost;
    return absl::Status(
        cause.code(), absl::StrCat(name_, ": ", cause.message(), "; ", pending_.size(),
                                   " chunks kept for retry, ", lost, " dropped now, ", lost_chunks_,
                                   " dropped in all"));
  }

  absl::Status Rotate() {
    ::close(fd_);
    fd_ = -1;
    if (absl::Status st = internal::ShiftRotatedFiles(opts_.path, opts_.max_files); !st.ok()) {
      return st;
    }
    // The new file starts with the trace records of open traces; Open()
    // puts the header in front of them.
    if (!live_traces_.empty()) {
      std::vector<Tag> tags;
      for (const auto& [id, o] : live_traces_) {
        tags.clear();
        for (const OwnedTag& t : o.tags) tags.push_back(Tag{t.key, t.type, t.str, t.num});
        TraceRecord t{o.trace_id, o.root_span_id, o.start_unix_ns, o.kind, o.name, tags};
        enc_.AddTrace(t);
      }
      std::string head;
      enc_.Finish(head);
      pending_bytes_ += head.size();
      pending_.push_front(Chunk{std::move(head), true});
    }
    absl::Status st = Open();
    if (!st.ok()) return st;
    return absl::OkStatus();
  }

  ProtobufSinkOptions opts_;
  std::string name_;
  uint64_t chunk_limit_ = 0;  // 0: one chunk per batch
  int fd_ = -1;
  uint64_t size_ = 0;
  bool has_records_ = false;  // the open file holds more than its header
  pid_t pid_ = 0;
  proto::ChunkEncoder enc_;
  std::deque<Chunk> pending_;  // chunks not yet (fully) written
  size_t front_written_ = 0;   // bytes of pending_.front() already written
  size_t pending_bytes_ = 0;
  int64_t lost_chunks_ = 0;
  absl::flat_hash_map<TraceId, OwnedTrace> live_traces_;
  internal::Preallocator prealloc_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Sink>> MakeProtobufSink(ProtobufSinkOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("protobuf sink: path is empty");
  auto sink = std::make_unique<ProtobufSink>(std::move(options));
  absl::Status st = sink->Open();
  if (!st.ok()) return st;
  return std::unique_ptr<Sink>(std::move(sink));
}

}  // namespace tokmeter
