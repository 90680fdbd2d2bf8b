// tokmeter::proto (with tokmeter::tokmeter): one trace into a JSONL file and
// a protobuf file at once.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "tokmeter/proto_sink.h"
#include "tokmeter/tokmeter.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: proto_consumer FILE.jsonl FILE.pb\n");
    return 2;
  }
  auto jsonl = tokmeter::MakeJsonlSink({.path = argv[1]});
  auto pb = tokmeter::MakeProtobufSink({.path = argv[2]});
  if (!jsonl.ok() || !pb.ok()) {
    std::fprintf(stderr, "sink: %s %s\n", jsonl.status().ToString().c_str(),
                 pb.status().ToString().c_str());
    return 1;
  }
  tokmeter::Options options;
  options.sinks.push_back(std::move(*jsonl));
  options.sinks.push_back(std::move(*pb));
  auto runtime = tokmeter::Runtime::Start(std::move(options));
  if (!runtime.ok()) return 1;
  {
    TOK_TRACE_NAMED(session, "session", "proto-consumer");
    TOK_SPAN_NAMED(llm, "llm", "installed-proto");
    llm.Add(tokmeter::Counter::kInputTokens, 7);
  }
  if (!(*runtime)->Shutdown().ok()) return 1;
  std::ifstream f(argv[2], std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // The span's name is in the file's string table.
  if (bytes.find("installed-proto") == std::string::npos) {
    std::fprintf(stderr, "no span in %s (%zu bytes)\n", argv[2], bytes.size());
    return 1;
  }
  std::printf("proto: %zu bytes of protobuf records\n", bytes.size());
  return 0;
}
