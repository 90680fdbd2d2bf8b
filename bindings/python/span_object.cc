#include "bindings/python/span_object.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bindings/python/span_shim.h"
#include "tokmeter/counters.h"
#include "tokmeter/record.h"
#include "tokmeter/runtime.h"

namespace tokmeter::python {
namespace {

PyObject* g_current_var = nullptr;        // ContextVar: the current Span of this task/thread
PyObject* g_counter_names[kNumCounters];  // interned "input_tokens", ...
PyObject* g_user_counters = nullptr;      // set of str: counters declared by define_counter()
PyObject* g_warning = nullptr;            // tokmeter.TokmeterWarning
int64_t g_closed_elsewhere = 0;           // guarded by the GIL
bool g_warned_not_recording = false;      // guarded by the GIL

struct SpanObject {
  PyObject_HEAD DetachedSpan span;
  PyObject* kind;          // str
  PyObject* name;          // str
  PyObject* pending_tags;  // dict or null: keyword tags applied on __enter__
  PyObject* token;         // ContextVar token while entered
  Context parent;          // explicit parent (valid) or none
  bool is_trace;
  bool entered;
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
PyTypeObject SpanType = {PyVarObject_HEAD_INIT(nullptr, 0)};  // filled in AddSpanType
#pragma GCC diagnostic pop

bool View(PyObject* o, std::string_view* out) {
  if (PyUnicode_Check(o)) {
    Py_ssize_t n;
    const char* p = PyUnicode_AsUTF8AndSize(o, &n);
    if (p == nullptr) return false;
    *out = std::string_view(p, static_cast<size_t>(n));
    return true;
  }
  if (PyBytes_Check(o)) {
    *out = std::string_view(PyBytes_AS_STRING(o), static_cast<size_t>(PyBytes_GET_SIZE(o)));
    return true;
  }
  if (PyByteArray_Check(o)) {
    *out = std::string_view(PyByteArray_AS_STRING(o), static_cast<size_t>(PyByteArray_GET_SIZE(o)));
    return true;
  }
  PyErr_Format(PyExc_TypeError, "expected str or bytes, got %.100s", Py_TYPE(o)->tp_name);
  return false;
}

// Tag values are str, int, bool or float: anything else (a dict, None, bytes)
// is refused with a TypeError naming the key, rather than stored as its repr.
bool CheckTag(PyObject* key, PyObject* value) {
  if (!PyUnicode_Check(key)) {
    PyErr_Format(PyExc_TypeError, "tag keys are str, got %.100s", Py_TYPE(key)->tp_name);
    return false;
  }
  if (PyUnicode_Check(value) || PyLong_Check(value) || PyFloat_Check(value)) return true;
  PyErr_Format(PyExc_TypeError,
               "tag '%U': a %.100s is not a tag value; tag values are str, int, bool or float "
               "(pass json.dumps(value) or str(value) to store text)",
               key, Py_TYPE(value)->tp_name);
  return false;
}

// Tags one value on the span or, with `on_trace`, on its trace. bool and
// int (int64) keep their type; floats and larger ints are stored as their
// shortest decimal text.
bool TagValue(SpanObject* self, PyObject* key, PyObject* value, bool on_trace) {
  if (!CheckTag(key, value)) return false;
  Span* s = self->span.native();
  if (s == nullptr) return true;
  std::string_view k;
  if (!View(key, &k)) return false;
  Trace* t = on_trace ? self->span.trace() : nullptr;
  if (PyBool_Check(value)) {
    bool b = value == Py_True;
    if (t != nullptr) {
      t->Tag(k, b);
    } else if (on_trace) {
      s->TraceTag(k, b ? "true" : "false");
    } else {
      s->Tag(k, b);
    }
    return true;
  }
  if (PyLong_Check(value)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (v == -1 && PyErr_Occurred()) return false;
    if (overflow == 0) {
      if (t != nullptr) {
        t->Tag(k, static_cast<int64_t>(v));
      } else if (on_trace) {
        s->TraceTag(k, std::to_string(v));
      } else {
        s->Tag(k, static_cast<int64_t>(v));
      }
      return true;
    }
  }
  PyObject* str = nullptr;
  std::string_view v;
  if (PyUnicode_Check(value)) {
    if (!View(value, &v)) return false;
  } else {
    str = PyObject_Str(value);  // float: repr, the shortest round-trip text
    if (str == nullptr || !View(str, &v)) {
      Py_XDECREF(str);
      return false;
    }
  }
  if (t != nullptr) {
    t->Tag(k, v);
  } else if (on_trace) {
    s->TraceTag(k, v);
  } else {
    s->Tag(k, v);
  }
  Py_XDECREF(str);
  return true;
}

// ---- type slots -------------------------------------------------------------

SpanObject* NewSpan(bool is_trace, PyObject* kind, PyObject* name) {
  if (!PyUnicode_Check(kind) || !PyUnicode_Check(name)) {
    PyErr_SetString(PyExc_TypeError, "kind and name must be str");
    return nullptr;
  }
  SpanObject* self = PyObject_New(SpanObject, &SpanType);
  if (self == nullptr) return nullptr;
  new (&self->span) DetachedSpan();
  Py_INCREF(kind);
  Py_INCREF(name);
  self->kind = kind;
  self->name = name;
  self->pending_tags = nullptr;
  self->token = nullptr;
  new (&self->parent) Context();
  self->is_trace = is_trace;
  self->entered = false;
  return self;
}

void SpanDealloc(PyObject* o) {
  auto* self = reinterpret_cast<SpanObject*>(o);
  // Entered but never exited (a lost reference): close it if still on the
  // opening thread (DetachedSpan checks).
  if (self->span.native() != nullptr && !self->span.Close()) ++g_closed_elsewhere;
  self->span.~DetachedSpan();
  Py_XDECREF(self->kind);
  Py_XDECREF(self->name);
  Py_XDECREF(self->pending_tags);
  Py_XDECREF(self->token);
  PyObject_Free(o);
}

PyObject* SpanEnter(PyObject* o, PyObject*) {
  auto* self = reinterpret_cast<SpanObject*>(o);
  if (self->entered) {
    PyErr_SetString(PyExc_RuntimeError, "a tokmeter span can be entered only once");
    return nullptr;
  }
  self->entered = true;
  std::string_view kind, name;
  if (!View(self->kind, &kind) || !View(self->name, &name)) return nullptr;
  if (self->is_trace) {
    self->span.OpenTrace(kind, name);
  } else if (self->parent.valid()) {
    self->span.OpenSpan(&self->parent, kind, name);
  } else {
    PyObject* cur = nullptr;
    if (PyContextVar_Get(g_current_var, nullptr, &cur) < 0) return nullptr;
    if (cur != nullptr && Py_IS_TYPE(cur, &SpanType)) {
      Context parent = reinterpret_cast<SpanObject*>(cur)->span.child_context();
      self->span.OpenSpan(&parent, kind, name);
    } else {
      self->span.OpenSpan(nullptr, kind, name);
    }
    Py_XDECREF(cur);
  }
  if (!self->span.recording() && !WarnNotRecording(self->is_trace ? "trace" : "span"))
    return nullptr;
  self->token = PyContextVar_Set(g_current_var, o);
  if (self->token == nullptr) return nullptr;
  if (self->pending_tags != nullptr) {
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(self->pending_tags, &pos, &k, &v)) {
      if (!TagValue(self, k, v, self->is_trace)) return nullptr;
    }
    Py_CLEAR(self->pending_tags);
  }
  Py_INCREF(o);
  return o;
}

PyObject* SpanExit(PyObject* o, PyObject* const* args, Py_ssize_t nargs) {
  auto* self = reinterpret_cast<SpanObject*>(o);
  if (self->token != nullptr) {
    if (PyContextVar_Reset(g_current_var, self->token) < 0) PyErr_Clear();  // another context
    Py_CLEAR(self->token);
  }
  if (nargs >= 1 && PyType_Check(args[0]) && self->span.native() != nullptr) {
    const char* tp = reinterpret_cast<PyTypeObject*>(args[0])->tp_name;
    if (tp != nullptr) {
      const char* dot = strrchr(tp, '.');
      self->span.native()->Tag("exception", dot != nullptr ? dot + 1 : tp);
    }
    self->span.native()->Add(Counter::kErrors, 1);
  }
  if (!self->span.Close()) ++g_closed_elsewhere;
  Py_RETURN_FALSE;
}

std::optional<Counter> FastCounter(PyObject* name) {
  for (int i = 0; i < kNumCounters; ++i) {
    if (g_counter_names[i] == name) return static_cast<Counter>(i);
  }
  return std::nullopt;
}

// Edit distance, for "did you mean" on an unknown counter (short names only).
size_t Distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

void UnknownCounter(PyObject* name, std::string_view n) {
  std::string names, near;
  size_t best = 3;  // suggest only names within 2 edits
  for (int i = 0; i < kNumCounters; ++i) {
    if (!names.empty()) names += ", ";
    names += kCounterNames[i];
    size_t d = Distance(n, kCounterNames[i]);
    if (d < best) {
      best = d;
      near = kCounterNames[i];
    }
  }
  std::string hint = near.empty() ? "" : " (did you mean '" + near + "'?)";
  PyErr_Format(PyExc_ValueError,
               "unknown counter %R%s: the built-in counters are %s; declare a counter of your "
               "own once with tokmeter.define_counter(%R)",
               name, hint.c_str(), names.c_str(), name);
}

// The counter `name` names: a built-in one (set) or a declared user counter
// (unset, *user true). False with ValueError / TypeError set otherwise.
bool ResolveCounter(PyObject* name, std::optional<Counter>* builtin, std::string_view* user) {
  if ((*builtin = FastCounter(name))) return true;
  std::string_view n;
  if (!PyUnicode_Check(name)) {
    PyErr_Format(PyExc_TypeError, "counter names are str, got %.100s", Py_TYPE(name)->tp_name);
    return false;
  }
  if (!View(name, &n)) return false;
  if ((*builtin = CounterFromName(n))) return true;
  int known = PySet_Contains(g_user_counters, name);
  if (known < 0) return false;
  if (known == 0) {
    UnknownCounter(name, n);
    return false;
  }
  *user = n;
  return true;
}

PyObject* SpanAdd(PyObject* o, PyObject* const* args, Py_ssize_t nargs) {
  auto* self = reinterpret_cast<SpanObject*>(o);
  if (nargs < 1 || nargs > 2) {
    PyErr_SetString(PyExc_TypeError, "add(counter, value=1)");
    return nullptr;
  }
  int64_t value = 1;
  if (nargs == 2) {
    value = PyLong_AsLongLong(args[1]);
    if (value == -1 && PyErr_Occurred()) return nullptr;
    if (value < 0) {
      PyErr_Format(PyExc_ValueError, "add(%R, %lld): counters count things and never go down",
                   args[0], static_cast<long long>(value));
      return nullptr;
    }
  }
  std::optional<Counter> c;
  std::string_view user;
  if (!ResolveCounter(args[0], &c, &user)) return nullptr;
  if (Span* s = self->span.native()) {
    if (c) {
      s->Add(*c, value);
    } else {
      s->Add(user, value);
    }
  }
  Py_INCREF(o);
  return o;
}

PyObject* SpanTag(PyObject* o, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "tag(key, value)");
    return nullptr;
  }
  if (!TagValue(reinterpret_cast<SpanObject*>(o), args[0], args[1], false)) return nullptr;
  Py_INCREF(o);
  return o;
}

PyObject* SpanTraceTag(PyObject* o, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "trace_tag(key, value)");
    return nullptr;
  }
  if (!TagValue(reinterpret_cast<SpanObject*>(o), args[0], args[1], true)) return nullptr;
  Py_INCREF(o);
  return o;
}

PyObject* SpanFingerprint(PyObject* o, PyObject* arg) {
  auto* self = reinterpret_cast<SpanObject*>(o);
  std::string_view bytes;
  if (!View(arg, &bytes)) return nullptr;
  if (Span* s = self->span.native()) s->Fingerprint(bytes);
  Py_INCREF(o);
  return o;
}

PyObject* SpanRecordUsage(PyObject* o, PyObject* arg) {
  auto* self = reinterpret_cast<SpanObject*>(o);
  if (Span* s = self->span.native()) {
    if (!RecordUsageFromPython(*s, arg)) return nullptr;
  }
  Py_INCREF(o);
  return o;
}

PyObject* GetRecording(PyObject* o, void*) {
  auto* self = reinterpret_cast<SpanObject*>(o);
  return PyBool_FromLong(self->span.recording());
}
PyObject* GetContext(PyObject* o, void*) {
  return NewTraceContext(reinterpret_cast<SpanObject*>(o)->span.child_context());
}
PyObject* GetSpanId(PyObject* o, void*) {
  uint64_t id = reinterpret_cast<SpanObject*>(o)->span.span_id();
  if (id == 0) Py_RETURN_NONE;
  std::string hex = SpanIdToHex(id);
  return PyUnicode_FromStringAndSize(hex.data(), static_cast<Py_ssize_t>(hex.size()));
}
PyObject* GetTraceId(PyObject* o, void*) {
  TraceId t = reinterpret_cast<SpanObject*>(o)->span.trace_id();
  if (!t.valid()) Py_RETURN_NONE;
  std::string hex = t.ToHex();
  return PyUnicode_FromStringAndSize(hex.data(), static_cast<Py_ssize_t>(hex.size()));
}
PyObject* GetKind(PyObject* o, void*) {
  PyObject* k = reinterpret_cast<SpanObject*>(o)->kind;
  Py_INCREF(k);
  return k;
}
PyObject* GetName(PyObject* o, void*) {
  PyObject* n = reinterpret_cast<SpanObject*>(o)->name;
  Py_INCREF(n);
  return n;
}
PyObject* GetIsTrace(PyObject* o, void*) {
  return PyBool_FromLong(reinterpret_cast<SpanObject*>(o)->is_trace);
}

PyObject* SpanRepr(PyObject* o) {
  auto* self = reinterpret_cast<SpanObject*>(o);
  return PyUnicode_FromFormat("<tokmeter.%s %U/%U%s>", self->is_trace ? "Trace" : "Span",
                              self->kind, self->name, self->span.recording() ? " recording" : "");
}

PyMethodDef kSpanMethods[] = {
    {"__enter__", SpanEnter, METH_NOARGS, "Opens the span; it becomes the current span."},
    {"__exit__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(SpanExit)),
     METH_FASTCALL, "Closes the span (an exception's type is tagged as `exception`)."},
    {"add", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(SpanAdd)), METH_FASTCALL,
     "add(counter, value=1): a built-in counter by name (input_tokens, ...) or a user counter."},
    {"tag", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(SpanTag)), METH_FASTCALL,
     "tag(key, value): str, int or bool (others by str())."},
    {"trace_tag", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(SpanTraceTag)),
     METH_FASTCALL, "trace_tag(key, value): a tag on the whole trace."},
    {"fingerprint", SpanFingerprint, METH_O,
     "fingerprint(bytes): marks what the span did, to recognise repeats."},
    {"record_usage", SpanRecordUsage, METH_O,
     "record_usage(usage): counters and tags of one provider call (tokmeter.usage(...))."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef kSpanGetSet[] = {
    {"recording", GetRecording, nullptr, "True while open and recording.", nullptr},
    {"context", GetContext, nullptr, "tokmeter.Context for children (parent=...).", nullptr},
    {"span_id", GetSpanId, nullptr, "16 hex digits, None before opening.", nullptr},
    {"trace_id", GetTraceId, nullptr, "32 hex digits, None before opening.", nullptr},
    {"kind", GetKind, nullptr, nullptr, nullptr},
    {"name", GetName, nullptr, nullptr, nullptr},
    {"is_trace", GetIsTrace, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

// ---- module functions -------------------------------------------------------

// span(kind, name, parent=None, **tags) / trace(kind, id, **tags)
PyObject* MakeSpanOrTrace(bool is_trace, PyObject* const* args, Py_ssize_t nargs,
                          PyObject* kwnames) {
  Py_ssize_t npos = PyVectorcall_NARGS(nargs);
  if (npos < 2 || npos > (is_trace ? 2 : 3)) {
    PyErr_SetString(PyExc_TypeError,
                    is_trace ? "trace(kind, id, **tags)" : "span(kind, name, parent=None, **tags)");
    return nullptr;
  }
  SpanObject* self = NewSpan(is_trace, args[0], args[1]);
  if (self == nullptr) return nullptr;
  PyObject* parent = npos == 3 ? args[2] : nullptr;
  if (kwnames != nullptr) {
    Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < nkw; ++i) {
      PyObject* key = PyTuple_GET_ITEM(kwnames, i);
      PyObject* value = args[npos + i];
      if (!is_trace && PyUnicode_CompareWithASCIIString(key, "parent") == 0) {
        parent = value;
        continue;
      }
      if (!CheckTag(key, value)) {
        Py_DECREF(self);
        return nullptr;
      }
      if (self->pending_tags == nullptr && (self->pending_tags = PyDict_New()) == nullptr) {
        Py_DECREF(self);
        return nullptr;
      }
      if (PyDict_SetItem(self->pending_tags, key, value) < 0) {
        Py_DECREF(self);
        return nullptr;
      }
    }
  }
  if (parent != nullptr && parent != Py_None) {
    if (Py_IS_TYPE(parent, &SpanType)) {
      self->parent = reinterpret_cast<SpanObject*>(parent)->span.child_context();
    } else {
      const TraceContextRef* ctx = AsTraceContext(parent);
      if (ctx == nullptr) {
        Py_DECREF(self);
        return nullptr;
      }
      self->parent = ctx->ctx;
    }
  }
  return reinterpret_cast<PyObject*>(self);
}

PyObject* ModSpan(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return MakeSpanOrTrace(false, args, nargs, kwnames);
}
PyObject* ModTrace(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return MakeSpanOrTrace(true, args, nargs, kwnames);
}
PyObject* ModCurrent(PyObject*, PyObject*) {
  PyObject* cur = nullptr;
  if (PyContextVar_Get(g_current_var, nullptr, &cur) < 0) return nullptr;
  if (cur == nullptr) Py_RETURN_NONE;
  return cur;
}
PyObject* ModClosedElsewhere(PyObject*, PyObject*) {
  return PyLong_FromLongLong(g_closed_elsewhere);
}
// define_counter(*names): user counters span.add() then accepts.
PyObject* ModDefineCounter(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  for (Py_ssize_t i = 0; i < nargs; ++i) {
    std::string_view n;
    if (!PyUnicode_Check(args[i])) {
      PyErr_Format(PyExc_TypeError, "counter names are str, got %.100s", Py_TYPE(args[i])->tp_name);
      return nullptr;
    }
    if (!View(args[i], &n)) return nullptr;
    if (n.empty() || n.size() > internal::kMaxKeyLen) {
      PyErr_Format(PyExc_ValueError, "counter names are 1 to %d bytes long: %R",
                   static_cast<int>(internal::kMaxKeyLen), args[i]);
      return nullptr;
    }
    if (CounterFromName(n)) continue;  // built in already
    if (PySet_Add(g_user_counters, args[i]) < 0) return nullptr;
  }
  Py_RETURN_NONE;
}
PyObject* ModUserCounters(PyObject*, PyObject*) { return PySequence_List(g_user_counters); }

PyMethodDef kModuleFunctions[] = {
    {"span", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(ModSpan)),
     METH_FASTCALL | METH_KEYWORDS,
     "span(kind, name, parent=None, **tags): a span (context manager), child of the current span "
     "of this task/thread, or of `parent` (a Span or Context)."},
    {"trace", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(ModTrace)),
     METH_FASTCALL | METH_KEYWORDS,
     "trace(kind, id, **tags): a new trace (context manager); keywords are trace tags. The id "
     "is also the trace's `session` tag unless session=... is given."},
    {"_current", ModCurrent, METH_NOARGS, "The current Span of this context, or None."},
    {"define_counter",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(ModDefineCounter)), METH_FASTCALL,
     "define_counter(*names): declares counters of your own; span.add() refuses other names that "
     "are not built in (a typo of input_tokens would otherwise become a new counter)."},
    {"user_counters", ModUserCounters, METH_NOARGS, "The counters declared by define_counter()."},
    {"spans_closed_on_wrong_thread", ModClosedElsewhere, METH_NOARGS,
     "Spans dropped because they were closed on another thread than they were opened on."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

bool AddSpanType(PyObject* module) {
  SpanType.tp_name = "tokmeter.Span";
  SpanType.tp_basicsize = sizeof(SpanObject);
  SpanType.tp_flags = Py_TPFLAGS_DEFAULT;
  SpanType.tp_doc = "A span or trace; use as a context manager (tokmeter.span / tokmeter.trace).";
  SpanType.tp_dealloc = SpanDealloc;
  SpanType.tp_repr = SpanRepr;
  SpanType.tp_methods = kSpanMethods;
  SpanType.tp_getset = kSpanGetSet;
  if (PyType_Ready(&SpanType) < 0) return false;
  Py_INCREF(&SpanType);
  if (PyModule_AddObject(module, "Span", reinterpret_cast<PyObject*>(&SpanType)) < 0) return false;

  g_warning = PyErr_NewExceptionWithDoc(
      "tokmeter.TokmeterWarning",
      "Something recorded was lost or not recorded: a span while no runtime runs, a sink error.",
      PyExc_RuntimeWarning, nullptr);
  if (g_warning == nullptr) return false;
  Py_INCREF(g_warning);
  if (PyModule_AddObject(module, "TokmeterWarning", g_warning) < 0) return false;
  g_user_counters = PySet_New(nullptr);
  if (g_user_counters == nullptr) return false;

  g_current_var = PyContextVar_New("tokmeter_current_span", nullptr);
  if (g_current_var == nullptr) return false;
  Py_INCREF(g_current_var);
  if (PyModule_AddObject(module, "_current_var", g_current_var) < 0) return false;
  for (int i = 0; i < kNumCounters; ++i) {
    std::string name(kCounterNames[i]);
    g_counter_names[i] = PyUnicode_InternFromString(name.c_str());
    if (g_counter_names[i] == nullptr) return false;
  }
  return PyModule_AddFunctions(module, kModuleFunctions) == 0;
}

Context CurrentPythonContext() {
  PyObject* cur = nullptr;
  if (PyContextVar_Get(g_current_var, nullptr, &cur) < 0) {
    PyErr_Clear();
    return Context{};
  }
  Context c;
  if (cur != nullptr && Py_IS_TYPE(cur, &SpanType)) {
    c = reinterpret_cast<SpanObject*>(cur)->span.child_context();
  }
  Py_XDECREF(cur);
  return c;
}

bool WarnNotRecording(const char* what) {
  if (g_warned_not_recording || IsRecording()) return true;
  g_warned_not_recording = true;
  return PyErr_WarnFormat(g_warning, 1,
                          "tokmeter: a %s was not recorded because no runtime runs; call "
                          "tokmeter.start(...) first (this warning is shown once)",
                          what) == 0;
}

void ResetNotRecordingWarning() { g_warned_not_recording = false; }

}  // namespace tokmeter::python
