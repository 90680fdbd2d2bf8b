// Follower: the batch reader's line loop and emit stage (emit.cc) fed with
// the bytes files gained since the last Poll.
//
// A Poll, in phases:
//   1. list the directories that changed (their mtime) and stat every path;
//   2. recognise files that moved inside a followed directory (same inode:
//      carry on where they were) and copies of files whose originals were
//      truncated (copytruncate: read from where the original was);
//   3. for each file in order (paths as given, directory entries sorted by
//      path): end the generation the path no longer leads to (deleted,
//      replaced, truncated), start one for a new file, read what it gained;
//   4. drain files renamed away while their writer may still append;
//   5. the formats' end-of-pass rules (forked Codex threads).
#include "src/analysis/follow.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "src/analysis/reader_internal.h"

namespace tokmeter::analysis {
namespace {

namespace ri = reader_internal;

constexpr size_t kChunk = size_t(1) << 18;      // bytes read per read(2), as the batch reader
constexpr size_t kPad = 64;                     // readable bytes past the data (simdjson)
constexpr size_t kMaxLine = size_t(256) << 20;  // longer lines are skipped as bad
constexpr size_t kHead = 256;                   // first bytes kept to recognise a file
constexpr size_t kSniffBytes = 4096;            // what whole-file formats sniff
// A directory modified this recently is listed again even if its mtime
// did not change (a second change within the timestamp's granularity).
constexpr int64_t kRacyNs = 2'000'000'000;

int64_t MtimeNs(const struct stat& st) {
  return int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

bool IsCompressedMagic(std::string_view h) {
  return (h.size() >= 2 && uint8_t(h[0]) == 0x1f && uint8_t(h[1]) == 0x8b) ||
         (h.size() >= 4 && uint8_t(h[0]) == 0x28 && uint8_t(h[1]) == 0xb5 &&
          uint8_t(h[2]) == 0x2f && uint8_t(h[3]) == 0xfd);
}
// Fewer bytes than a compression magic, and a prefix of one.
bool MaybeCompressedMagic(std::string_view h) {
  static constexpr std::string_view kGzip("\x1f\x8b", 2), kZstd("\x28\xb5\x2f\xfd", 4);
  return (h.size() < kGzip.size() && kGzip.starts_with(h)) ||
         (h.size() < kZstd.size() && kZstd.starts_with(h));
}

enum class Mode : uint8_t { kUnknown, kLines, kFeed };

// One path and the file generation it leads to.
struct FileState {
  std::string path;
  bool named = false;  // given to the Follower (not found in a directory)
  // The current generation; input < 0 when there is none.
  int input = -1;
  dev_t dev = 0;
  ino_t ino = 0;
  int fd = -1;
  int64_t offset = 0;      // bytes of the file consumed
  std::string carry;       // an unfinished line (or record) at the end
  bool skip_line = false;  // dropping the rest of an over-long line
  int hint = -1;           // the format of the previous line
  int idle = 0;            // Polls without growth
  std::string head;        // the first bytes (up to kHead)
  Mode mode = Mode::kUnknown;
  bool compressed = false;  // gzip / zstd: read whole once it settles
  int file_format = -1;
  std::unique_ptr<ri::FileFeeder> feeder;
  bool done = false;  // nothing more is read from this generation
  int64_t settled_size = -1;
  int64_t lru = 0;  // the descriptor's place in the open-file order
  // This Poll's stat of `path`.
  int err = 0;
  struct stat st {};
  bool fresh = true;  // found this Poll
};

struct Dir {
  int64_t mtime_ns = -1;  // at the last listing; -1: list it
  int64_t listed_ns = 0;  // when it was listed (wall clock)
};

struct Root {
  std::string path;
  std::unique_ptr<FileState> file;  // the path itself, when it is a file
  std::map<std::string, Dir> dirs;  // when it is a directory: it and its subdirectories
  std::map<std::string, std::unique_ptr<FileState>> files;  // found in them, by path
};

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The bytes of a plain file from an offset up to a limit (pread: the
// descriptor's position is not used).
class PreadSource final : public ri::ByteSource {
 public:
  PreadSource(int fd, int64_t* offset, int64_t limit, std::string path)
      : fd_(fd), offset_(offset), limit_(limit), path_(std::move(path)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    if (*offset_ >= limit_) return 0;
    n = std::min<size_t>(n, size_t(limit_ - *offset_));
    for (;;) {
      ssize_t r = ::pread(fd_, buf, n, *offset_);
      if (r >= 0) {
        *offset_ += r;
        return size_t(r);
      }
      if (errno != EINTR) return absl::FailedPreconditionError(std::strerror(errno));
    }
  }

 private:
  int fd_;
  int64_t* offset_;
  int64_t limit_;
  std::string path_;
};

}  // namespace

struct Follower::Impl {
  Impl(std::vector<std::string> paths, FollowOptions o)
      : opts(std::move(o)), emitter(opts.read, /*following=*/true) {
    for (std::string& p : paths) {
      Root& r = roots.emplace_back();
      r.path = std::move(p);
    }
    if (opts.settle_polls < 1) opts.settle_polls = 1;
    if (opts.max_open_files < 1) opts.max_open_files = 1;
  }
  ~Impl() {
    for (Root& r : roots) {
      if (r.file) CloseFd(*r.file);
      for (auto& [p, f] : r.files) CloseFd(*f);
    }
    for (auto& f : retired) CloseFd(*f);
  }

  // ---- Poll ----------------------------------------------------------------
  void Poll(const EventFn& fn) {
    emitter.SetCallback(&fn);
    ++polls;
    first_poll = polls == 1;
    for (Root& r : roots) StatRoot(r);
    MatchMoves();
    for (Root& r : roots) {
      if (r.file) Process(*r.file);
      for (auto it = r.files.begin(); it != r.files.end();) {
        if (Process(*it->second)) {
          CloseFd(*it->second);
          it = r.files.erase(it);
        } else {
          ++it;
        }
      }
    }
    DrainRetired();
    for (int input : primed) emitter.Idle(input);  // released, quietly
    emitter.EndOfPass();
    for (int input : primed) emitter.SetQuiet(input, false);
    primed.clear();
    emitter.SetCallback(nullptr);
  }

  void ReleaseHeld(const EventFn& fn) {
    emitter.SetCallback(&fn);
    auto release = [&](FileState& f) {
      if (f.input >= 0) emitter.Idle(f.input);
    };
    for (Root& r : roots) {
      if (r.file) release(*r.file);
      for (auto& [p, f] : r.files) release(*f);
    }
    for (auto& f : retired) release(*f);
    emitter.EndOfPass();
    emitter.SetCallback(nullptr);
  }

  // ---- phase 1: list and stat ------------------------------------------------
  void StatRoot(Root& r) {
    struct stat st;
    if (::stat(r.path.c_str(), &st) != 0) {
      int err = errno;
      if (err != ENOENT && err != ENOTDIR) Warn(r.path, std::strerror(err));
      if (r.file) {
        r.file->err = err;
      }
      for (auto& [p, f] : r.files) StatFile(*f);  // their ENOENT ends them
      r.dirs.clear();
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      if (r.file) {
        r.file->err = ENOENT;  // no longer a file
      }
      if (r.dirs.empty()) r.dirs[r.path] = Dir{};
      ListDirs(r);
      for (auto& [p, f] : r.files) StatFile(*f);
      return;
    }
    if (!r.file) {
      r.file = std::make_unique<FileState>();
      r.file->path = r.path;
      r.file->named = true;
    }
    r.file->err = 0;
    r.file->st = st;
    r.dirs.clear();
    for (auto& [p, f] : r.files) StatFile(*f);
  }

  void StatFile(FileState& f) { f.err = ::stat(f.path.c_str(), &f.st) == 0 ? 0 : errno; }

  void ListDirs(Root& r) {
    const int64_t now = NowNs();
    // New subdirectories sort after their parent and are inserted ahead of
    // the iteration: they are listed in this pass too.
    for (auto it = r.dirs.begin(); it != r.dirs.end();) {
      const std::string& d = it->first;
      struct stat st;
      if (::stat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (errno == EACCES) Warn(d, std::strerror(errno));
        // Gone: forget it and what lies below (files end through their stat).
        std::string prefix = d + "/";
        auto next = std::next(it);
        while (next != r.dirs.end() && next->first.starts_with(prefix)) next = r.dirs.erase(next);
        it = r.dirs.erase(it);
        continue;
      }
      Dir& dir = it->second;
      const int64_t mtime = MtimeNs(st);
      if (mtime != dir.mtime_ns || dir.listed_ns - mtime < kRacyNs) {
        if (List(r, d)) {
          dir.mtime_ns = mtime;
          dir.listed_ns = now;
        }
      }
      ++it;
    }
  }

  // Adds the files (WantedInDirectory) and subdirectories of `d` not known
  // yet. Symbolic links to files are followed, to directories not (as the
  // batch reader's walk).
  bool List(Root& r, const std::string& d) {
    DIR* dir = ::opendir(d.c_str());
    if (dir == nullptr) {
      Warn(d, std::strerror(errno));
      return false;
    }
    while (struct dirent* e = ::readdir(dir)) {
      std::string_view name(e->d_name);
      if (name == "." || name == "..") continue;
      std::string path = d;
      if (path.back() != '/') path += '/';
      path += name;
      unsigned char type = e->d_type;
      if (type == DT_UNKNOWN || type == DT_LNK) {
        struct stat st;
        if (type == DT_UNKNOWN && ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
          type = DT_DIR;
        } else if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
          type = DT_REG;
        } else {
          continue;
        }
      }
      if (type == DT_DIR) {
        r.dirs.try_emplace(path);
      } else if (type == DT_REG && ri::WantedInDirectory(name) && !r.files.contains(path)) {
        auto f = std::make_unique<FileState>();
        f->path = path;
        r.files.emplace(std::move(path), std::move(f));
      }
    }
    ::closedir(dir);
    return true;
  }

  // ---- phase 2: moves and copies -------------------------------------------
  static bool Gone(const FileState& f) {
    return f.input >= 0 &&
           (f.err != 0 || f.st.st_dev != f.dev || f.st.st_ino != f.ino || !S_ISREG(f.st.st_mode));
  }

  void MatchMoves() {
    if (first_poll) return;
    std::vector<FileState*> fresh;
    for (Root& r : roots) {
      for (auto& [p, f] : r.files) {
        if (f->fresh && f->err == 0 && S_ISREG(f->st.st_mode)) fresh.push_back(f.get());
      }
    }
    if (fresh.empty()) return;
    // A file renamed inside the followed directories: carry on under its new
    // path (its inode is the one followed).
    absl::flat_hash_map<std::pair<dev_t, ino_t>, FileState*> by_inode;
    for (FileState* f : fresh) by_inode[{f->st.st_dev, f->st.st_ino}] = f;
    std::vector<FileState*> followed;
    for (Root& r : roots) {
      if (r.file && r.file->input >= 0) followed.push_back(r.file.get());
      for (auto& [p, f] : r.files) {
        if (!f->fresh && f->input >= 0) followed.push_back(f.get());
      }
    }
    for (FileState* f : followed) {
      if (!Gone(*f)) continue;
      auto it = by_inode.find({f->dev, f->ino});
      if (it == by_inode.end() || !it->second->fresh) continue;
      Transfer(*f, *it->second);
    }
    // copytruncate: a new file that starts with the first kHead bytes of a
    // followed file is its copy. When the original was truncated (this
    // Poll), the copy is read from where the original was; otherwise what it
    // holds is still in the original, which is read instead.
    absl::flat_hash_map<std::string_view, FileState*> by_head;
    for (FileState* f : followed) {
      if (f->input >= 0 && f->mode == Mode::kLines && f->head.size() == kHead) {
        by_head.emplace(f->head, f);
      }
    }
    if (by_head.empty()) return;
    for (FileState* c : fresh) {
      if (!c->fresh || c->st.st_size < int64_t(kHead)) continue;
      std::string head = ReadHead(c->path);
      auto it = by_head.find(head);
      if (it == by_head.end()) continue;
      FileState& g = *it->second;
      const bool truncated =
          g.err == 0 && g.st.st_dev == g.dev && g.st.st_ino == g.ino && g.st.st_size < g.offset;
      int64_t start = c->st.st_size;
      if (truncated) {
        // The original's unfinished line is in the copy: read it there.
        start = std::min<int64_t>(g.offset - int64_t(g.carry.size()), c->st.st_size);
        g.carry.clear();
        g.skip_line = false;
      }
      StartGeneration(*c, start);
      c->mode = Mode::kLines;
      c->head = std::move(head);
      c->fresh = false;
    }
  }

  static std::string ReadHead(const std::string& path) {
    std::string head(kHead, '\0');
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return {};
    ssize_t n = ::pread(fd, head.data(), kHead, 0);
    ::close(fd);
    head.resize(n > 0 ? size_t(n) : 0);
    return head;
  }

  // `from`'s generation continues at `to` (the same file, renamed).
  void Transfer(FileState& from, FileState& to) {
    if (from.fd >= 0 && !from.named) lru_set.erase({from.lru, &from});
    to.input = from.input;
    to.dev = from.dev;
    to.ino = from.ino;
    to.fd = std::exchange(from.fd, -1);
    to.offset = from.offset;
    to.carry = std::move(from.carry);
    to.skip_line = from.skip_line;
    to.hint = from.hint;
    to.idle = from.idle;
    to.head = std::move(from.head);
    to.mode = from.mode;
    to.compressed = from.compressed;
    to.file_format = from.file_format;
    to.feeder = std::move(from.feeder);
    to.done = from.done;
    to.settled_size = from.settled_size;
    to.fresh = false;
    if (to.fd >= 0 && !to.named) {
      to.lru = ++lru_seq;
      lru_set.insert({to.lru, &to});
    }
    from.input = -1;
    from.carry.clear();
  }

  // ---- phase 3: each file --------------------------------------------------
  // Returns true when `f` is to be forgotten (a directory's file that is
  // gone).
  bool Process(FileState& f) {
    f.fresh = false;
    if (f.err != 0) {
      if (f.input >= 0) EndOrRetire(f);
      if (f.err != ENOENT && f.err != ENOTDIR) Warn(f.path, std::strerror(f.err));
      return !f.named && (f.err == ENOENT || f.err == ENOTDIR);
    }
    if (!S_ISREG(f.st.st_mode)) {
      if (f.input >= 0) EndOrRetire(f);
      Warn(f.path, "not a regular file");
      return false;
    }
    if (f.input >= 0 && (f.st.st_dev != f.dev || f.st.st_ino != f.ino)) {
      EndOrRetire(f);  // replaced by a new file
    } else if (f.input >= 0 && !f.compressed && f.st.st_size < f.offset) {
      EndGeneration(f);  // truncated
    }
    if (f.input < 0) StartGeneration(f, 0);
    Grow(f);
    return false;
  }

  void StartGeneration(FileState& f, int64_t offset) {
    CloseFd(f);
    f.input = emitter.AddInput(f.path);
    f.dev = f.st.st_dev;
    f.ino = f.st.st_ino;
    f.offset = offset;
    f.carry.clear();
    f.skip_line = false;
    f.hint = -1;
    f.idle = 0;
    f.head.clear();
    f.mode = Mode::kUnknown;
    f.compressed = false;
    f.file_format = -1;
    f.feeder.reset();
    f.done = false;
    f.settled_size = -1;
    if (first_poll && !opts.from_start) {
      emitter.SetQuiet(f.input, true);
      primed.push_back(f.input);
    }
  }

  void Grow(FileState& f) {
    const int64_t size = f.st.st_size;
    if (f.done) {
      if (f.compressed && size != f.offset) {
        Warn(f.path, "compressed file changed after it was read; not read again");
      }
      return;
    }
    if (f.compressed) {
      ReadCompressed(f);
      return;
    }
    if (size == f.offset) {
      SawNoGrowth(f);
      return;
    }
    if (!OpenFd(f)) return;
    // The first bytes: a truncation that grew back past the offset shows
    // there; gzip / zstd are recognised by them.
    std::string head(kHead, '\0');
    ssize_t n = ::pread(f.fd, head.data(), kHead, 0);
    head.resize(n > 0 ? size_t(n) : 0);
    if (!head.starts_with(f.head)) {
      EndGeneration(f);
      StartGeneration(f, 0);
      if (!OpenFd(f)) return;
    }
    f.head = std::move(head);
    if (f.mode == Mode::kUnknown && f.offset == 0 && f.carry.empty()) {
      if (IsCompressedMagic(f.head)) {
        f.compressed = true;
        ReadCompressed(f);
        return;
      }
      if (MaybeCompressedMagic(f.head)) return;  // too few bytes to tell
    }
    f.idle = 0;
    PreadSource src(f.fd, &f.offset, size, f.path);
    Pump(f, src);
  }

  void SawNoGrowth(FileState& f) {
    if (++f.idle == opts.settle_polls) emitter.Idle(f.input);
  }

  // Reads from `src` until its end, parsing what is complete; keeps the rest
  // in f.carry. `final`: the stream is the whole file (the last line needs
  // no '\n').
  void Pump(FileState& f, ri::ByteSource& src, bool final = false) {
    size_t len = f.carry.size();
    Reserve(len + kChunk);
    std::memcpy(buf.get(), f.carry.data(), len);
    f.carry.clear();
    bool failed = false;
    for (;;) {
      Reserve(len + kChunk);
      absl::StatusOr<size_t> r = src.Read(buf.get() + len, kChunk);
      if (!r.ok()) {
        Warn(f.path, std::string(r.status().message()));
        failed = true;
        break;
      }
      size_t n = *r;
      if (n == 0) break;
      if (f.skip_line) {
        char* nl = static_cast<char*>(std::memchr(buf.get() + len, '\n', n));
        if (nl == nullptr) continue;  // still inside the over-long line
        size_t keep = size_t(buf.get() + len + n - (nl + 1));
        std::memmove(buf.get() + len, nl + 1, keep);
        n = keep;
        f.skip_line = false;
      }
      len += n;
      len = Consume(f, len, false);
      if (f.done) return;
    }
    if (final || failed) {
      len = Consume(f, len, true);
      if (failed) EmitBad(f, 1);
    }
    f.carry.assign(buf.get(), len);
    if (f.carry.capacity() > 4 * kChunk && len < kChunk) f.carry.shrink_to_fit();
  }

  // Parses what buf[0, len) holds complete; returns the bytes left (moved
  // to the start of buf).
  size_t Consume(FileState& f, size_t len, bool final) {
    if (f.mode == Mode::kUnknown) {
      std::string_view head(buf.get(), std::min(len, kSniffBytes));
      const std::vector<ri::FileFormat>& formats = ri::FileFormats();
      bool undecided = false;
      for (int i = 0; i < int(formats.size()) && f.mode == Mode::kUnknown; ++i) {
        if (formats[size_t(i)].sniff(head)) {
          f.file_format = i;
          if (formats[size_t(i)].follow == nullptr) {
            Warn(f.path, "this format cannot be followed");
            f.done = true;
            return 0;
          }
          f.feeder = formats[size_t(i)].follow();
          f.mode = Mode::kFeed;
        } else if (!final && formats[size_t(i)].maybe != nullptr &&
                   formats[size_t(i)].maybe(head)) {
          undecided = true;
        }
      }
      if (f.mode == Mode::kUnknown) {
        if (undecided) return len;
        f.mode = Mode::kLines;
      }
    }
    if (f.mode == Mode::kFeed) return Feed(f, len, final);
    size_t whole = len;
    if (!final) {
      const char* nl = static_cast<const char*>(memrchr(buf.get(), '\n', len));
      if (nl == nullptr) {
        if (len <= kMaxLine) return len;
        EmitBad(f, 1);  // one line longer than kMaxLine: skipped
        f.skip_line = true;
        return 0;
      }
      whole = size_t(nl - buf.get()) + 1;
    }
    block.Clear();
    arena.Reset();
    ri::ParseContext ctx{&arena, &block.records, 0, buf.get(), buf.get() + len, buf.get() + cap};
    ri::ParseLines(std::string_view(buf.get(), whole), ctx, &f.hint, &block);
    block.bytes = int64_t(whole);
    emitter.Emit(f.input, block);
    std::memmove(buf.get(), buf.get() + whole, len - whole);
    return len - whole;
  }

  size_t Feed(FileState& f, size_t len, bool final) {
    size_t pos = 0;
    for (;;) {
      block.Clear();
      arena.Reset();
      ri::ParseContext ctx{&arena, &block.records, 0, buf.get(), buf.get() + len, buf.get() + cap};
      int64_t bad = 0;
      absl::StatusOr<size_t> r =
          f.feeder->Feed(std::string_view(buf.get() + pos, len - pos), ctx, &bad);
      if (!r.ok()) {
        Warn(f.path, std::string(r.status().message()));
        f.done = true;
        EmitBad(f, bad + 1);
        return 0;
      }
      if (*r == 0 && block.records.empty() && bad == 0) break;
      block.bytes = int64_t(*r);
      block.bad_count = bad;
      block.file_format = f.file_format;
      emitter.Emit(f.input, block);
      pos += *r;
      if (*r == 0) break;
    }
    if (final && pos < len) {
      EmitBad(f, 1);  // a record cut at the end
      pos = len;
    }
    std::memmove(buf.get(), buf.get() + pos, len - pos);
    return len - pos;
  }

  void EmitBad(FileState& f, int64_t n) {
    block.Clear();
    block.bad_count = n;
    if (f.mode != Mode::kFeed) {
      block.lines = 1;
      block.bad_lines.push_back(1);
    }
    emitter.Emit(f.input, block);
  }

  // gzip / zstd files are written once (rotated archives): read whole when
  // their size held for one Poll; files there at the first Poll are read
  // then (from_start) or skipped.
  void ReadCompressed(FileState& f) {
    const int64_t size = f.st.st_size;
    if (first_poll && !opts.from_start) {
      f.done = true;
      f.offset = size;
      return;
    }
    if (!first_poll && f.settled_size != size) {
      f.settled_size = size;
      return;
    }
    CloseFd(f);
    f.done = true;
    f.offset = size;
    absl::StatusOr<std::unique_ptr<ri::ByteSource>> src = ri::OpenSource(f.path);
    if (!src.ok()) {
      Warn(f.path, std::string(src.status().message()));
      return;
    }
    Pump(f, **src, /*final=*/true);
    f.carry.clear();
    emitter.Idle(f.input);
  }

  // The file a path led to is gone from it (deleted, renamed away or
  // replaced): read what it gained; if it still exists elsewhere (renamed)
  // its writer may still append, so it is drained until it idles.
  void EndOrRetire(FileState& f) {
    struct stat st;
    if (f.fd >= 0 && !f.done && ::fstat(f.fd, &st) == 0) {
      if (st.st_size > f.offset) {
        PreadSource src(f.fd, &f.offset, st.st_size, f.path);
        Pump(f, src);
      }
      if (st.st_nlink > 0 && !f.done) {
        auto r = std::make_unique<FileState>();
        Transfer(f, *r);
        r->path = f.path;
        r->named = true;  // not in the open-file order: kept until drained
        if (r->fd >= 0) lru_set.erase({r->lru, r.get()});
        r->idle = 0;
        retired.push_back(std::move(r));
        return;
      }
    }
    EndGeneration(f);
  }

  // The generation ends: its unfinished last line is read as the batch
  // reader reads a last line, held events are released.
  void EndGeneration(FileState& f) {
    if (f.input < 0) return;
    if (!f.done && !f.skip_line && !f.carry.empty()) {
      std::unique_ptr<ri::ByteSource> none = ri::MemorySource(std::string_view(""));
      Pump(f, *none, /*final=*/true);
    }
    emitter.Idle(f.input);
    CloseFd(f);
    f.input = -1;
    f.carry.clear();
    f.carry.shrink_to_fit();
    f.feeder.reset();
    f.head.clear();
  }

  void DrainRetired() {
    for (auto it = retired.begin(); it != retired.end();) {
      FileState& f = **it;
      struct stat st;
      bool grew = false;
      if (::fstat(f.fd, &st) == 0 && st.st_size > f.offset && !f.done) {
        PreadSource src(f.fd, &f.offset, st.st_size, f.path);
        Pump(f, src);
        grew = true;
      }
      // Ended once it did not grow for a whole Poll after the one that
      // retired it.
      if (!grew && ++f.idle > 1) {
        EndGeneration(f);
        it = retired.erase(it);
        continue;
      }
      ++it;
    }
  }

  // ---- descriptors ---------------------------------------------------------
  bool OpenFd(FileState& f) {
    if (f.fd >= 0) {
      if (!f.named) {
        lru_set.erase({f.lru, &f});
        f.lru = ++lru_seq;
        lru_set.insert({f.lru, &f});
      }
      return true;
    }
    int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      Warn(f.path, std::strerror(errno));
      return false;
    }
    struct stat st;
    if (::fstat(fd, &st) != 0 || st.st_dev != f.dev || st.st_ino != f.ino) {
      ::close(fd);  // replaced since the stat: the next Poll sees it
      return false;
    }
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    f.fd = fd;
    ++open_fds;
    if (!f.named) {
      while (int(lru_set.size()) >= opts.max_open_files) CloseFd(*lru_set.begin()->second);
      f.lru = ++lru_seq;
      lru_set.insert({f.lru, &f});
    }
    return true;
  }

  void CloseFd(FileState& f) {
    if (f.fd < 0) return;
    if (!f.named) lru_set.erase({f.lru, &f});
    ::close(f.fd);
    f.fd = -1;
    --open_fds;
  }

  void Reserve(size_t n) {
    if (cap >= n + kPad) return;
    size_t c = std::max(n + kPad, cap * 2);
    std::unique_ptr<char[]> b(new char[c]);
    if (cap) std::memcpy(b.get(), buf.get(), cap);
    buf = std::move(b);
    cap = c;
  }

  void Warn(std::string_view path, std::string_view what) {
    std::string msg = "cannot read ";
    msg.append(path).append(": ").append(what);
    if (warned.insert(msg).second) warnings.push_back(std::move(msg));
  }

  FollowOptions opts;
  ri::Emitter emitter;
  std::vector<Root> roots;
  std::vector<std::unique_ptr<FileState>> retired;  // renamed away, being drained
  std::vector<int> primed;                          // inputs read quietly this Poll
  int64_t polls = 0;
  bool first_poll = true;
  // The read buffer (with kPad readable bytes past its data).
  std::unique_ptr<char[]> buf;
  size_t cap = 0;
  ri::Arena arena;
  ri::ParsedBlock block;
  // Open descriptors of directory files, least recently read first.
  std::set<std::pair<int64_t, FileState*>> lru_set;
  int64_t lru_seq = 0;
  int64_t open_fds = 0;
  absl::flat_hash_set<std::string> warned;
  std::vector<std::string> warnings;
};

Follower::Follower(std::vector<std::string> paths, FollowOptions options)
    : impl_(std::make_unique<Impl>(std::move(paths), std::move(options))) {}
Follower::~Follower() = default;

absl::Status Follower::Poll(const EventFn& fn) {
  impl_->Poll(fn);
  return absl::OkStatus();
}

void Follower::ReleaseHeld(const EventFn& fn) { impl_->ReleaseHeld(fn); }

std::vector<InputSummary> Follower::Summaries() const {
  std::vector<InputSummary> out;
  for (int i = 0; i < impl_->emitter.num_inputs(); ++i) out.push_back(impl_->emitter.Summary(i));
  return out;
}

std::vector<std::string> Follower::TakeWarnings() { return std::exchange(impl_->warnings, {}); }

Follower::Stats Follower::stats() const {
  Stats s;
  auto add = [&](const FileState& f) {
    ++s.files;
    s.buffered_bytes += int64_t(f.carry.size());
  };
  for (const Root& r : impl_->roots) {
    if (r.file && r.file->input >= 0) add(*r.file);
    for (const auto& [p, f] : r.files) add(*f);
  }
  for (const auto& f : impl_->retired) add(*f);
  s.open_files = impl_->open_fds;
  s.polls = impl_->polls;
  return s;
}

}  // namespace tokmeter::analysis
