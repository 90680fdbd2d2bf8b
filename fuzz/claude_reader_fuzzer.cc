// Fuzzes the reader pipeline on Claude Code transcripts (dedup, progress lines, content skipping).
// The first line fixes the format hint; the fuzzer's bytes follow it.
#include "fuzz/reader_fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tokmeter::analysis::fuzz::RunReader(
      "{\"parentUuid\":null,\"isSidechain\":false,\"type\":\"user\",\"message\":{\"role\":\"user\","
      "\"content\":\"hi\"},\"sessionId\":\"s\",\"timestamp\":\"2026-08-18T09:16:36.727Z\"}\n",
      data, size);
}
