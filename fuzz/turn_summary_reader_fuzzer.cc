// Fuzzes the reader pipeline on agent runtimes' turn_summary lines.
// The first line fixes the format hint; the fuzzer's bytes follow it.
#include "fuzz/reader_fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tokmeter::analysis::fuzz::RunReader(
      "{\"ts\":\"2026-02-16T21:35:12.123Z\",\"kind\":\"turn_summary\",\"sessionKey\":\"s\","
      "\"tokens_in\":1,\"tokens_out\":2,\"tags\":{\"heartbeat\":false}}\n",
      data, size);
}
