// tokmeter.Span: the Python span type, written against the CPython API
// directly (METH_FASTCALL) because it is the hot path: a `with` block adding
// four counters must cost under a microsecond, and pybind11's generic
// dispatch alone costs several times that.
#ifndef TOKMETER_BINDINGS_PYTHON_SPAN_OBJECT_H_
#define TOKMETER_BINDINGS_PYTHON_SPAN_OBJECT_H_

#include <Python.h>

#include "tokmeter/span.h"

namespace tokmeter::python {

// A plain trace position handed to Python (tokmeter.Context).
struct TraceContextRef {
  Context ctx;
};

// Creates the Span type, the TokmeterWarning category, the context variable
// holding the current span, and the functions span(), trace(), _current(),
// define_counter() and spans_closed_on_wrong_thread() in `module`. Returns
// false with a Python error set on failure.
bool AddSpanType(PyObject* module);

// Implemented by the module: converts a pybind11 Context / Usage argument.
// Return null / false with a Python error set if `o` is not one.
const TraceContextRef* AsTraceContext(PyObject* o);
bool RecordUsageFromPython(Span& span, PyObject* usage);
PyObject* NewTraceContext(const Context& ctx);

// The context a span opened now from Python gets as its parent: the current
// span of this task/thread (contextvars), invalid when there is none.
Context CurrentPythonContext();

// Issues a tokmeter.TokmeterWarning saying `what` is not recorded because no
// runtime runs: once, until ResetNotRecordingWarning() (start() calls it).
// Returns false with a Python error set when warnings are errors.
bool WarnNotRecording(const char* what);
void ResetNotRecordingWarning();

}  // namespace tokmeter::python

#endif  // TOKMETER_BINDINGS_PYTHON_SPAN_OBJECT_H_
