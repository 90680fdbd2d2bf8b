"""tokmeter: where did the tokens go? Token metering for LLM agent runtimes.

Quickstart::

    import anthropic, tokmeter
    tokmeter.start("usage.jsonl")                   # flushed and closed at exit
    client = tokmeter.instrument(anthropic.Anthropic())   # every call: one `llm` span
    with tokmeter.trace("session", "s-42", channel="discord"):
        client.messages.create(model="claude-sonnet-4-5", max_tokens=1024, messages=[...])
        with tokmeter.span("tool", "web_search") as s:
            s.add("tool_calls", 1).tag("query_len", 42)
    print(tokmeter.report("usage.jsonl")["totals"])

Spans opened in asyncio tasks, and in threads started with ``tokmeter.bind``
(or any copied ``contextvars`` context), stay in the trace that was current
where they were started. Sinks: :class:`JsonlSink`, :class:`ProtobufSink`,
:class:`OtlpSink`, :class:`MemorySink`, :class:`CallbackSink`. Every
``tokmeter`` command has a function returning its JSON document as a dict.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import sys
from typing import Any, Callable, Iterable, Mapping, Optional

from tokmeter import _tokmeter
from tokmeter._analysis import (
    TokmeterError,
    convert,
    daily,
    detect,
    monthly,
    quota,
    report,
    run,
    session,
    spikes,
    top,
)
from tokmeter._runtime import (
    GuardResult,
    flush,
    guard,
    memory_spans,
    monitor_stats,
    shutdown,
    start,
    stats,
)
from tokmeter._sinks import CallbackSink, JsonlSink, MemorySink, OtlpSink, ProtobufSink
from tokmeter._tokmeter import (  # noqa: F401  (re-exported)
    Context,
    Span,
    TokmeterWarning,
    Usage,
    UsageStream,
    define_counter,
    is_recording,
    span,
    trace,
)

__all__ = [
    "Context", "Span", "Usage", "UsageStream", "TokmeterError", "TokmeterWarning",
    "JsonlSink", "ProtobufSink", "OtlpSink", "MemorySink", "CallbackSink",
    "start", "shutdown", "flush", "is_recording", "stats", "memory_spans",
    "guard", "GuardResult", "monitor_stats",
    "trace", "span", "current", "context", "instrument", "bind", "define_counter",
    "usage", "usage_from_stream",
    "httpx_transport", "async_httpx_transport", "httpx_client", "async_httpx_client",
    "run", "report", "top", "detect", "quota", "spikes", "daily", "monthly", "session",
    "convert",
]

__version__ = "0.1.0"


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


def _is_http_client(obj: Any) -> bool:
    if "httpx" not in sys.modules:
        return False
    import httpx
    kinds = (httpx.Client, httpx.AsyncClient)
    return isinstance(obj, kinds) or isinstance(getattr(obj, "_client", None), kinds)


def instrument(kind: Any = "function", name: Optional[str] = None, **tags: Any):
    """Two uses.

    On a client: ``tokmeter.instrument(anthropic.Anthropic())``,
    ``tokmeter.instrument(openai.AsyncOpenAI())`` or
    ``tokmeter.instrument(httpx.Client(), providers={...})`` wraps the client's
    httpx transport in place (see :func:`httpx_transport`) and returns the
    client: each provider request becomes one `llm` span.

    On a function: ``@tokmeter.instrument``, ``@tokmeter.instrument("tool")``
    or ``@tokmeter.instrument("tool", "search", source="web")`` runs each call
    of a plain or async function inside a span named after the function.
    """
    if not isinstance(kind, str) and not callable(kind) and _is_http_client(kind):
        from tokmeter._transport import instrument_client
        unknown = set(tags) - {"providers"}
        if name is not None or unknown:
            raise TypeError("instrument(client, providers=None) takes no other arguments")
        return instrument_client(kind, tags.get("providers"))
    if callable(kind):  # bare @instrument
        return instrument()(kind)
    if not isinstance(kind, str):
        raise TypeError(f"instrument() takes a span kind, a function or an httpx/SDK client, "
                        f"got {type(kind).__name__}")

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


# ------------------------------------------------------------- transport

def httpx_transport(transport: Any = None, *, providers: Optional[Mapping[str, str]] = None,
                    **kwargs: Any):
    """An ``httpx.BaseTransport`` that records every provider request as one
    `llm` span (provider, model, status, 429s, retries, request id, streaming,
    the request's max_tokens, rate-limit headers, usage from the body or the
    SSE stream) and passes everything through untouched.

    Give it to any httpx client or SDK:
    ``anthropic.Anthropic(http_client=httpx.Client(transport=tokmeter.httpx_transport()))``.
    ``transport`` is the one to wrap (default ``httpx.HTTPTransport(**kwargs)``);
    ``providers`` adds gateways: ``{"https://openrouter.ai/api/v1": "openai"}``.
    Needs httpx.
    """
    from tokmeter._transport import Transport
    return Transport(transport, providers=providers, **kwargs)


def async_httpx_transport(transport: Any = None, *,
                          providers: Optional[Mapping[str, str]] = None, **kwargs: Any):
    """The asyncio twin of :func:`httpx_transport` (for ``httpx.AsyncClient``)."""
    from tokmeter._transport import AsyncTransport
    return AsyncTransport(transport, providers=providers, **kwargs)


def httpx_client(*, providers: Optional[Mapping[str, str]] = None, **kwargs: Any):
    """``httpx.Client(**kwargs)`` with its transport instrumented, for an SDK's
    ``http_client=`` (google-genai: ``http_options={"httpx_client": ...}``)."""
    import httpx

    from tokmeter._transport import instrument_client
    return instrument_client(httpx.Client(**kwargs), providers)


def async_httpx_client(*, providers: Optional[Mapping[str, str]] = None, **kwargs: Any):
    """``httpx.AsyncClient(**kwargs)`` with its transport instrumented."""
    import httpx

    from tokmeter._transport import instrument_client
    return instrument_client(httpx.AsyncClient(**kwargs), providers)


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
