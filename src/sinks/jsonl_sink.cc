// The JSONL sink and the one JSONL formatter (docs/FORMAT.md).
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/model/jsonl_schema.h"
#include "src/sinks/append_file.h"
#include "src/sinks/json_writer.h"
#include "tokmeter/sinks.h"

namespace tokmeter {
namespace {

using internal::JsonStringBound;
using internal::TimestampFormatter;
using internal::WriteDurationMs;
using internal::WriteHexId;
using internal::WriteInt;
using internal::WriteJsonString;
using internal::WriteLiteral;

// A key written as it is, with its punctuation: `,"key":`. Padded to a fixed
// size so each is stored with one fixed-size copy (the line bounds leave
// room for the padding).
struct RenderedKey {
  char text[32] = {};
  uint8_t len = 0;
};

constexpr RenderedKey Render(std::string_view key) {
  RenderedKey k;
  k.text[k.len++] = ',';
  k.text[k.len++] = '"';
  for (char c : key) k.text[k.len++] = c;
  k.text[k.len++] = '"';
  k.text[k.len++] = ':';
  return k;
}

inline char* WriteKey(char* p, const RenderedKey& k) {
  std::memcpy(p, k.text, sizeof(k.text));
  return p + k.len;
}

// The top-level tags of a span line (model::jsonl::kTopLevelTags), rendered
// with their punctuation, by model::jsonl::TopLevelTagIndex; 0 is unused.
constexpr std::array<RenderedKey, 8> kTopLevelKeys = [] {
  std::array<RenderedKey, 8> keys{};
  for (size_t i = 0; i < model::jsonl::kTopLevelTags.size(); ++i) {
    keys[i + 1] = Render(model::jsonl::kTopLevelTags[i]);
  }
  return keys;
}();

constexpr auto kCounterKeys = [] {
  std::array<RenderedKey, kNumCounters> keys{};
  for (int i = 0; i < kNumCounters; ++i) keys[i] = Render(kCounterNames[i]);
  return keys;
}();

// Upper bounds of what a line can take, so a whole batch is written through
// a raw pointer with one allocation check. The fixed part covers every key,
// three timestamps, ids, all built-in counters and punctuation (under 1,000
// bytes), and the slack of the fixed-size key copies (WriteKey: up to 32
// bytes stored past a key's end, overwritten by what follows).
constexpr size_t kLineFixedBound = 1536;

size_t TagsBound(std::span<const Tag> tags) {
  size_t n = 0;
  for (const Tag& t : tags) {
    n += JsonStringBound(t.key.size()) + 4 +
         (t.type == TagType::kString ? JsonStringBound(t.str.size()) : internal::kIntBytes);
  }
  return n;
}

size_t LineBound(std::string_view kind, std::string_view name, std::span<const Tag> tags) {
  return kLineFixedBound + JsonStringBound(kind.size()) + JsonStringBound(name.size()) +
         TagsBound(tags);
}

char* WriteTagValue(char* p, const Tag& t) {
  switch (t.type) {
    case TagType::kString:
      return WriteJsonString(p, t.str);
    case TagType::kInt:
      return WriteInt(p, t.num);
    case TagType::kBool:
      return t.num ? WriteLiteral(p, "true") : WriteLiteral(p, "false");
  }
  return p;
}

// ,"tags":{...} with every tag (or every tag not written at top level).
char* WriteTagObject(char* p, std::span<const Tag> tags, bool skip_top_level) {
  bool open = false;
  for (const Tag& t : tags) {
    if (skip_top_level && model::jsonl::IsTopLevelTag(t.key)) continue;
    p = open ? WriteLiteral(p, ",") : WriteLiteral(p, ",\"tags\":{");
    open = true;
    p = WriteJsonString(p, t.key);
    *p++ = ':';
    p = WriteTagValue(p, t);
  }
  if (open) *p++ = '}';
  return p;
}

char* WriteCounters(char* p, const Counters& c) {
  for (uint32_t m = c.mask; m != 0; m &= m - 1) {
    int i = __builtin_ctz(m);
    if (c.values[i] == 0) continue;
    p = WriteKey(p, kCounterKeys[i]);
    p = WriteInt(p, c.values[i]);
  }
  return p;
}

// The part of a span line from the parent id to the thread id:
// `,"parent_id":"…"[,"root":true],"kind":…,"name":…,"thread":N`.
char* WriteSpanOrigin(char* p, const SpanRecord& s) {
  if (s.parent_id != 0) {
    p = WriteLiteral(p, ",\"parent_id\":");
    p = WriteHexId(p, s.parent_id);
  }
  if (s.is_trace_root) p = WriteLiteral(p, ",\"root\":true");
  p = WriteLiteral(p, ",\"kind\":");
  p = WriteJsonString(p, s.kind);
  p = WriteLiteral(p, ",\"name\":");
  p = WriteJsonString(p, s.name);
  p = WriteLiteral(p, ",\"thread\":");
  return WriteInt(p, s.thread_id);
}

// The same text: the same address and length (literals recorded as such are
// views of the same bytes) or equal bytes. Views of one batch only: they
// stay valid while it is formatted.
bool SameText(std::string_view a, std::string_view b) {
  return a.size() == b.size() && (a.data() == b.data() || a == b);
}

bool SameTags(std::span<const Tag> a, std::span<const Tag> b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!SameText(a[i].key, b[i].key) || a[i].type != b[i].type) return false;
    if (a[i].type == TagType::kString ? !SameText(a[i].str, b[i].str) : a[i].num != b[i].num) {
      return false;
    }
  }
  return true;
}

// The top-level tags of a span line; says whether the span has other tags
// (for the `tags` object).
char* WriteTopLevelTags(char* p, std::span<const Tag> tags, bool* other_tags) {
  *other_tags = false;
  for (const Tag& t : tags) {
    int top = model::jsonl::TopLevelTagIndex(t.key);
    *other_tags |= top == 0;
    if (top == 0) continue;
    p = WriteKey(p, kTopLevelKeys[top]);
    p = WriteTagValue(p, t);
  }
  return p;
}

// The bytes of a part of the latest line, for the next line to copy when
// its part would be the same (nothing is kept when they do not fit).
template <size_t N>
struct KeptText {
  char text[N] = {};
  size_t len = 0;
  bool kept = false;

  char* CopyTo(char* p) const {
    std::memcpy(p, text, len);
    return p + len;
  }
  void Keep(const char* begin, const char* end) {
    len = size_t(end - begin);
    kept = len <= N;
    if (kept) std::memcpy(text, begin, len);
  }
};

// What consecutive lines share. Across batches: the second of their
// timestamps and the trace id (the spans of one trace are usually decoded
// together). Within one batch (NewBatch forgets them; they are compared
// with the views of the line before): the span's origin and its top-level
// tags, which siblings of one call site on one thread share.
struct LineCache {
  TimestampFormatter ts;
  TraceId trace;
  char trace_hex[34] = {};

  struct Origin {
    uint64_t parent = 0;
    uint32_t thread = 0;
    bool root = false;
    std::string_view kind, name;
    bool Same(const Origin& o) const {
      return parent == o.parent && thread == o.thread && root == o.root && SameText(kind, o.kind) &&
             SameText(name, o.name);
    }
  } origin;
  KeptText<192> origin_text;

  std::vector<Tag> tags;  // the views of the latest line's tags
  bool tags_other = false;
  KeptText<256> tags_text;

  void NewBatch() {
    origin_text.kept = false;
    tags_text.kept = false;
  }

  char* WriteTraceId(char* p, const TraceId& id) {
    if (!(id == trace) || !trace.valid()) {
      WriteHexId(trace_hex, id.hi, id.lo);
      trace = id;
    }
    std::memcpy(p, trace_hex, sizeof(trace_hex));
    return p + sizeof(trace_hex);
  }

  char* WriteOrigin(char* p, const SpanRecord& s) {
    const Origin o{s.parent_id, s.thread_id, s.is_trace_root, s.kind, s.name};
    if (origin_text.kept && o.Same(origin)) return origin_text.CopyTo(p);
    char* end = WriteSpanOrigin(p, s);
    origin_text.Keep(p, end);
    origin = o;
    return end;
  }

  char* WriteTags(char* p, std::span<const Tag> span_tags, bool* other_tags) {
    if (tags_text.kept && SameTags(span_tags, tags)) {
      *other_tags = tags_other;
      return tags_text.CopyTo(p);
    }
    char* end = WriteTopLevelTags(p, span_tags, other_tags);
    tags_text.Keep(p, end);
    tags_other = *other_tags;
    tags.assign(span_tags.begin(), span_tags.end());
    return end;
  }
};

char* WriteTimes(char* p, LineCache& lc, int64_t start, int64_t end) {
  TimestampFormatter& ts = lc.ts;
  p = WriteLiteral(p, ",\"timestamp\":");
  p = ts.Write(p, end);
  p = WriteLiteral(p, ",\"start\":");
  p = ts.Write(p, start);
  p = WriteLiteral(p, ",\"duration_ms\":");
  return WriteDurationMs(p, end - start);
}

char* WriteTraceLine(char* p, LineCache& lc, const TraceRecord& t) {
  p = WriteLiteral(p, "{\"type\":\"trace\",\"trace_id\":");
  p = lc.WriteTraceId(p, t.trace_id);
  p = WriteLiteral(p, ",\"span_id\":");
  p = WriteHexId(p, t.root_span_id);
  p = WriteLiteral(p, ",\"timestamp\":");
  p = lc.ts.Write(p, t.start_unix_ns);
  p = WriteLiteral(p, ",\"kind\":");
  p = WriteJsonString(p, t.kind);
  p = WriteLiteral(p, ",\"name\":");
  p = WriteJsonString(p, t.name);
  p = WriteTagObject(p, t.tags, false);
  return WriteLiteral(p, "}\n");
}

char* WriteSpanLine(char* p, LineCache& lc, const SpanRecord& s) {
  p = WriteLiteral(p, "{\"type\":\"span\"");
  p = WriteTimes(p, lc, s.start_unix_ns, s.end_unix_ns);
  p = WriteLiteral(p, ",\"trace_id\":");
  p = lc.WriteTraceId(p, s.trace_id);
  p = WriteLiteral(p, ",\"span_id\":");
  p = WriteHexId(p, s.span_id);
  p = lc.WriteOrigin(p, s);
  bool other_tags;
  p = lc.WriteTags(p, s.tags, &other_tags);
  p = WriteCounters(p, s.counters);
  if (s.has_fingerprint) {
    p = WriteLiteral(p, ",\"fingerprint\":");
    p = WriteHexId(p, s.fingerprint);
  }
  if (other_tags) p = WriteTagObject(p, s.tags, true);
  if (!s.user_counters.empty()) {
    p = WriteLiteral(p, ",\"counters\":{");
    bool first = true;
    for (const UserCounter& c : s.user_counters) {
      if (!first) *p++ = ',';
      first = false;
      p = WriteJsonString(p, c.name);
      *p++ = ':';
      p = WriteInt(p, c.value);
    }
    *p++ = '}';
  }
  return WriteLiteral(p, "}\n");
}

char* WriteRollupLine(char* p, LineCache& lc, const RollupRecord& r) {
  p = WriteLiteral(p, "{\"type\":\"turn_summary\",\"scope\":");
  p = WriteJsonString(p, r.scope);
  p = WriteTimes(p, lc, r.start_unix_ns, r.end_unix_ns);
  p = WriteLiteral(p, ",\"trace_id\":");
  p = lc.WriteTraceId(p, r.trace_id);
  p = WriteLiteral(p, ",\"span_id\":");
  p = WriteHexId(p, r.span_id);
  p = WriteLiteral(p, ",\"kind\":");
  p = WriteJsonString(p, r.kind);
  p = WriteLiteral(p, ",\"name\":");
  p = WriteJsonString(p, r.name);
  p = WriteLiteral(p, ",\"spans\":");
  p = WriteInt(p, r.spans);
  p = WriteCounters(p, r.totals);
  p = WriteTagObject(p, r.trace_tags, false);
  return WriteLiteral(p, "}\n");
}

char* WriteDropLine(char* p, LineCache& lc, const DropRecord& d) {
  p = WriteLiteral(p, "{\"type\":\"drops\",\"timestamp\":");
  p = lc.ts.Write(p, d.time_unix_ns);
  p = WriteLiteral(p, ",\"thread\":");
  p = WriteInt(p, d.thread_id);
  p = WriteLiteral(p, ",\"dropped\":");
  p = WriteInt(p, int64_t(d.dropped));
  p = WriteLiteral(p, ",\"total_dropped\":");
  p = WriteInt(p, int64_t(d.total_dropped));
  return WriteLiteral(p, "}\n");
}

// Numbers of alert evidence: integers exactly, others with 15 significant
// digits; JSON has no NaN or infinity (null).
void AppendNumber(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
  } else if (v == std::trunc(v) && std::fabs(v) < 9e15) {
    absl::StrAppend(&out, static_cast<int64_t>(v));
  } else {
    absl::StrAppend(&out, absl::StrFormat("%.15g", v));
  }
}

// The alert line (docs/FORMAT.md): rare, so built in a string.
void AppendAlertLine(std::string& out, LineCache& lc, const AlertRecord& a) {
  using internal::AppendJsonString;
  const Finding& f = a.finding;
  char ts[64];
  out += "{\"type\":\"alert\",\"timestamp\":";
  out.append(ts, size_t(lc.ts.Write(ts, a.time_unix_ns) - ts));
  out += ",\"rule\":";
  AppendJsonString(out, f.kind);
  out += ",\"severity\":";
  AppendJsonString(out, SeverityName(f.severity));
  out += ",\"subject\":";
  AppendJsonString(out, f.subject);
  out += ",\"keys\":{";
  bool first = true;
  for (const auto& [k, v] : f.keys) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, k);
    out += ':';
    AppendJsonString(out, v);
  }
  out += '}';
  if (std::string_view budget = f.Key("budget"); !budget.empty()) {
    out += ",\"budget\":";
    AppendJsonString(out, budget);
  }
  if (const double threshold = f.Evidence("threshold"); !std::isnan(threshold)) {
    out += ",\"threshold\":";
    AppendNumber(out, threshold);
  }
  out += ",\"tokens\":";
  absl::StrAppend(&out, f.tokens);
  out += ",\"evidence\":{";
  first = true;
  for (const auto& [k, v] : f.evidence) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, k);
    out += ':';
    AppendNumber(out, v);
  }
  out += '}';
  if (f.time_ns != 0) {
    out += ",\"since\":";
    out.append(ts, size_t(lc.ts.Write(ts, f.time_ns) - ts));
  }
  if (f.end_ns != 0) {
    out += ",\"until\":";
    out.append(ts, size_t(lc.ts.Write(ts, f.end_ns) - ts));
  }
  out += ",\"condition\":";
  AppendJsonString(out, f.rule);
  out += ",\"message\":";
  AppendJsonString(out, f.recommendation);
  if (a.trace_id.valid()) {
    out += ",\"trace_id\":";
    out.append(ts, size_t(lc.WriteTraceId(ts, a.trace_id) - ts));
  }
  if (a.span_id != 0) {
    out += ",\"span_id\":";
    out.append(ts, size_t(WriteHexId(ts, a.span_id) - ts));
  }
  out += "}\n";
}

// Formats batches into a reused buffer (never zero-filled), written through
// a raw pointer with one bound check per line; `emit` gets the buffer
// whenever the next line might not fit, and at the end of the batch.
class JsonlFormatter {
 public:
  explicit JsonlFormatter(size_t chunk) : chunk_(chunk) {}

  void Format(const Batch& batch, absl::FunctionRef<void(std::string_view)> emit) {
    lc_.NewBatch();
    char* p = scratch_.get();
    auto reserve = [&](size_t need) {
      if (scratch_ && size_t(p - scratch_.get()) + need <= size_) return;
      if (scratch_ && p != scratch_.get())
        emit(std::string_view(scratch_.get(), p - scratch_.get()));
      if (need > size_) {
        size_ = std::max(need, chunk_);
        scratch_.reset(new char[size_]);
      }
      p = scratch_.get();
    };
    for (const TraceRecord& t : batch.traces) {
      reserve(LineBound(t.kind, t.name, t.tags));
      p = WriteTraceLine(p, lc_, t);
    }
    for (const SpanRecord& s : batch.spans) {
      size_t bound = LineBound(s.kind, s.name, s.tags);
      for (const UserCounter& c : s.user_counters) bound += JsonStringBound(c.name.size()) + 24;
      reserve(bound);
      p = WriteSpanLine(p, lc_, s);
    }
    for (const RollupRecord& r : batch.rollups) {
      reserve(LineBound(r.kind, r.name, r.trace_tags));
      p = WriteRollupLine(p, lc_, r);
    }
    for (const DropRecord& d : batch.drops) {
      reserve(kLineFixedBound);
      p = WriteDropLine(p, lc_, d);
    }
    for (const AlertRecord& a : batch.alerts) {
      alert_.clear();
      AppendAlertLine(alert_, lc_, a);
      reserve(alert_.size());
      std::memcpy(p, alert_.data(), alert_.size());
      p += alert_.size();
    }
    if (scratch_ && p != scratch_.get()) emit(std::string_view(scratch_.get(), p - scratch_.get()));
  }

 private:
  LineCache lc_;
  std::string alert_;
  std::unique_ptr<char[]> scratch_;
  size_t size_ = 0;
  size_t chunk_;
};

}  // namespace

void AppendJsonl(const Batch& batch, std::string& out) {
  thread_local JsonlFormatter formatter(size_t{64} << 10);
  formatter.Format(batch, [&out](std::string_view chunk) { out.append(chunk); });
}

namespace {

class JsonlSink : public Sink {
 public:
  explicit JsonlSink(JsonlSinkOptions o)
      : opts_(std::move(o)), name_("jsonl:" + opts_.path), prealloc_(opts_.preallocate_bytes) {}
  ~JsonlSink() override {
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status Open() {
    pid_ = ::getpid();
    prealloc_.Reset();
    return internal::OpenForAppend(opts_.path, O_WRONLY, &fd_, &size_);
  }

  std::string_view name() const override { return name_; }

  absl::Status Write(const Batch& batch) override {
    if (::getpid() != pid_) {
      // A forked child: bytes the parent had not written yet are the parent's.
      pending_.clear();
      pid_ = ::getpid();
    }
    if (opts_.max_bytes > 0) RememberTraces(batch);
    // Written as it is formatted, so a huge batch never sits in memory whole.
    absl::Status st = Drain();  // a backlog from earlier failures goes first
    absl::Status direct;        // an error writing straight from the formatter
    formatter_.Format(batch, [&](std::string_view chunk) {
      if (pending_.empty() && opts_.max_bytes == 0 && fd_ >= 0 && direct.ok()) {
        chunk.remove_prefix(WriteSome(chunk, &direct));
      }
      pending_.append(chunk);
      if (pending_.size() >= (size_t{1} << 20) && st.ok() && direct.ok()) st = Drain();
    });
    if (!direct.ok()) st = Backlog(direct);
    if (st.ok()) st = Drain();
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
    if (absl::Status closed = internal::CloseAppendFile(&fd_, opts_.path); st.ok()) st = closed;
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

  // Writes as much of `bytes` as the file takes; returns how much. Sets
  // `st` on the first error.
  size_t WriteSome(std::string_view bytes, absl::Status* st) {
    size_t done = 0;
    prealloc_.Before(fd_, bytes.size(), opts_.max_bytes);
    while (done < bytes.size()) {
      ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (st->ok()) {
          *st = absl::UnavailableError(
              absl::StrCat("writing ", opts_.path, ": ", std::strerror(errno)));
        }
        break;
      }
      done += size_t(n);
      size_ += uint64_t(n);
    }
    return done;
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
      prealloc_.Before(fd_, end - done, opts_.max_bytes);
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
    if (absl::Status st = internal::ShiftRotatedFiles(opts_.path, opts_.max_files); !st.ok()) {
      return st;
    }
    absl::Status st = Open();
    if (!st.ok()) return st;
    size_ = 0;
    return absl::OkStatus();
  }

  JsonlSinkOptions opts_;
  std::string name_;
  internal::Preallocator prealloc_;
  int fd_ = -1;
  uint64_t size_ = 0;
  pid_t pid_ = 0;
  // Writes of 1 MiB: the page cache takes them faster per byte than 256 KiB
  // (BM_DrainJsonl, +8 %), and a flusher pass of a full default ring fits.
  JsonlFormatter formatter_{size_t{1} << 20};
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
