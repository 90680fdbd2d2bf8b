// Fuzzes the reader pipeline on tokmeter JSONL (trace tags, spans, rollups, drops).
// The first line fixes the format hint; the fuzzer's bytes follow it.
#include "fuzz/reader_fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tokmeter::analysis::fuzz::RunReader(
      "{\"type\":\"trace\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":"
      "\"00f067aa0ba902b7\",\"timestamp\":\"2026-11-23T09:00:00.000000000Z\",\"kind\":\"session\","
      "\"name\":\"s\",\"tags\":{\"session\":\"s-42\"}}\n",
      data, size);
}
