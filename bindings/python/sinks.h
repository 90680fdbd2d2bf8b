// The sinks Python code can start a runtime with, and the mailbox that
// carries what must reach Python (callback records, sink errors) from the
// threads that produce it to a Python thread.
//
// No flusher or exporter thread ever takes the GIL: a thread recording a span
// holds the GIL while it waits for ring space (FullRingPolicy::kBlock), and
// fork() holds it while the core's fork handlers wait for the flusher, so a
// flusher waiting for the GIL could deadlock either. Instead the callback sink
// and the error handlers append to the mailbox (a mutex and a condition
// variable, nothing else), and Python delivers its contents from a dispatcher
// thread and from flush()/shutdown().
#ifndef TOKMETER_BINDINGS_PYTHON_SINKS_H_
#define TOKMETER_BINDINGS_PYTHON_SINKS_H_

#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tokmeter/runtime.h"
#include "tokmeter/sinks.h"

namespace tokmeter {
class OtlpHttpSink;
}  // namespace tokmeter

namespace tokmeter::python {

// What start() built from the sink specs, for reading later. Non-owning:
// the runtime owns the sinks (and keeps them after shutdown, until the next
// start()).
struct BuiltSinks {
  MemorySink* memory = nullptr;
  OtlpHttpSink* otlp = nullptr;
};

// Builds the sinks from Python specs: a list of (kind, dict) pairs, kind one
// of "jsonl", "protobuf", "otlp", "memory", "callback" (the dict's keys are
// the C++ options' field names; durations in milliseconds) into opts.sinks,
// and sets opts.on_error to post to the mailbox. Throws ValueError for bad
// specs, OSError subclasses when a file cannot be opened.
BuiltSinks BuildSinks(pybind11::list specs, Options& opts);

// The OTLP exporter's counters as a dict (thread-safe).
pybind11::dict OtlpStatsDict(OtlpHttpSink* sink);

// Posts an error for on_error (or a warning); any thread, never takes the GIL.
void PostError(std::string_view source, std::string message);

// Empties the mailbox and counters for a new runtime.
void ResetMailbox();
// Registers _tokmeter.mailbox_wait / mailbox_close / mailbox_take / mailbox_stats.
void AddMailboxFunctions(pybind11::module_& m);

// Raises the Python exception for a failed status: ValueError for
// InvalidArgument, FileNotFoundError / PermissionError / FileExistsError /
// OSError for file errors (with `path` as the filename when given),
// RuntimeError otherwise. Returns normally when `s` is OK.
void ThrowIfError(const absl::Status& s, const std::string& path = "");

}  // namespace tokmeter::python

#endif  // TOKMETER_BINDINGS_PYTHON_SINKS_H_
