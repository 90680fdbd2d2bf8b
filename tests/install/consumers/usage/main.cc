// tokmeter::usage: the usage of an Anthropic response body and of an OpenAI
// Chat Completions stream.
#include <cstdio>
#include <string_view>

#include "tokmeter/usage.h"

int Check(std::string_view what, int64_t got, int64_t want) {
  if (got == want) return 0;
  std::fprintf(stderr, "%.*s: got %lld, want %lld\n", int(what.size()), what.data(), (long long)got,
               (long long)want);
  return 1;
}

int main() {
  auto body = tokmeter::ParseUsageBody(
      R"({"id":"msg_1","type":"message","model":"claude-sonnet-4-5","usage":)"
      R"({"input_tokens":12,"cache_read_input_tokens":40000,)"
      R"("cache_creation_input_tokens":1500,"output_tokens":230}})");
  if (!body.ok()) {
    std::fprintf(stderr, "%s\n", body.status().ToString().c_str());
    return 1;
  }
  // Anthropic buckets are disjoint; a cache write without its TTL split is
  // counted as 5-minute writes.
  int bad = Check("body input", body->usage.input, 12) +
            Check("body cache_read", body->usage.cache_read, 40000) +
            Check("body cache_write_5m", body->usage.cache_write_5m, 1500) +
            Check("body output", body->usage.output, 230);
  tokmeter::ParsedUsage stream = tokmeter::ParseUsageStream(
      "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-5\","
      "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n"
      "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-5\","
      "\"choices\":[],\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":20,"
      "\"prompt_tokens_details\":{\"cached_tokens\":60}}}\n\n"
      "data: [DONE]\n\n");
  // OpenAI's prompt_tokens include the cached ones: input = 100 - 60.
  bad += Check("stream input", stream.usage.input, 40) +
         Check("stream cache_read", stream.usage.cache_read, 60) +
         Check("stream output", stream.usage.output, 20) +
         Check("stream partial", stream.partial, 0);
  if (bad == 0) std::printf("usage: body and stream parsed\n");
  return bad == 0 ? 0 : 1;
}
