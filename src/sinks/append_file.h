// src/sinks/append_file.h — the file handling the file sinks share (JSONL in
// src/sinks, protobuf in src/proto): opening for appending and shifting
// rotated files. Internal: not installed.
#ifndef TOKMETER_SINKS_APPEND_FILE_H_
#define TOKMETER_SINKS_APPEND_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace tokmeter::internal {

// Opens (creating, mode 0644) `path` with O_APPEND | O_CLOEXEC and
// `access` (O_WRONLY or O_RDWR); sets *fd and *size (the current length).
// Unavailable, naming the path and the OS error, when it cannot.
absl::Status OpenForAppend(const std::string& path, int access, int* fd, uint64_t* size);

// Closes *fd (if open) and sets it to -1. DataLoss naming the path when
// close(2) fails — the kernel may not have taken the last bytes.
absl::Status CloseAppendFile(int* fd, const std::string& path);

// Makes room for a new `path`: path.(N-1) -> path.N, …, path -> path.1,
// keeping `max_files` rotated files (the oldest is overwritten); with
// max_files <= 0, `path` is deleted instead. The caller has closed `path`.
absl::Status ShiftRotatedFiles(const std::string& path, int max_files);

// Reserves disk blocks ahead of an append-only file's writes, `step` bytes
// at a time, with fallocate(FALLOC_FL_KEEP_SIZE): the file's size does not
// change (readers never see the reserved space), but the page-cache writes
// that follow land in allocated blocks instead of each reserving its own
// delayed allocation, which makes the JSONL drain's write(2) cheaper on
// ext4. At most `step` bytes stay reserved past the end of a file (`du`
// counts them; truncation releases them). The file's own size and blocks
// (fstat) decide, so a file truncated or appended to by someone else is
// handled. Best effort: a file system or device that cannot reserve stops
// the attempts for that file; a full disk is left to the write to report.
// Not on tmpfs, where a reservation would be pinned memory.
class Preallocator {
 public:
  explicit Preallocator(uint64_t step) : step_(step) {}
  // Before appending `n` bytes to `fd`. `limit` (0: none) is the size the
  // file is rotated at: nothing is reserved past it.
  void Before(int fd, uint64_t n, uint64_t limit);
  // A new file: try again.
  void Reset() {
    off_ = false;
    checked_fs_ = false;
  }

 private:
  uint64_t step_;
  bool off_ = false;         // this file cannot (or should not) reserve
  bool checked_fs_ = false;  // its file system was looked at
};

}  // namespace tokmeter::internal

#endif  // TOKMETER_SINKS_APPEND_FILE_H_
