// ReadInputs(): a small ordered pipeline.
//
//   read (one thread at a time, under read_mu_): read(2)/inflate the current
//       input into a 1 MiB chunk of whole lines (the unfinished last line is
//       carried into the next chunk);
//   parse (all threads in parallel): each line is sniffed and turned into
//       Records (formats.cc), strings copied into the chunk's arena;
//   emit (one thread at a time, in chunk order): each record to its format's
//       FormatState (trace tags, Claude Code dedup, Codex threads: one file
//       per format in formats/), then path tags, time range and `fn`.
//
// Memory is bounded by kMaxInFlightPerThread chunks per thread plus the state
// that grows with groups (traces, Claude Code message ids, interned strings),
// never with lines.
#include "src/analysis/reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/analysis/reader_internal.h"

namespace tokmeter::analysis {
namespace {

using reader_internal::Arena;
using reader_internal::ByteSource;
using reader_internal::LineResult;
using reader_internal::ParseContext;
using reader_internal::ParsedRecord;
using reader_internal::ParsedRecordType;

constexpr size_t kChunk = 1 << 18;
constexpr size_t kMaxLine = size_t(256) << 20;  // longer lines are skipped as bad
constexpr int kMaxInFlightPerThread = 3;
constexpr size_t kSniffBytes = 4096;  // what whole-file formats sniff

struct Chunk {
  int input = 0;
  uint64_t seq = 0;
  std::unique_ptr<char[]> buf;
  size_t cap = 0;
  size_t len = 0;
  bool last_of_input = false;
  bool first_of_input = false;
  // Parse results (block.extra_bad: over-long or undecodable data found
  // while reading).
  Arena arena;
  reader_internal::ParsedBlock block;
  // A whole-file format (FileFormats()): the chunk holds the input's first
  // bytes and owns the rest of its source; Parse reads it all.
  std::unique_ptr<ByteSource> source;
  int64_t source_bytes = 0;

  void Clear() {
    source.reset();
    source_bytes = 0;
    len = 0;
    last_of_input = first_of_input = false;
    arena.Reset();
    block.Clear();
  }
};

class Reader final {
 public:
  Reader(std::vector<std::string> files, const ReadOptions& o, const EventFn& fn,
         reader_internal::OpenFn open)
      : files_(std::move(files)), opts_(o), open_(std::move(open)), emitter_(o, false) {
    emitter_.SetCallback(&fn);
    for (const std::string& f : files_) emitter_.AddInput(f);
  }

  absl::StatusOr<ReadResult> Run() {
    int threads = opts_.threads > 0 ? opts_.threads : int(std::thread::hardware_concurrency());
    threads = std::clamp(threads, 1, 16);
    max_in_flight_ = kMaxInFlightPerThread * threads;
    if (threads == 1 || files_.empty()) {
      Work();
    } else {
      std::vector<std::thread> pool;
      for (int i = 1; i < threads; ++i) pool.emplace_back([this] { Work(); });
      Work();
      for (auto& t : pool) t.join();
    }
    if (!error_.ok()) return error_;
    emitter_.Finish();
    ReadResult result;
    for (int i = 0; i < emitter_.num_inputs(); ++i) result.inputs.push_back(emitter_.Summary(i));
    return result;
  }

 private:
  // ---- read stage --------------------------------------------------------
  Chunk* NextChunk() {
    std::unique_lock<std::mutex> rl(read_mu_);
    {
      std::unique_lock<std::mutex> el(emit_mu_);
      emit_cv_.wait(el, [&] { return in_flight_ < max_in_flight_ || abort_; });
      if (abort_) return nullptr;
      if (!source_ && next_file_ >= files_.size()) return nullptr;
      ++in_flight_;
    }
    Chunk* c = AllocChunk();
    if (!source_) {
      absl::StatusOr<std::unique_ptr<ByteSource>> src = open_(files_[next_file_]);
      if (!src.ok()) {
        Abort(src.status());
        Recycle(c);
        return nullptr;
      }
      source_ = std::move(*src);
      cur_input_ = int(next_file_++);
      carry_.clear();
      skip_to_newline_ = false;
      c->first_of_input = true;
    }
    c->input = cur_input_;
    c->seq = next_seq_read_++;
    if (c->first_of_input && !reader_internal::FileFormats().empty()) {
      // Sniff whole-file formats on the first bytes of the input.
      size_t got = 0;
      bool failed = false;
      while (got < kSniffBytes) {
        absl::StatusOr<size_t> r = source_->Read(c->buf.get() + got, kSniffBytes - got);
        if (!r.ok()) {
          failed = true;
          break;
        }
        if (*r == 0) break;
        got += *r;
      }
      std::string_view head(c->buf.get(), got);
      const auto& ff = reader_internal::FileFormats();
      for (int i = 0; i < int(ff.size()) && !failed; ++i) {
        if (ff[i].sniff(head)) {
          c->block.file_format = i;
          c->len = got;
          c->source = std::move(source_);
          c->last_of_input = true;
          return c;
        }
      }
      carry_.assign(head);  // not a whole-file format: these bytes start the lines
      if (failed) c->block.extra_bad = 1;
    }
    // Buffers hold 2 * kChunk: the carried tail plus about kChunk of new bytes.
    if (c->cap < carry_.size() + kChunk) Grow(c, std::max(2 * kChunk, carry_.size() * 2));
    std::memcpy(c->buf.get(), carry_.data(), carry_.size());
    c->len = carry_.size();
    carry_.clear();
    bool eof = false;
    size_t scan_from = 0;  // bytes before this hold no newline
    for (;;) {
      while (c->len < c->cap && !eof) {
        absl::StatusOr<size_t> r = source_->Read(c->buf.get() + c->len, c->cap - c->len);
        if (!r.ok()) {
          // Corrupt or truncated compressed data: keep what was decoded, count
          // one bad line, end this input.
          ++c->block.extra_bad;
          eof = true;
          break;
        }
        if (*r == 0) {
          eof = true;
          break;
        }
        if (skip_to_newline_) {
          char* nl = static_cast<char*>(std::memchr(c->buf.get() + c->len, '\n', *r));
          if (!nl) continue;  // still inside the over-long line: drop these bytes
          size_t keep = c->buf.get() + c->len + *r - (nl + 1);
          std::memmove(c->buf.get() + c->len, nl + 1, keep);
          *r = keep;
          skip_to_newline_ = false;
        }
        c->len += *r;
        if (c->len >= kChunk) break;
      }
      if (eof) break;
      const char* nl =
          static_cast<const char*>(memrchr(c->buf.get() + scan_from, '\n', c->len - scan_from));
      if (nl) {
        size_t end = size_t(nl - c->buf.get()) + 1;
        carry_.assign(c->buf.get() + end, c->len - end);
        c->len = end;
        break;
      }
      scan_from = c->len;
      if (c->cap >= kMaxLine) {
        // One line longer than kMaxLine: skip it.
        ++c->block.extra_bad;
        c->len = 0;
        scan_from = 0;
        skip_to_newline_ = true;
        continue;
      }
      Grow(c, c->cap * 2);
    }
    if (eof) {
      c->last_of_input = true;
      source_.reset();
    }
    return c;
  }

  static void Grow(Chunk* c, size_t cap) {
    std::unique_ptr<char[]> b(new char[cap]);
    if (c->len) std::memcpy(b.get(), c->buf.get(), c->len);
    c->buf = std::move(b);
    c->cap = cap;
  }

  Chunk* AllocChunk() {
    std::lock_guard<std::mutex> l(emit_mu_);
    if (!free_.empty()) {
      Chunk* c = free_.back().release();
      free_.pop_back();
      return c;
    }
    auto* c = new Chunk;
    c->buf.reset(new char[2 * kChunk]);
    c->cap = 2 * kChunk;
    return c;
  }

  void Recycle(Chunk* c) {
    std::lock_guard<std::mutex> l(emit_mu_);
    c->Clear();
    if (c->cap > 4 * kChunk) {  // do not keep buffers grown for huge lines
      c->buf.reset(new char[2 * kChunk]);
      c->cap = 2 * kChunk;
    }
    free_.emplace_back(c);
    --in_flight_;
    emit_cv_.notify_all();
  }

  void Abort(absl::Status s) {
    std::lock_guard<std::mutex> l(emit_mu_);
    if (error_.ok()) error_ = std::move(s);
    abort_ = true;
    emit_cv_.notify_all();
  }

  // ---- parse stage -------------------------------------------------------
  // Counts the bytes a whole-file reader pulls.
  class CountingSource : public ByteSource {
   public:
    CountingSource(ByteSource& in, int64_t* n) : in_(in), n_(n) {}
    absl::StatusOr<size_t> Read(char* buf, size_t n) override {
      absl::StatusOr<size_t> r = in_.Read(buf, n);
      if (r.ok()) *n_ += int64_t(*r);
      return r;
    }

   private:
    ByteSource& in_;
    int64_t* n_;
  };

  static void Parse(Chunk* c) {
    ParseContext ctx{&c->arena,    &c->block.records,     0,
                     c->buf.get(), c->buf.get() + c->len, c->buf.get() + c->cap};
    if (c->block.file_format >= 0) {
      const reader_internal::FileFormat& f =
          reader_internal::FileFormats()[size_t(c->block.file_format)];
      CountingSource counting(*c->source, &c->source_bytes);
      int64_t bad = 0;
      absl::Status s = f.read(std::string_view(c->buf.get(), c->len), counting, ctx, &bad);
      if (!s.ok()) ++bad;  // unreadable rest (corrupt compression, newer schema)
      c->block.bad_count = bad;
      c->source.reset();
      return;
    }
    int hint = -1;
    reader_internal::ParseLines(std::string_view(c->buf.get(), c->len), ctx, &hint, &c->block);
  }

  void Work() {
    while (Chunk* c = NextChunk()) {
      Parse(c);
      Submit(c);
    }
  }

  // ---- emit stage --------------------------------------------------------
  void Submit(Chunk* c) {
    std::unique_lock<std::mutex> l(emit_mu_);
    pending_.emplace(c->seq, c);
    if (emitting_) return;
    emitting_ = true;
    while (!abort_) {
      auto it = pending_.find(next_seq_emit_);
      if (it == pending_.end()) break;
      Chunk* n = it->second;
      pending_.erase(it);
      l.unlock();
      Emit(n);
      Recycle(n);
      l.lock();
      ++next_seq_emit_;
    }
    emitting_ = false;
    if (abort_) {
      for (auto& [seq, ch] : pending_) {
        ch->Clear();
        free_.emplace_back(ch);
        --in_flight_;
      }
      pending_.clear();
    }
    emit_cv_.notify_all();
  }

  void Emit(Chunk* c) {
    c->block.bytes = int64_t(c->len) + c->source_bytes;
    emitter_.Emit(c->input, c->block);
  }

  const std::vector<std::string> files_;
  const ReadOptions& opts_;
  reader_internal::OpenFn open_;
  int max_in_flight_ = 2;

  // Read stage, guarded by read_mu_.
  std::mutex read_mu_;
  size_t next_file_ = 0;
  int cur_input_ = -1;
  std::unique_ptr<ByteSource> source_;
  std::string carry_;
  bool skip_to_newline_ = false;
  uint64_t next_seq_read_ = 0;

  // Chunk hand-off, guarded by emit_mu_.
  std::mutex emit_mu_;
  std::condition_variable emit_cv_;
  std::map<uint64_t, Chunk*> pending_;
  std::vector<std::unique_ptr<Chunk>> free_;
  int in_flight_ = 0;
  uint64_t next_seq_emit_ = 0;
  bool emitting_ = false;
  bool abort_ = false;
  absl::Status error_;

  // Emit stage: touched only by the one emitting thread (or after join).
  reader_internal::Emitter emitter_;
};

// Expands directories (recursively, sorted, WantedInDirectory) and checks
// that every named path exists.
absl::StatusOr<std::vector<std::string>> ExpandInputs(const std::vector<std::string>& inputs,
                                                      std::vector<std::string>* empty_dirs) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& in : inputs) {
    if (in == "-") {
      files.push_back(in);
      continue;
    }
    struct stat st;
    if (::stat(in.c_str(), &st) != 0) {
      int err = errno;
      std::string msg = absl::StrCat("cannot read ", in, ": ", std::strerror(err));
      return err == ENOENT ? absl::NotFoundError(msg) : absl::PermissionDeniedError(msg);
    }
    if (!S_ISDIR(st.st_mode)) {
      files.push_back(in);
      continue;
    }
    std::vector<std::string> found;
    std::error_code ec;
    fs::recursive_directory_iterator it(in, fs::directory_options::none, ec), end;
    if (ec)
      return absl::PermissionDeniedError(absl::StrCat("cannot read ", in, ": ", ec.message()));
    for (; it != end; it.increment(ec)) {
      if (ec) {
        return absl::PermissionDeniedError(
            absl::StrCat("cannot read ", it->path().string(), ": ", ec.message()));
      }
      std::error_code ec2;
      if (!it->is_regular_file(ec2)) continue;
      std::string name = it->path().filename().string();
      if (reader_internal::WantedInDirectory(name)) found.push_back(it->path().string());
    }
    if (ec)
      return absl::PermissionDeniedError(absl::StrCat("cannot read ", in, ": ", ec.message()));
    std::sort(found.begin(), found.end());
    if (found.empty()) empty_dirs->push_back(in);
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

}  // namespace

absl::StatusOr<ReadResult> ReadInputs(const std::vector<std::string>& inputs,
                                      const ReadOptions& options, const EventFn& fn) {
  std::vector<std::string> empty_dirs;
  absl::StatusOr<std::vector<std::string>> files = ExpandInputs(inputs, &empty_dirs);
  if (!files.ok()) return files.status();
  Reader reader(std::move(*files), options, fn, reader_internal::OpenSource);
  absl::StatusOr<ReadResult> result = reader.Run();
  if (!result.ok()) return result;
  for (std::string& d : empty_dirs) {
    InputSummary s;
    s.path = std::move(d);
    s.format = "empty";
    s.empty = true;
    result->inputs.push_back(std::move(s));
  }
  return result;
}

namespace reader_internal {
absl::StatusOr<ReadResult> ReadWith(const std::vector<std::string>& names, OpenFn open,
                                    const ReadOptions& options, const EventFn& fn) {
  Reader reader(names, options, fn, std::move(open));
  return reader.Run();
}
}  // namespace reader_internal

}  // namespace tokmeter::analysis
