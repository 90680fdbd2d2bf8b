"""Starting, flushing and stopping the recorder, and delivering what its
threads leave for Python (callback batches, sink errors)."""

from __future__ import annotations

import atexit
import json
import os
import threading
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from tokmeter import _tokmeter
from tokmeter._sinks import CallbackSink, JsonlSink, MemorySink, PathLike, Sink

TokmeterWarning = _tokmeter.TokmeterWarning

OnError = Callable[[str, str], Any]


class _Delivery:
    """Delivers the mailbox: callback batches to the callback sink's function,
    sink errors to on_error (or as TokmeterWarning). One thread waits on the
    mailbox with the GIL released; flush() and shutdown() deliver in the
    calling thread. Taking and delivering happen under one lock, so batches
    arrive in order and flush() returns after the callback saw them."""

    def __init__(self) -> None:
        self.lock = threading.RLock()  # re-entrant: a callback may call flush()
        self.callback: Optional[Callable[[List[Dict[str, Any]]], Any]] = None
        self.on_error: Optional[OnError] = None
        self.thread: Optional[threading.Thread] = None
        self.stopped: Optional[threading.Event] = None  # the running thread's
        self.callback_errors = 0

    def start(self, callback, on_error) -> None:
        """After _tokmeter.start() (which reopens the mailbox)."""
        with self.lock:
            self.callback, self.on_error = callback, on_error
            self.callback_errors = 0
            if self.thread is None or not self.thread.is_alive():
                self.stopped = threading.Event()
                self.thread = threading.Thread(target=self._run, args=(self.stopped,),
                                               name="tokmeter-delivery", daemon=True)
                self.thread.start()

    def stop(self) -> None:
        thread, stopped = self.thread, self.stopped
        if stopped is not None:
            stopped.set()
        _tokmeter.mailbox_close()  # sticky until the next start: no wake-up is lost
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self.thread = None

    def after_fork_in_child(self) -> None:
        # The parent's thread does not exist here, and it may have held the lock.
        self.lock = threading.RLock()
        self.thread = None
        if _tokmeter.is_recording():
            self.start(self.callback, self.on_error)

    def _run(self, stopped: threading.Event) -> None:
        while not stopped.is_set():
            if _tokmeter.mailbox_wait(None):
                try:
                    self.deliver()
                except Exception:  # noqa: BLE001 - the delivery thread never dies
                    pass

    def deliver(self) -> None:
        with self.lock:
            for kind, source, payload, _ in _tokmeter.mailbox_take():
                if kind == "records":
                    self._records(payload)
                else:
                    self._error(source, payload)

    def _records(self, payload: bytes) -> None:
        if self.callback is None:
            return
        records = [json.loads(line) for line in payload.splitlines() if line]
        try:
            self.callback(records)
        except Exception as e:  # noqa: BLE001 - reported, never raised into tokmeter
            self.callback_errors += 1
            self._error("callback", f"the callback raised {type(e).__name__}: {e} "
                                    f"({len(records)} records not handled)")

    def _error(self, source: str, message: str) -> None:
        if self.on_error is not None:
            try:
                self.on_error(source, message)
                return
            except Exception as e:  # noqa: BLE001
                message = f"{message} (and on_error raised {type(e).__name__}: {e})"
        warnings.warn(f"tokmeter: sink {source}: {message}", TokmeterWarning, stacklevel=2)


_delivery = _Delivery()
_atexit_registered = False
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _delivery.after_fork_in_child())


def start(jsonl: Optional[PathLike] = None, *, sinks: Sequence[Union[Sink, PathLike]] = (),
          memory: bool = False, flush_interval: float = 0.2, ring_bytes: int = 1 << 20,
          high_water: float = 0.25, block_when_full: bool = False,
          on_error: Optional[OnError] = None, monitor: Optional[Dict[str, Any]] = None,
          budgets: Optional[Sequence[str]] = None,
          on_alert: Optional[Callable[[Dict[str, Any]], Any]] = None,
          rules: Optional[bool] = None, loop_repeats: Optional[int] = None,
          deny_on_loop: Optional[bool] = None, deny_on_storm: Optional[bool] = None,
          time_zone: Optional[str] = None) -> None:
    """Starts recording: one flusher thread drains every thread's spans into the sinks.

    ``jsonl`` is a shorthand for ``JsonlSink(jsonl)`` and ``memory=True`` for
    ``MemorySink()``; ``sinks`` takes any of :class:`JsonlSink`,
    :class:`ProtobufSink`, :class:`OtlpSink`, :class:`MemorySink`,
    :class:`CallbackSink` (a path there means a JSONL file). At least one sink
    is required: recording to nowhere is always a mistake, so it raises
    ValueError rather than warn and lose everything.

    ``flush_interval`` (seconds) is how often the flusher writes when no ring
    is filling up; ``ring_bytes`` is each recording thread's ring (a span with
    4 counters takes ~200 bytes); a thread wakes the flusher early when its
    ring is ``high_water`` full; with ``block_when_full`` a thread waits for
    room instead of dropping (not with a CallbackSink: the waiting thread holds
    the GIL the callback needs). ``on_error(sink, message)`` gets every sink
    error, from tokmeter's delivery thread; without it each is a
    :class:`TokmeterWarning`.

    The live monitor (budgets, the detector rules as they happen, and
    :func:`guard`) runs when ``monitor`` is given — a dict with the keys
    budgets, on_alert, rules, window (s), loop_repeats, deny_on_loop,
    loop_cooldown (s), deny_on_storm, warn_share, time_zone, pricing_file,
    callback_queue — or any of the keyword shorthands ``budgets`` (e.g.
    ``["session=2M,hard", "total=300M/month"]``), ``on_alert``, ``rules``,
    ``loop_repeats``, ``deny_on_loop``, ``deny_on_storm``, ``time_zone``.
    ``on_alert(alert)`` gets each alert as a dict (rule, severity, subject,
    keys, evidence, budget, threshold, tokens, condition, message,
    time_unix_ns, trace_id, span_id) on the monitor's own thread; what it
    raises is counted (``monitor_stats()["callback_errors"]``) and reported
    like a sink error. A bad budget raises ValueError naming it.

    Raises RuntimeError if a runtime already runs, ValueError for bad options,
    OSError (FileNotFoundError, PermissionError, ...) when a file cannot be
    opened. Everything is flushed and closed at interpreter exit.
    """
    global _atexit_registered
    specs: List[Any] = []
    if jsonl is not None:
        specs.append(JsonlSink(jsonl))
    if isinstance(sinks, (str, bytes, os.PathLike)):
        raise TypeError("sinks is a list: sinks=[tokmeter.JsonlSink(path), ...]")
    for s in sinks:
        specs.append(JsonlSink(s) if isinstance(s, (str, os.PathLike)) else s)
    if memory:
        specs.append(MemorySink())
    if not specs:
        raise ValueError("start() needs a sink: a JSONL path, sinks=[...] (JsonlSink, "
                         "ProtobufSink, OtlpSink, MemorySink, CallbackSink) or memory=True")
    callbacks = [s for s in specs if isinstance(s, CallbackSink)]
    if len(callbacks) > 1:
        raise ValueError("start(): one CallbackSink at most (call several functions from it)")
    if callbacks and block_when_full:
        raise ValueError("block_when_full cannot be used with a CallbackSink: a thread waiting "
                         "for ring space holds the GIL the callback needs")
    if on_error is not None and not callable(on_error):
        raise TypeError("on_error must be callable: on_error(sink, message)")
    if isinstance(flush_interval, bool) or not isinstance(flush_interval, (int, float)):
        raise TypeError("flush_interval is a number of seconds")
    if isinstance(ring_bytes, bool) or not isinstance(ring_bytes, int) or ring_bytes <= 0:
        raise ValueError(f"ring_bytes must be a positive int, got {ring_bytes!r}")
    mon: Optional[Dict[str, Any]] = None
    if monitor is not None:
        if not isinstance(monitor, dict):
            raise TypeError("monitor is a dict: monitor={'budgets': [...], 'on_alert': fn}")
        mon = dict(monitor)
    shorthands = {"budgets": budgets, "on_alert": on_alert, "rules": rules,
                  "loop_repeats": loop_repeats, "deny_on_loop": deny_on_loop,
                  "deny_on_storm": deny_on_storm, "time_zone": time_zone}
    for key, value in shorthands.items():
        if value is not None:
            mon = {} if mon is None else mon
            mon[key] = value
    if mon is not None:
        b = mon.get("budgets")
        if isinstance(b, (str, bytes)):
            raise TypeError("budgets is a list: budgets=['session=2M,hard']")
        if b is not None:
            mon["budgets"] = [str(x) for x in b]
        if mon.get("on_alert") is not None and not callable(mon["on_alert"]):
            raise TypeError("on_alert must be callable: on_alert(alert)")
    if _tokmeter.is_recording():
        raise RuntimeError("tokmeter is already running; call tokmeter.shutdown() first")
    built = []
    for s in specs:
        spec = getattr(s, "_spec", None)
        if spec is None:
            raise TypeError(f"not a tokmeter sink: {s!r}")
        built.append(spec())
    _tokmeter.start(built, float(flush_interval), ring_bytes, float(high_water),
                    bool(block_when_full), mon)
    _delivery.start(callbacks[0].fn if callbacks else None, on_error)
    if not _atexit_registered:
        atexit.register(_shutdown_at_exit)
        _atexit_registered = True


def flush() -> None:
    """Writes every span closed so far to every sink (GIL released meanwhile);
    the callback sink and on_error have seen them when it returns. Sink
    errors go to on_error / TokmeterWarning, never raised here."""
    _tokmeter.flush()
    _delivery.deliver()


def shutdown() -> None:
    """Stops recording, drains every thread's records, closes the sinks.
    Spans still open are not recorded. Idempotent."""
    _tokmeter.shutdown()
    _delivery.deliver()
    _delivery.stop()


def _shutdown_at_exit() -> None:
    try:
        shutdown()
    except Exception:  # noqa: BLE001 - never fail interpreter exit
        pass


def flush_if_recording() -> None:
    if _tokmeter.is_recording():
        flush()


def stats() -> Dict[str, Any]:
    """Counts since start(): spans, traces, rollups, dropped, threads,
    threads_live, flushes, sink_errors, bytes_drained, flusher_buffer_bytes,
    callback_records_dropped, callback_errors, and ``otlp`` (the exporter's
    counters) with an OtlpSink. Exact after flush()."""
    d = _tokmeter.stats()
    d.update(_tokmeter.mailbox_stats())
    d["callback_errors"] = _delivery.callback_errors
    return d


def memory_spans() -> List[Dict[str, Any]]:
    """The spans the memory sink holds (flushed first), as dicts: kind, name,
    trace_id, span_id, parent_id, times, counters, tags, trace_tags."""
    flush_if_recording()
    return _tokmeter.memory_spans()


class GuardResult:
    """What :func:`guard` answers: ``verdict`` ('allow', 'warn' or 'deny'),
    ``reason`` ('budget', 'loop', 'storm' or ''), ``message`` (why, naming the
    budget), ``denied`` and ``warned``."""

    __slots__ = ("verdict", "reason", "message", "budget")

    def __init__(self, verdict: str, reason: str, message: str, budget: int) -> None:
        self.verdict, self.reason, self.message, self.budget = verdict, reason, message, budget

    @property
    def denied(self) -> bool:
        return self.verdict == "deny"

    @property
    def warned(self) -> bool:
        return self.verdict == "warn"

    def __bool__(self) -> bool:  # true when the call may go ahead
        return self.verdict != "deny"

    def __repr__(self) -> str:
        return f"GuardResult(verdict={self.verdict!r}, reason={self.reason!r}, " \
               f"message={self.message!r})"


def guard(**tags: Any) -> GuardResult:
    """The monitor's verdict before the next call: ``guard(session="s-42")``
    for a scope (several tags: the worst of them), ``guard()`` for all
    traffic (global budgets, retry storms). Always 'allow' when no monitor
    runs. Lock-free; the monitor sees spans at the flusher's next pass (or at
    flush())."""
    scopes = [(str(k), str(v)) for k, v in tags.items()]
    return GuardResult(*_tokmeter.guard(scopes))


def monitor_stats() -> Dict[str, Any]:
    """The monitor's counters (observed, alerts, callbacks, callback_errors,
    callbacks_dropped, guard_table_full, process_errors); {} without one."""
    return _tokmeter.monitor_stats()
