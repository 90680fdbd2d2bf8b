// Records one span into the JSONL file named on the command line.
#include <cstdio>

#include "tokmeter/tokmeter.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer FILE.jsonl\n");
    return 2;
  }
  auto sink = tokmeter::MakeJsonlSink({.path = argv[1]});
  if (!sink.ok()) {
    std::fprintf(stderr, "%s\n", sink.status().ToString().c_str());
    return 1;
  }
  tokmeter::Options options;
  options.sinks.push_back(std::move(*sink));
  auto runtime = tokmeter::Runtime::Start(std::move(options));
  if (!runtime.ok()) return 1;
  {
    TOK_TRACE_NAMED(session, "session", "consumer");
    session.Tag("channel", "cli");
    TOK_SPAN_NAMED(llm, "llm", "installed");
    llm.Add(tokmeter::Counter::kInputTokens, 1);
  }
  return (*runtime)->Shutdown().ok() ? 0 : 1;
}
