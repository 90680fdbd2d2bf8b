// src/model/proto_file.h — tokmeter protobuf files (proto/tokmeter/v1/
// records.proto), written once: the framing (magic, file header, schema
// version, length-delimited records), the field numbers, and the one
// decoder. The protobuf sink and `tokmeter convert` encode with these
// numbers (src/proto/records.h); proto::RecordReader and the analysis
// reader decode with FileRecordDecoder.
//
// A file is: kFileMagic, then a varint-length-delimited FileHeader, then
// varint-length-delimited Record messages. A StringTable record precedes the
// records whose string ids refer to it (ids are 1-based; 0 is the empty
// string) and replaces the previous table.
#ifndef TOKMETER_MODEL_PROTO_FILE_H_
#define TOKMETER_MODEL_PROTO_FILE_H_

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "tokmeter/record.h"

namespace tokmeter::model::proto_file {

// The 8 bytes every protobuf file starts with.
inline constexpr std::string_view kFileMagic{"\x89TKMPB\r\n", 8};
// The newest schema this build reads and the one it writes.
inline constexpr uint32_t kSchemaVersion = 1;
// True when `prefix` (the first bytes of a file) starts with the magic.
inline bool HasMagic(std::string_view prefix) {
  return prefix.substr(0, kFileMagic.size()) == kFileMagic;
}

// Field numbers (records.proto).
namespace field {
// FileHeader
inline constexpr uint32_t kHeaderVersion = 1, kHeaderWriter = 2, kHeaderCreated = 3;
// Record (a oneof)
inline constexpr uint32_t kStrings = 1, kTrace = 2, kSpan = 3, kRollup = 4, kDrops = 5,
                          kJsonlLine = 6, kAlert = 7;
// StringTable
inline constexpr uint32_t kStringValue = 1;
// Tag
inline constexpr uint32_t kTagKey = 1, kTagStr = 2, kTagInt = 3, kTagBool = 4;
// UserCounter
inline constexpr uint32_t kUserCounterName = 1, kUserCounterValue = 2;
// Trace
inline constexpr uint32_t kTraceHi = 1, kTraceLo = 2, kTraceRootSpan = 3, kTraceStart = 4,
                          kTraceKind = 5, kTraceName = 6, kTraceTags = 7;
// Span
inline constexpr uint32_t kSpanHi = 1, kSpanLo = 2, kSpanId = 3, kSpanParent = 4, kSpanStart = 5,
                          kSpanDuration = 6, kSpanKind = 7, kSpanName = 8, kSpanThread = 9,
                          kSpanRoot = 10, kSpanFingerprint = 11, kSpanCounters = 12, kSpanTags = 13,
                          kSpanUserCounters = 14;
// Rollup
inline constexpr uint32_t kRollupHi = 1, kRollupLo = 2, kRollupSpan = 3, kRollupScope = 4,
                          kRollupKind = 5, kRollupName = 6, kRollupStart = 7, kRollupDuration = 8,
                          kRollupSpans = 9, kRollupCounters = 10, kRollupTags = 11;
// Drops
inline constexpr uint32_t kDropsThread = 1, kDropsTime = 2, kDropsDropped = 3, kDropsTotal = 4;
// Alert (keys are Tag messages with string values)
inline constexpr uint32_t kAlertTime = 1, kAlertRule = 2, kAlertSeverity = 3, kAlertSubject = 4,
                          kAlertKeys = 5, kAlertEvidence = 6, kAlertCondition = 7,
                          kAlertMessage = 8, kAlertSince = 9, kAlertUntil = 10, kAlertTokens = 11,
                          kAlertTraceHi = 12, kAlertTraceLo = 13, kAlertSpanId = 14;
inline constexpr uint32_t kEvidenceName = 1, kEvidenceValue = 2;
}  // namespace field

struct FileHeader {
  uint32_t schema_version = 0;
  std::string_view writer;  // "tokmeter 0.1.0"; a view into the header bytes
  int64_t created_unix_ns = 0;
};
// Decodes a FileHeader message (the bytes inside its length prefix).
bool DecodeFileHeader(std::string_view msg, FileHeader* out);

// Reads one varint-length-delimited frame at [*p, end): on success `*frame`
// is its content and *p moves past it. Returns false when the frame is
// truncated (or its length is absurd); *p is then unchanged.
bool NextFrame(const char*& p, const char* end, std::string_view* frame);

// The kinds of records a file holds (the Record oneof).
enum class FileRecordType : uint8_t {
  kStrings,    // a string table (consumed by the decoder)
  kTrace,      // FileRecord::trace
  kSpan,       // FileRecord::span (trace_tags left empty: the reader resolves them)
  kRollup,     // FileRecord::rollup
  kDrops,      // FileRecord::drops
  kJsonlLine,  // FileRecord::jsonl_line: a JSONL line kept verbatim by `convert`
  kAlert,      // FileRecord::alert: a rule that fired in the live monitor
  kUnknown,    // a record type from a newer writer: skip it
};

// One decoded record. Views point into the decoder's string table and
// buffers and into the record bytes; valid until the next Decode.
struct FileRecord {
  FileRecordType type = FileRecordType::kUnknown;
  TraceRecord trace;
  SpanRecord span;
  RollupRecord rollup;
  DropRecord drops;
  std::string_view jsonl_line;
  AlertRecord alert;  // owns its strings
};

// Decodes Record messages in file order. Thread-compatible.
class FileRecordDecoder {
 public:
  // Where the strings of a string table are kept: by default the decoder
  // copies them (valid until the next table); a caller whose records
  // outlive that passes its own storage (e.g. an arena).
  using KeepFn = absl::FunctionRef<std::string_view(std::string_view)>;

  // Decodes one Record message (the bytes inside its frame). False when it
  // is malformed: bad wire data, or a string id outside the current table.
  bool Decode(std::string_view msg, FileRecord* out);
  bool Decode(std::string_view msg, FileRecord* out, KeepFn keep);

 private:
  bool Strings(std::string_view msg, KeepFn keep);
  bool Str(uint64_t id, std::string_view* dst) const;
  bool Tags(std::string_view msg, std::vector<Tag>& dst);
  bool CountersOf(std::string_view packed, Counters* c);

  std::deque<std::string> owned_;        // the default KeepFn's copies (stable addresses)
  std::vector<std::string_view> table_;  // id - 1 -> string
  std::vector<Tag> tags_;
  std::vector<UserCounter> user_counters_;
};

}  // namespace tokmeter::model::proto_file

#endif  // TOKMETER_MODEL_PROTO_FILE_H_
