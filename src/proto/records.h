// src/proto/records.h — encoding batches as tokmeter.v1 records, and reading
// protobuf files back (proto/tokmeter/v1/records.proto; the framing, field
// numbers and decoder are src/model/proto_file.h).
#ifndef TOKMETER_SRC_PROTO_RECORDS_H_
#define TOKMETER_SRC_PROTO_RECORDS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/model/proto_file.h"
#include "tokmeter/record.h"

namespace tokmeter::proto {

// Appends the magic and a FileHeader (schema version, writer, time).
void AppendFileHeader(std::string& out, int64_t created_unix_ns);

// Builds one chunk: a StringTable record followed by records, each
// varint-length-delimited. Strings are interned by content into the chunk's
// table; the encoder keeps views of them, so every string passed to Add*
// must stay alive until Finish.
// Thread-compatible; reusable after Finish (buffers keep their capacity).
class ChunkEncoder {
 public:
  void AddTrace(const TraceRecord& t);
  void AddSpan(const SpanRecord& s);
  void AddRollup(const RollupRecord& r);
  void AddDrops(const DropRecord& d);
  void AddAlert(const AlertRecord& a);
  void AddJsonlLine(std::string_view line);  // kept verbatim (convert)
  // Appends every record of the batch (traces, spans, roll-ups, drops,
  // alerts: the JSONL order).
  void AddBatch(const Batch& batch);

  bool empty() const { return records_ == 0; }
  int64_t records() const { return records_; }
  // Bytes the chunk will take, string table excluded.
  size_t body_size() const { return body_.size(); }
  // Appends the string table and the records to `out` and resets.
  void Finish(std::string& out);

 private:
  uint32_t Intern(std::string_view s);
  void PutTags(uint32_t field, std::span<const Tag> tags);
  void PutCounters(uint32_t field, const Counters& c);

  absl::flat_hash_map<std::string_view, uint32_t> ids_;
  std::vector<std::string_view> strings_;  // id - 1 -> string
  // Last looked-up (pointer, size) -> id: the flusher's kinds, names and tag
  // keys are interned strings, so repeats usually hit here without hashing.
  struct CacheEntry {
    const char* data = nullptr;
    size_t size = 0;
    uint32_t id = 0;
  };
  CacheEntry cache_[256];
  std::string body_;
  int64_t records_ = 0;
};

using model::proto_file::FileRecordType;

// One record read back from a file. `batch` holds exactly that record (for
// every type but kJsonlLine). Views are valid until the reader moves on.
struct FileRecordView {
  FileRecordType type = FileRecordType::kSpan;
  Batch batch;
  std::string_view jsonl_line;  // kJsonlLine: the line without '\n'
  uint64_t offset = 0;          // byte offset of the record in the file
};

// Reads a protobuf file record by record.
// Thread-compatible. Spans get `trace_tags` from the latest Trace record of
// their trace seen so far (as a JSONL reader would apply trace lines).
class RecordReader {
 public:
  // Opens `path` ("-" = stdin) and checks the magic and header.
  // NotFound / PermissionDenied naming the path; InvalidArgument when it is
  // not a tokmeter protobuf file; FailedPrecondition for a newer schema.
  static absl::StatusOr<std::unique_ptr<RecordReader>> Open(const std::string& path);
  // Reads from memory (`data` must outlive the reader).
  static absl::StatusOr<std::unique_ptr<RecordReader>> FromBuffer(std::string_view data,
                                                                  std::string name = "buffer");
  ~RecordReader();

  // Decodes the next record into `out`: true, false at the end, or
  // DataLoss naming the file and offset for a truncated or corrupt record
  // (records before it were delivered).
  absl::StatusOr<bool> Next(FileRecordView& out);

  uint32_t schema_version() const { return schema_version_; }
  std::string_view writer() const { return writer_; }
  uint64_t bytes_read() const { return file_offset_; }

  struct Impl;

 private:
  RecordReader();
  absl::Status ReadHeader();
  // Makes at least `n` bytes available at pos_; false at EOF.
  absl::StatusOr<bool> Fill(size_t n);
  // The next length-delimited frame: true, false at the end of the file,
  // DataLoss when the file ends inside one.
  absl::StatusOr<bool> NextFrame(std::string_view* frame);

  std::string name_;
  int fd_ = -1;
  bool owns_fd_ = false;
  std::string buf_;
  std::string_view view_;  // FromBuffer: the data
  size_t pos_ = 0;         // into buf_ / view_
  size_t end_ = 0;
  uint64_t file_offset_ = 0;  // offset of pos_ in the file
  uint32_t schema_version_ = 0;
  std::string writer_;
  std::unique_ptr<Impl> impl_;
};

// Calls `fn` with every record of the file at `path`, in order.
absl::Status ReadProtobufFile(const std::string& path,
                              const std::function<void(const FileRecordView&)>& fn);

}  // namespace tokmeter::proto

#endif  // TOKMETER_SRC_PROTO_RECORDS_H_
