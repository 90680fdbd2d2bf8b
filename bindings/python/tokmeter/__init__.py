"""tokmeter: where did the tokens go? Token metering for LLM agent runtimes.

Quickstart::

    import tokmeter
    tokmeter.start("usage.jsonl")                 # flushed and closed at exit
    with tokmeter.trace("session", "s-42", channel="discord"):
        with tokmeter.span("llm", "claude-sonnet-4-5") as s:
            resp = client.messages.create(...)
            s.record_usage(tokmeter.usage(resp))    # buckets, model, request id
        with tokmeter.span("tool", "web_search") as s:
            s.add("tool_calls", 1).tag("query_len", 42)

Spans opened in asyncio tasks, and in threads started with ``tokmeter.bind``
(or any copied ``contextvars`` context), stay in the trace that was current
where they were started.
"""

from __future__ import annotations

import atexit
import contextvars
import functools
import inspect
import json
from typing import Any, Callable, Iterable, Optional, Sequence

from tokmeter import _tokmeter
from tokmeter._tokmeter import (  # noqa: F401  (re-exported)
    Context,
    Span,
    Usage,
    UsageStream,
    flush,
    is_recording,
    memory_spans,
    span,
    stats,
    trace,
)

__all__ = [
    "Context", "Span", "Usage", "UsageStream", "TokmeterError",
    "start", "shutdown", "flush", "is_recording", "stats", "memory_spans",
    "trace", "span", "current", "context", "instrument", "bind",
    "usage", "usage_from_stream",
    "run", "report", "top", "detect", "quota",
]

__version__ = "0.1.0"


class TokmeterError(RuntimeError):
    """The tokmeter command failed (exit code and stderr attached)."""

    def __init__(self, code: int, stderr: str):
        super().__init__(f"tokmeter exited with {code}: {stderr.strip()}")
        self.code = code
        self.stderr = stderr


# ---------------------------------------------------------------- runtime

_atexit_registered = False


def start(jsonl: Optional[str] = None, *, memory: bool = False, flush_interval: float = 0.2,
          ring_bytes: int = 1 << 20, block_when_full: bool = False) -> None:
    """Starts recording to a JSONL file and/or an in-memory sink.

    flush_interval is in seconds; ring_bytes is the per-thread ring size.
    The runtime is shut down (everything flushed) at interpreter exit.
    """
    global _atexit_registered
    _tokmeter.start(jsonl, memory, flush_interval, ring_bytes, block_when_full)
    if not _atexit_registered:
        atexit.register(_shutdown_at_exit)
        _atexit_registered = True


def shutdown() -> None:
    """Stops recording, drains every thread's records, closes the sinks."""
    _tokmeter.shutdown()


def _shutdown_at_exit() -> None:
    try:
        _tokmeter.shutdown()
    except Exception:  # noqa: BLE001 - never fail interpreter exit
        pass


# ------------------------------------------------------------------ spans

# Never entered: every method is a no-op (what current() gives outside spans).
_INERT = _tokmeter.span("inert", "inert")


def current() -> Span:
    """The innermost open span of this task/thread (an inert one if none)."""
    cur = _tokmeter._current()
    return _INERT if cur is None else cur


def context() -> Optional[Context]:
    """The current span's context, to parent spans elsewhere: span(..., parent=ctx)."""
    cur = _tokmeter._current()
    return None if cur is None else cur.context


def instrument(kind: Any = "function", name: Optional[str] = None, **tags: Any):
    """Decorator: run each call of a plain or async function inside a span.

    ``@tokmeter.instrument``, ``@tokmeter.instrument("tool")`` or
    ``@tokmeter.instrument("tool", "search", source="web")``. The span name
    defaults to the function's qualified name.
    """
    if callable(kind):  # bare @instrument
        return instrument()(kind)

    def decorate(fn: Callable):
        span_name = name or getattr(fn, "__qualname__", getattr(fn, "__name__", "call"))
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args, **kwargs):
                with _tokmeter.span(kind, span_name, **tags):
                    return await fn(*args, **kwargs)
            return async_wrapper
        if inspect.isasyncgenfunction(fn):
            @functools.wraps(fn)
            async def agen_wrapper(*args, **kwargs):
                with _tokmeter.span(kind, span_name, **tags):
                    async for item in fn(*args, **kwargs):
                        yield item
            return agen_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _tokmeter.span(kind, span_name, **tags):
                return fn(*args, **kwargs)
        return wrapper

    return decorate


def bind(fn: Callable) -> Callable:
    """Wraps fn so it runs in (a copy of) the caller's context, e.g. in a thread:
    ``threading.Thread(target=tokmeter.bind(work))``; spans it opens join the
    current trace. Safe to call from several threads at once.
    """
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def bound(*args, **kwargs):
        return ctx.copy().run(fn, *args, **kwargs)
    return bound


# ------------------------------------------------------------------ usage

def _as_body(response: Any) -> Any:
    if isinstance(response, (dict, list, str, bytes, bytearray)):
        return response
    for attr in ("model_dump", "to_dict", "dict"):  # SDK objects (pydantic & co)
        method = getattr(response, attr, None)
        if callable(method):
            return method()
    raise TypeError(f"cannot read usage from {type(response).__name__}")


def usage(response: Any, *, provider: Optional[str] = None, status: Optional[int] = None,
          headers: Any = None) -> Usage:
    """Usage from a whole response: a dict, JSON text/bytes, or an SDK object.

    provider ("anthropic", "openai", "responses", "gemini") is only a hint for
    bodies that do not say. status/headers add rate-limit info and request id.
    Raises ValueError if the body is not JSON.
    """
    return _tokmeter.parse_usage(_as_body(response), provider, status, headers)


def usage_from_stream(chunks: Iterable[Any], *, provider: Optional[str] = None,
                      status: Optional[int] = None, headers: Any = None) -> Usage:
    """Usage from the raw SSE bytes (or str) of a streamed response."""
    stream = UsageStream(provider)
    for chunk in chunks:
        stream.feed(chunk)
    return stream.finish(status, headers)


# --------------------------------------------------------------- analysis

def run(args: Sequence[str]) -> tuple[int, str, str]:
    """Runs the tokmeter command line in-process: (exit code, stdout, stderr)."""
    code, out, err = _tokmeter.run_cli([str(a) for a in args])
    return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def _options(opts: dict) -> list[str]:
    out: list[str] = []
    for key, value in opts.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                out += [flag, str(v)]
        else:
            out += [flag, str(value)]
    return out


def _json_command(command: str, paths: Sequence[str], opts: dict) -> Any:
    code, out, err = run([command, *map(str, paths), *_options(opts), "--format", "json"])
    if code != 0:
        raise TokmeterError(code, err)
    return json.loads(out)


def report(*paths: str, **options: Any) -> dict:
    """`tokmeter report PATHS --format json` as a dict (options become --flags)."""
    return _json_command("report", paths, options)


def top(*paths: str, **options: Any) -> dict:
    """`tokmeter top PATHS --format json` as a dict."""
    return _json_command("top", paths, options)


def detect(*paths: str, **options: Any) -> dict:
    """`tokmeter detect PATHS --format json` as a dict."""
    return _json_command("detect", paths, options)


def quota(*paths: str, **options: Any) -> dict:
    """`tokmeter quota PATHS --format json` as a dict."""
    return _json_command("quota", paths, options)
