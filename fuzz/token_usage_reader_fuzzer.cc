// Fuzzes the reader pipeline on gh-aw token-usage.jsonl records.
// The first line fixes the format hint; the fuzzer's bytes follow it.
#include "fuzz/reader_fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tokmeter::analysis::fuzz::RunReader(
      "{\"timestamp\":\"2026-08-20T10:00:01.000Z\",\"request_id\":\"r1\",\"provider\":\"openai\","
      "\"model\":\"gpt-4o\",\"path\":\"/v1/chat/"
      "completions\",\"status\":200,\"input_tokens\":120,\"output_tokens\":35,\"cache_read_"
      "tokens\":100,\"cache_write_tokens\":0}\n",
      data, size);
}
