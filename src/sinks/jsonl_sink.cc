// The JSONL sink and the one JSONL formatter (docs/FORMAT.md).
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "src/sinks/json_writer.h"
#include "tokmeter/sinks.h"

namespace tokmeter {
namespace {

using internal::AppendDurationMs;
using internal::AppendHexId;
using internal::AppendInt;
using internal::AppendJsonString;

// Tags written at the top level of a span line (seed 001's schema).
bool IsTopLevelTag(std::string_view key) {
  switch (key.size()) {
    case 4:
      return key == "tool" || key == "path";
    case 5:
      return key == "model";
    case 6:
      return key == "status";
    case 8:
      return key == "provider";
    case 9:
      return key == "streaming";
    case 10:
      return key == "request_id";
    default:
      return false;
  }
}

void AppendTagValue(std::string& out, const Tag& t) {
  switch (t.type) {
    case TagType::kString:
      AppendJsonString(out, t.str);
      break;
    case TagType::kInt:
      AppendInt(out, t.num);
      break;
    case TagType::kBool:
      out.append(t.num ? "true" : "false");
      break;
  }
}

void AppendKey(std::string& out, std::string_view key) {
  out.push_back(',');
  AppendJsonString(out, key);
  out.push_back(':');
}

void AppendTagObject(std::string& out, std::string_view field, std::span<const Tag> tags,
                     bool skip_top_level) {
  bool open = false;
  for (const Tag& t : tags) {
    if (skip_top_level && IsTopLevelTag(t.key)) continue;
    if (!open) {
      out.append(",\"").append(field).append("\":{");
      open = true;
    } else {
      out.push_back(',');
    }
    AppendJsonString(out, t.key);
    out.push_back(':');
    AppendTagValue(out, t);
  }
  if (open) out.push_back('}');
}

void AppendCounters(std::string& out, const Counters& c) {
  for (uint32_t m = c.mask; m != 0; m &= m - 1) {
    int i = __builtin_ctz(m);
    if (c.values[i] == 0) continue;
    out.append(",\"").append(kCounterNames[i]).append("\":");
    AppendInt(out, c.values[i]);
  }
}

void AppendTimes(std::string& out, internal::TimestampFormatter& ts, int64_t start, int64_t end) {
  out.append(",\"timestamp\":");
  ts.Append(out, end);
  out.append(",\"start\":");
  ts.Append(out, start);
  out.append(",\"duration_ms\":");
  AppendDurationMs(out, end - start);
}

void AppendTraceLine(std::string& out, internal::TimestampFormatter& ts, const TraceRecord& t) {
  out.append("{\"type\":\"trace\",\"trace_id\":");
  AppendHexId(out, t.trace_id.hi, t.trace_id.lo);
  out.append(",\"span_id\":");
  AppendHexId(out, t.root_span_id);
  out.append(",\"timestamp\":");
  ts.Append(out, t.start_unix_ns);
  out.append(",\"kind\":");
  AppendJsonString(out, t.kind);
  out.append(",\"name\":");
  AppendJsonString(out, t.name);
  AppendTagObject(out, "tags", t.tags, false);
  out.append("}\n");
}

}  // namespace

void AppendJsonl(const Batch& batch, std::string& out) {
  thread_local internal::TimestampFormatter ts;
  for (const TraceRecord& t : batch.traces) AppendTraceLine(out, ts, t);
  for (const SpanRecord& s : batch.spans) {
    out.append("{\"type\":\"span\"");
    AppendTimes(out, ts, s.start_unix_ns, s.end_unix_ns);
    out.append(",\"trace_id\":");
    AppendHexId(out, s.trace_id.hi, s.trace_id.lo);
    out.append(",\"span_id\":");
    AppendHexId(out, s.span_id);
    if (s.parent_id != 0) {
      out.append(",\"parent_id\":");
      AppendHexId(out, s.parent_id);
    }
    if (s.is_trace_root) out.append(",\"root\":true");
    out.append(",\"kind\":");
    AppendJsonString(out, s.kind);
    out.append(",\"name\":");
    AppendJsonString(out, s.name);
    out.append(",\"thread\":");
    AppendInt(out, s.thread_id);
    for (const Tag& t : s.tags) {
      if (!IsTopLevelTag(t.key)) continue;
      AppendKey(out, t.key);
      AppendTagValue(out, t);
    }
    AppendCounters(out, s.counters);
    if (s.has_fingerprint) {
      out.append(",\"fingerprint\":");
      AppendHexId(out, s.fingerprint);
    }
    AppendTagObject(out, "tags", s.tags, true);
    if (!s.user_counters.empty()) {
      out.append(",\"counters\":{");
      bool first = true;
      for (const UserCounter& c : s.user_counters) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(out, c.name);
        out.push_back(':');
        AppendInt(out, c.value);
      }
      out.push_back('}');
    }
    out.append("}\n");
  }
  for (const RollupRecord& r : batch.rollups) {
    out.append("{\"type\":\"turn_summary\",\"scope\":");
    AppendJsonString(out, r.scope);
    AppendTimes(out, ts, r.start_unix_ns, r.end_unix_ns);
    out.append(",\"trace_id\":");
    AppendHexId(out, r.trace_id.hi, r.trace_id.lo);
    out.append(",\"span_id\":");
    AppendHexId(out, r.span_id);
    out.append(",\"kind\":");
    AppendJsonString(out, r.kind);
    out.append(",\"name\":");
    AppendJsonString(out, r.name);
    out.append(",\"spans\":");
    AppendInt(out, r.spans);
    AppendCounters(out, r.totals);
    AppendTagObject(out, "tags", r.trace_tags, false);
    out.append("}\n");
  }
  for (const DropRecord& d : batch.drops) {
    out.append("{\"type\":\"drops\",\"timestamp\":");
    ts.Append(out, d.time_unix_ns);
    out.append(",\"thread\":");
    AppendInt(out, d.thread_id);
    out.append(",\"dropped\":");
    AppendInt(out, int64_t(d.dropped));
    out.append(",\"total_dropped\":");
    AppendInt(out, int64_t(d.total_dropped));
    out.append("}\n");
  }
}

namespace {

class JsonlSink : public Sink {
 public:
  explicit JsonlSink(JsonlSinkOptions o) : opts_(std::move(o)), name_("jsonl:" + opts_.path) {}
  ~JsonlSink() override {
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status Open() {
    fd_ = ::open(opts_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot open ", opts_.path, " for appending: ", std::strerror(errno)));
    }
    struct stat st;
    size_ = ::fstat(fd_, &st) == 0 ? uint64_t(st.st_size) : 0;
    pid_ = ::getpid();
    return absl::OkStatus();
  }

  std::string_view name() const override { return name_; }

  absl::Status Write(const Batch& batch) override {
    if (::getpid() != pid_) {
      // A forked child: bytes the parent had not written yet are the parent's.
      pending_.clear();
      pid_ = ::getpid();
    }
    if (opts_.max_bytes > 0) RememberTraces(batch);
    AppendJsonl(batch, pending_);
    absl::Status st = Drain();
    if (opts_.max_bytes > 0) {
      // Forgotten only now, so a file that starts with this batch's
      // trace roll-up still gets the trace line first.
      for (const RollupRecord& r : batch.rollups) {
        if (r.scope == "trace") live_traces_.erase(r.trace_id);
      }
    }
    return st;
  }

  absl::Status Flush() override { return Drain(); }

  absl::Status Close() override {
    absl::Status st = Drain();
    if (fd_ >= 0) {
      if (::close(fd_) != 0 && st.ok()) {
        st = absl::DataLossError(absl::StrCat("closing ", opts_.path, ": ", std::strerror(errno)));
      }
      fd_ = -1;
    }
    if (!pending_.empty()) {
      int64_t lines = std::count(pending_.begin(), pending_.end(), '\n');
      pending_.clear();
      return absl::DataLossError(absl::StrCat(
          name_, ": ", lines, " records could not be written before close (", st.message(), ")"));
    }
    return st;
  }

 private:
  // Keeps the latest trace line of every open trace, so a rotated file can
  // start with the trace lines its spans refer to.
  void RememberTraces(const Batch& batch) {
    Batch one;
    for (const TraceRecord& t : batch.traces) {
      one.traces.assign(1, t);
      std::string& line = live_traces_[t.trace_id];
      line.clear();
      AppendJsonl(one, line);
    }
  }

  // Writes pending lines, rotating as needed. Keeps what cannot be written.
  absl::Status Drain() {
    if (fd_ < 0) {
      if (pending_.empty()) return absl::OkStatus();
      absl::Status st = Open();
      if (!st.ok()) return Backlog(st);
    }
    size_t done = 0;
    absl::Status result;
    while (done < pending_.size()) {
      size_t end = pending_.size();
      if (opts_.max_bytes > 0) {
        // The longest run of whole lines that fits in this file.
        size_t room = size_ < opts_.max_bytes ? opts_.max_bytes - size_ : 0;
        if (end - done > room) {
          size_t cut = pending_.rfind('\n', done + room - (room > 0 ? 1 : 0));
          if (room > 0 && cut != std::string::npos && cut >= done) {
            end = cut + 1;
          } else if (size_ > 0) {
            absl::Status st = Rotate();
            if (!st.ok()) {
              result = st;
              break;
            }
            // The new file starts with the lines of the traces still open.
            std::string head;
            for (const auto& [id, line] : live_traces_) head += line;
            pending_.insert(done, head);
            continue;
          } else {
            end = pending_.find('\n', done) + 1;  // one line longer than a file: alone
          }
        }
      }
      ssize_t n = ::write(fd_, pending_.data() + done, end - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        result = absl::UnavailableError(
            absl::StrCat("writing ", opts_.path, ": ", std::strerror(errno)));
        break;
      }
      done += size_t(n);
      size_ += uint64_t(n);
    }
    pending_.erase(0, done);
    if (!result.ok()) return Backlog(result);
    return absl::OkStatus();
  }

  // Bounds the backlog after a failed write; says how much is pending/lost.
  absl::Status Backlog(const absl::Status& cause) {
    int64_t lost = 0;
    if (pending_.size() > opts_.max_pending_bytes) {
      size_t cut = pending_.find('\n', pending_.size() - opts_.max_pending_bytes);
      cut = cut == std::string::npos ? pending_.size() : cut + 1;
      lost = std::count(pending_.begin(), pending_.begin() + cut, '\n');
      pending_.erase(0, cut);
      lost_records_ += lost;
    }
    int64_t waiting = std::count(pending_.begin(), pending_.end(), '\n');
    return absl::Status(
        cause.code(),
        absl::StrCat(name_, ": ", cause.message(), "; ", waiting, " records kept for retry, ", lost,
                     " dropped now, ", lost_records_, " dropped in all"));
  }

  absl::Status Rotate() {
    ::close(fd_);
    fd_ = -1;
    for (int i = opts_.max_files; i >= 1; --i) {
      std::string from = i == 1 ? opts_.path : absl::StrCat(opts_.path, ".", i - 1);
      std::string to = absl::StrCat(opts_.path, ".", i);
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
        return absl::UnavailableError(
            absl::StrCat("rotating ", from, " to ", to, ": ", std::strerror(errno)));
      }
    }
    if (opts_.max_files <= 0) ::unlink(opts_.path.c_str());
    absl::Status st = Open();
    if (!st.ok()) return st;
    size_ = 0;
    return absl::OkStatus();
  }

  JsonlSinkOptions opts_;
  std::string name_;
  int fd_ = -1;
  uint64_t size_ = 0;
  pid_t pid_ = 0;
  std::string pending_;  // formatted lines not yet written
  int64_t lost_records_ = 0;
  absl::flat_hash_map<TraceId, std::string> live_traces_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Sink>> MakeJsonlSink(JsonlSinkOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("JSONL sink: path is empty");
  auto sink = std::make_unique<JsonlSink>(std::move(options));
  absl::Status st = sink->Open();
  if (!st.ok()) return st;
  return std::unique_ptr<Sink>(std::move(sink));
}

}  // namespace tokmeter
