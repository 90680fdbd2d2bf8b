// tokmeter/tokmeter.h — the one include: spans, traces, macros, runtime, sinks.
//
// Quickstart:
//
//   #include "tokmeter/tokmeter.h"
//
//   tokmeter::Options opts;
//   opts.sinks.push_back(*tokmeter::MakeJsonlSink({.path = "usage.jsonl"}));
//   auto rt = *tokmeter::Runtime::Start(std::move(opts));
//
//   TOK_TRACE_NAMED(session, "session", "s-42");
//   session.Tag("channel", "discord");
//   { TOK_SPAN_NAMED(llm, "llm", "claude-sonnet-4-5");
//     llm.Tag("model", "claude-sonnet-4-5").Add(tokmeter::Counter::kInputTokens, 812); }
//   // rt's destructor drains the rings and closes the sinks.
#ifndef TOKMETER_TOKMETER_H_
#define TOKMETER_TOKMETER_H_

#include "tokmeter/counters.h"
#include "tokmeter/macros.h"
#include "tokmeter/record.h"
#include "tokmeter/runtime.h"
#include "tokmeter/sink.h"
#include "tokmeter/sinks.h"
#include "tokmeter/span.h"

#endif  // TOKMETER_TOKMETER_H_
