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

}  // namespace tokmeter::internal

#endif  // TOKMETER_SINKS_APPEND_FILE_H_
