// Fuzzes the reader pipeline on OTLP JSON (Collector file exporter) GenAI spans.
// The first line fixes the format hint; the fuzzer's bytes follow it.
#include "fuzz/reader_fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tokmeter::analysis::fuzz::RunReader("{\"resourceSpans\":[]}\n", data, size);
}
