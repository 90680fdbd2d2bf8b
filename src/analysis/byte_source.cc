// Byte sources for the readers: plain files and stdin read with read(2) into
// the caller's buffer (no mmap: mapped pages would count toward RSS), and
// streaming gzip / zstd decompression.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/analysis/reader_internal.h"

namespace tokmeter::analysis::reader_internal {
namespace {

absl::Status ErrnoStatus(int err, std::string_view what, const std::string& path) {
  std::string msg = absl::StrCat("cannot ", std::string(what), " ", path, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    default:
      return absl::FailedPreconditionError(msg);
  }
}

// Raw bytes of a file descriptor, with an optional prefix already read (the
// magic-byte sniff).
class FdSource : public ByteSource {
 public:
  FdSource(int fd, bool owned, std::string path) : fd_(fd), owned_(owned), path_(std::move(path)) {}
  ~FdSource() override {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }
  void SetPrefix(std::string p) { prefix_ = std::move(p); }

  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    if (pos_ < prefix_.size()) {
      size_t k = std::min(n, prefix_.size() - pos_);
      std::memcpy(buf, prefix_.data() + pos_, k);
      pos_ += k;
      return k;
    }
    for (;;) {
      ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) return size_t(r);
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read", path_);
    }
  }
  const std::string& path() const { return path_; }

 private:
  int fd_;
  bool owned_;
  std::string path_;
  std::string prefix_;
  size_t pos_ = 0;
};

class MemSource : public ByteSource {
 public:
  explicit MemSource(std::string_view d) : d_(d) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    size_t k = std::min(n, d_.size());
    std::memcpy(buf, d_.data(), k);
    d_.remove_prefix(k);
    return k;
  }

 private:
  std::string_view d_;
};

constexpr size_t kInBuf = 128 * 1024;

// gzip (and zlib) streams, concatenated members allowed.
class GzipSource : public ByteSource {
 public:
  GzipSource(std::unique_ptr<ByteSource> in, std::string path)
      : in_(std::move(in)), path_(std::move(path)), buf_(new char[kInBuf]) {
    std::memset(&z_, 0, sizeof z_);
    ok_ = inflateInit2(&z_, 15 + 32) == Z_OK;  // auto-detect gzip/zlib header
  }
  ~GzipSource() override { inflateEnd(&z_); }

  absl::StatusOr<size_t> Read(char* out, size_t n) override {
    if (!ok_) return absl::DataLossError(absl::StrCat("cannot decompress ", path_));
    z_.next_out = reinterpret_cast<Bytef*>(out);
    z_.avail_out = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    while (z_.avail_out > 0) {
      if (z_.avail_in == 0 && !eof_) {
        absl::StatusOr<size_t> r = in_->Read(buf_.get(), kInBuf);
        if (!r.ok()) return r.status();
        if (*r == 0) eof_ = true;
        z_.next_in = reinterpret_cast<Bytef*>(buf_.get());
        z_.avail_in = static_cast<uInt>(*r);
      }
      if (z_.avail_in == 0 && eof_) {
        if (in_member_) {
          return absl::DataLossError(absl::StrCat("truncated gzip data in ", path_));
        }
        break;
      }
      int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        in_member_ = false;
        inflateReset(&z_);  // next member, if any
        continue;
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return absl::DataLossError(absl::StrCat("corrupt gzip data in ", path_));
      }
      in_member_ = true;
      if (rc == Z_BUF_ERROR && z_.avail_in == 0 && eof_) {
        return absl::DataLossError(absl::StrCat("truncated gzip data in ", path_));
      }
    }
    return n - z_.avail_out;
  }

 private:
  std::unique_ptr<ByteSource> in_;
  std::string path_;
  std::unique_ptr<char[]> buf_;
  z_stream z_;
  bool ok_ = false;
  bool eof_ = false;
  bool in_member_ = false;
};

class ZstdSource : public ByteSource {
 public:
  ZstdSource(std::unique_ptr<ByteSource> in, std::string path)
      : in_(std::move(in)),
        path_(std::move(path)),
        buf_(new char[kInBuf]),
        ds_(ZSTD_createDStream()) {
    ZSTD_initDStream(ds_);
  }
  ~ZstdSource() override { ZSTD_freeDStream(ds_); }

  absl::StatusOr<size_t> Read(char* out, size_t n) override {
    ZSTD_outBuffer ob{out, n, 0};
    while (ob.pos < ob.size) {
      if (ib_.pos == ib_.size && !eof_) {
        absl::StatusOr<size_t> r = in_->Read(buf_.get(), kInBuf);
        if (!r.ok()) return r.status();
        if (*r == 0) eof_ = true;
        ib_ = ZSTD_inBuffer{buf_.get(), *r, 0};
      }
      size_t before = ob.pos;
      size_t in_before = ib_.pos;
      size_t rc = ZSTD_decompressStream(ds_, &ob, &ib_);
      if (ZSTD_isError(rc)) {
        return absl::DataLossError(
            absl::StrCat("corrupt zstd data in ", path_, ": ", ZSTD_getErrorName(rc)));
      }
      // rc == 0: a frame ended. Otherwise a frame is open only if this call
      // consumed or produced something (an idle call returns a size hint).
      if (rc == 0) {
        frame_open_ = false;
      } else if (ib_.pos > in_before || ob.pos > before) {
        frame_open_ = true;
      }
      if (ib_.pos == ib_.size && eof_ && ob.pos == before) {
        if (frame_open_) return absl::DataLossError(absl::StrCat("truncated zstd data in ", path_));
        break;
      }
    }
    return ob.pos;
  }

 private:
  std::unique_ptr<ByteSource> in_;
  std::string path_;
  std::unique_ptr<char[]> buf_;
  ZSTD_DStream* ds_;
  ZSTD_inBuffer ib_{nullptr, 0, 0};
  bool eof_ = false;
  bool frame_open_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ByteSource>> OpenSource(const std::string& path) {
  int fd;
  bool owned = true;
  if (path == "-") {
    fd = 0;
    owned = false;
  } else {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "open", path);
    struct stat st;
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
      ::close(fd);
      return absl::FailedPreconditionError(absl::StrCat("cannot read ", path, ": is a directory"));
    }
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  auto src = std::make_unique<FdSource>(fd, owned, path);
  // Sniff the magic bytes (read until 4 bytes or end: pipes return short reads).
  std::string head(4, '\0');
  size_t got = 0;
  while (got < 4) {
    absl::StatusOr<size_t> r = src->Read(head.data() + got, 4 - got);
    if (!r.ok()) return r.status();
    if (*r == 0) break;
    got += *r;
  }
  head.resize(got);
  src->SetPrefix(head);
  return MaybeDecompress(head, std::move(src), path);
}

std::unique_ptr<ByteSource> MaybeDecompress(std::string_view head, std::unique_ptr<ByteSource> raw,
                                            const std::string& name) {
  if (head.size() >= 2 && uint8_t(head[0]) == 0x1f && uint8_t(head[1]) == 0x8b) {
    return std::unique_ptr<ByteSource>(new GzipSource(std::move(raw), name));
  }
  if (head.size() >= 4 && uint8_t(head[0]) == 0x28 && uint8_t(head[1]) == 0xb5 &&
      uint8_t(head[2]) == 0x2f && uint8_t(head[3]) == 0xfd) {
    return std::unique_ptr<ByteSource>(new ZstdSource(std::move(raw), name));
  }
  return raw;
}

std::unique_ptr<ByteSource> MemorySource(std::string_view data) {
  return std::make_unique<MemSource>(data);
}

char* Arena::Alloc(size_t n) {
  while (cur_ < blocks_.size() && used_ + n > sizes_[cur_]) {
    ++cur_;
    used_ = 0;
  }
  if (cur_ == blocks_.size()) {
    size_t sz = std::max(kBlock, n);
    blocks_.emplace_back(new char[sz]);
    sizes_.push_back(sz);
    used_ = 0;
  }
  char* p = blocks_[cur_].get() + used_;
  used_ += n;
  return p;
}

void Arena::Reset() {
  size_t total = 0;
  size_t keep = 0;
  while (keep < blocks_.size() && total + sizes_[keep] <= (1u << 20)) total += sizes_[keep++];
  blocks_.resize(keep);
  sizes_.resize(keep);
  cur_ = 0;
  used_ = 0;
}

}  // namespace tokmeter::analysis::reader_internal
