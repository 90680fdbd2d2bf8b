// Fuzzes the reader pipeline on Codex CLI session logs (turn_context models, token_count
// totals and repeats, forked threads and their copies of the parent; seed2_fork is a fork).
// The first line fixes the format hint; the fuzzer's bytes follow it.
#include "fuzz/reader_fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tokmeter::analysis::fuzz::RunReader(
      "{\"timestamp\":\"2026-08-01T09:00:00.000Z\",\"type\":\"turn_context\",\"payload\":{"
      "\"model\":\"gpt-5-codex\"}}\n",
      data, size);
}
