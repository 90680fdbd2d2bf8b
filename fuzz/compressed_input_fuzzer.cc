// Fuzzes the gzip and zstd input decoders through the reader: the bytes are
// read behind a gzip or zstd magic (by the first byte of the input) and as
// they are. Invariant: never crash; corrupt data ends the input with a bad line.
#include "fuzz/reader_fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char kGzip[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03";
  static const char kZstd[] = "\x28\xb5\x2f\xfd";
  std::string_view magic;
  if (size > 0) magic = (data[0] & 1) ? std::string_view(kGzip, 10) : std::string_view(kZstd, 4);
  return tokmeter::analysis::fuzz::RunReader(magic, data, size);
}
