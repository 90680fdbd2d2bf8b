// tokmeter/proto_sink.h — the protobuf file sink: the JSONL content in
// length-delimited tokmeter.v1 records (proto/tokmeter/v1/records.proto).
#ifndef TOKMETER_PROTO_SINK_H_
#define TOKMETER_PROTO_SINK_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tokmeter/sink.h"

namespace tokmeter {

struct ProtobufSinkOptions {
  // File to append to; created (with its header) if missing or empty. The
  // directory must exist. An existing file must be a tokmeter protobuf file.
  std::string path;
  // Rotate when the file would grow past this many bytes: path -> path.1 ->
  // path.2 ...; 0 never rotates. Each write is cut only between whole
  // chunks (string table + records), so every file reads on its own; a new
  // file starts with the header and the trace records of open traces.
  // Default 0.
  uint64_t max_bytes = 0;
  // Rotated files kept (path.1 .. path.N); older ones are deleted. Default 5.
  int max_files = 5;
  // Bytes buffered for a file that cannot be written (disk full) before the
  // oldest chunks are dropped and counted. Default 16 MiB.
  size_t max_pending_bytes = size_t{16} << 20;
  // Disk blocks reserved ahead of the writes, as the JSONL sink does (see
  // JsonlSinkOptions::preallocate_bytes): the file's size stays exactly its
  // records. 0: off. Default 4 MiB.
  uint64_t preallocate_bytes = uint64_t{4} << 20;
};

// Writes the protobuf file format: 8 magic bytes, a FileHeader, then
// varint-length-delimited tokmeter.v1.Record messages. Every write(2) starts
// with a string table and holds whole records; the file is opened O_APPEND,
// so a forked child sharing it never interleaves inside a record.
// Thread-safety: as every Sink (called by one flusher at a time).
// Opening fails with the errno message naming the path, or
// FailedPrecondition when the file exists and is not a protobuf file.
absl::StatusOr<std::unique_ptr<Sink>> MakeProtobufSink(ProtobufSinkOptions options);

}  // namespace tokmeter

#endif  // TOKMETER_PROTO_SINK_H_
