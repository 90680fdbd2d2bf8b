// tokmeter/sinks.h — the built-in sinks: JSONL files, memory, callback.
#ifndef TOKMETER_SINKS_H_
#define TOKMETER_SINKS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tokmeter/sink.h"

namespace tokmeter {

struct JsonlSinkOptions {
  // File to append to; created if missing (the directory must exist).
  std::string path;
  // Rotate when the file would grow past this many bytes: path -> path.1 ->
  // path.2 ...; 0 never rotates. Default 0.
  uint64_t max_bytes = 0;
  // Rotated files kept (path.1 .. path.N); older ones are deleted. Default 5.
  int max_files = 5;
  // Bytes buffered for a file that cannot be written (disk full) before the
  // oldest records are dropped and counted. Default 16 MiB.
  size_t max_pending_bytes = size_t{16} << 20;
  // Disk blocks reserved ahead of the writes, this many bytes at a time
  // (fallocate with FALLOC_FL_KEEP_SIZE: the file's size is always exactly
  // the lines written). Makes each write cheaper on ext4/XFS; up to this
  // much stays reserved past the end of the file (never past max_bytes).
  // 0 disables. Default 4 MiB.
  uint64_t preallocate_bytes = uint64_t{4} << 20;
};

// Writes one JSON object per line (docs/FORMAT.md). Each write(2) holds whole
// lines and the file is opened O_APPEND, so processes sharing the file
// (a forked child) never interleave inside a line.
// Opening fails with the errno message naming the path.
absl::StatusOr<std::unique_ptr<Sink>> MakeJsonlSink(JsonlSinkOptions options);

// Formats a batch as JSONL (appends to `out`). The exact bytes the JSONL
// sink writes; trace lines for every trace in the batch come first.
void AppendJsonl(const Batch& batch, std::string& out);

// Keeps copies of everything written; for tests and embedding.
// Thread-safety: the accessors may be called from any thread.
class MemorySink : public Sink {
 public:
  std::string_view name() const override { return "memory"; }
  absl::Status Write(const Batch& batch) override;
  std::vector<OwnedSpan> spans() const;
  std::vector<OwnedRollup> rollups() const;
  std::vector<DropRecord> drops() const;
  uint64_t total_dropped() const;  // sum of DropRecord::dropped
  size_t batches() const;

 private:
  mutable std::mutex mu_;
  std::vector<OwnedSpan> spans_;      // guarded by mu_
  std::vector<OwnedRollup> rollups_;  // guarded by mu_
  std::vector<DropRecord> drops_;     // guarded by mu_
  size_t batches_ = 0;                // guarded by mu_
};

// Calls a function with every batch, on the flusher thread.
class CallbackSink : public Sink {
 public:
  explicit CallbackSink(std::function<void(const Batch&)> fn) : fn_(std::move(fn)) {}
  std::string_view name() const override { return "callback"; }
  absl::Status Write(const Batch& batch) override {
    fn_(batch);
    return absl::OkStatus();
  }

 private:
  std::function<void(const Batch&)> fn_;
};

}  // namespace tokmeter

#endif  // TOKMETER_SINKS_H_
