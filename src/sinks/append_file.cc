#include "src/sinks/append_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#ifdef __linux__
#include <linux/magic.h>
#include <sys/vfs.h>
#endif
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tokmeter::internal {

absl::Status OpenForAppend(const std::string& path, int access, int* fd, uint64_t* size) {
  *fd = ::open(path.c_str(), access | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (*fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", path, " for appending: ", std::strerror(errno)));
  }
  struct stat st;
  *size = ::fstat(*fd, &st) == 0 ? uint64_t(st.st_size) : 0;
  return absl::OkStatus();
}

absl::Status CloseAppendFile(int* fd, const std::string& path) {
  if (*fd < 0) return absl::OkStatus();
  const int rc = ::close(*fd);
  *fd = -1;
  if (rc != 0) {
    return absl::DataLossError(absl::StrCat("closing ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status ShiftRotatedFiles(const std::string& path, int max_files) {
  for (int i = max_files; i >= 1; --i) {
    std::string from = i == 1 ? path : absl::StrCat(path, ".", i - 1);
    std::string to = absl::StrCat(path, ".", i);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      return absl::UnavailableError(
          absl::StrCat("rotating ", from, " to ", to, ": ", std::strerror(errno)));
    }
  }
  if (max_files <= 0) ::unlink(path.c_str());
  return absl::OkStatus();
}

void Preallocator::Before(int fd, uint64_t n, uint64_t limit) {
  if (step_ == 0 || off_ || fd < 0) return;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    off_ = true;
    return;
  }
#ifdef __linux__
  if (!checked_fs_) {
    // On tmpfs a reservation is memory (nothing to gain; pages pinned).
    struct statfs fs;
    checked_fs_ = true;
    if (::fstatfs(fd, &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
      off_ = true;
      return;
    }
  }
#endif
  const auto size = uint64_t(st.st_size);
  if (uint64_t(st.st_blocks) * 512 >= size + n) return;  // reserved already
  uint64_t want = std::max(step_, n);
  if (limit > 0) {
    if (size >= limit) return;
    want = std::min(want, limit - size);
  }
#ifdef __linux__
  if (::fallocate(fd, FALLOC_FL_KEEP_SIZE, off_t(size), off_t(want)) != 0 && errno != ENOSPC &&
      errno != EINTR) {
    off_ = true;  // EOPNOTSUPP (FUSE, NFS v3, old tmpfs), ...
  }
#else
  off_ = true;
#endif
}

}  // namespace tokmeter::internal
