// src/proto/convert.h — `tokmeter convert`: JSONL <-> protobuf files, lossless.
#ifndef TOKMETER_SRC_PROTO_CONVERT_H_
#define TOKMETER_SRC_PROTO_CONVERT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace tokmeter::proto {

// What one conversion did.
struct ConvertStats {
  bool to_protobuf = false;  // direction: JSONL -> protobuf (true) or back
  int64_t records = 0;       // records written (lines or protobuf records)
  // JSONL -> protobuf only: lines that are not tokmeter-jsonl/1 records as
  // this version writes them byte for byte (unknown types or fields, other
  // number forms, escapes). They are stored verbatim in the protobuf file and
  // come back unchanged, so the conversion stays lossless.
  int64_t verbatim_lines = 0;
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
};

// Converts `in` to `out`, choosing the direction by sniffing `in`: a file
// that starts with the protobuf file magic (proto/tokmeter/v1/records.proto
// describes the layout) becomes JSONL; anything else is read as JSONL and becomes a
// protobuf file. Lossless: JSONL -> protobuf -> JSONL reproduces the input
// lines byte for byte (a last line without '\n' gets one).
//
// `in` may be "-" for stdin and `out` "-" for stdout. `out` is replaced
// (written to a temporary file next to it, then renamed). Errors name the
// file (and the byte offset for a corrupt protobuf file); nothing is left
// at `out` on error. Blocking; thread-compatible.
absl::Status Convert(const std::string& in, const std::string& out, ConvertStats* stats = nullptr);

}  // namespace tokmeter::proto

#endif  // TOKMETER_SRC_PROTO_CONVERT_H_
