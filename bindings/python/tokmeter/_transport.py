"""Usage captured from the provider SDKs: an httpx transport (sync and async)
that records one `llm` span per provider request.

The official anthropic, openai and google-genai SDKs send their requests
through an httpx client they accept from the caller, so wrapping that
client's transport sees every call: the request (model, output cap,
streaming, SDK retry count) and the response (status, rate-limit headers,
request id, and the usage in its JSON body or SSE stream). Response bytes are
passed on untouched as they arrive; a stream's usage is read by the C++
incremental parser chunk by chunk, never buffered whole.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections import OrderedDict
from typing import Any, Dict, Mapping, Optional, Tuple

import httpx

from tokmeter import _tokmeter

# Hosts whose wire format is known. Other base URLs (LiteLLM, OpenRouter,
# a company gateway) are given to the transport: providers={...}.
KNOWN_HOSTS: Dict[str, str] = {
    "api.anthropic.com": "anthropic",
    "api.openai.com": "openai",
    "generativelanguage.googleapis.com": "gemini",
}
_KNOWN_HOST_SUFFIXES = ((".openai.azure.com", "openai"),)
WIRE_FORMATS = ("anthropic", "openai", "responses", "gemini")

# Endpoints that produce billed usage, by path ending: (span name, parser hint).
# count_tokens, batches, files, models... are not LLM calls and pass through.
_ENDPOINTS = (
    ("/messages", "messages", "anthropic"),
    ("/chat/completions", "chat.completions", "chat"),
    ("/responses", "responses", "responses"),
    ("/completions", "completions", "chat"),
    ("/embeddings", "embeddings", "chat"),
    (":generateContent", "generateContent", "gemini"),
    (":streamGenerateContent", "generateContent", "gemini"),
)
_ENDINGS = tuple(e[0] for e in _ENDPOINTS)
_WIRE_API = {"anthropic": ("messages", "anthropic"), "openai": ("chat.completions", "chat"),
             "responses": ("responses", "responses"), "gemini": ("generateContent", "gemini")}

# The transport decodes gzip and deflate; brotli and zstd only if httpx would
# ask for them, in which case they are removed from the request's
# Accept-Encoding (providers then answer gzip or plain).
_STRIP_ENCODINGS = any(importlib.util.find_spec(m) is not None
                       for m in ("brotli", "brotlicffi", "zstandard"))

Route = Tuple[str, str, Optional[str]]  # span name, parser hint, model from the URL


class _Router:
    """Which requests are provider calls, and how to read them."""

    MAX_ROUTES = 1024

    def __init__(self, providers: Optional[Mapping[str, str]]) -> None:
        self.hosts: Dict[str, str] = dict(KNOWN_HOSTS)
        self.gateways = set()  # hosts the caller configured: their other paths count too
        self.prefixes = []
        for key, wire in (providers or {}).items():
            if wire not in WIRE_FORMATS:
                raise ValueError(f"providers[{key!r}]: unknown wire format {wire!r} "
                                 f"(one of {', '.join(WIRE_FORMATS)})")
            if "://" in key:
                self.prefixes.append((key.rstrip("/"), wire))
            else:
                self.hosts[key.lower()] = wire
                self.gateways.add(key.lower())
        self.prefixes.sort(key=lambda p: -len(p[0]))
        # URL -> route: a client sends to a few URLs again and again. Bounded,
        # and emptied when full (URLs with a query string could grow it).
        self.routes: Dict[str, Optional[Route]] = {}

    def route(self, request: httpx.Request) -> Optional[Route]:
        if request.method != "POST":
            return None
        full = str(request.url)
        try:
            return self.routes[full]
        except KeyError:
            pass
        if len(self.routes) >= self.MAX_ROUTES:
            self.routes.clear()
        route = self.routes[full] = self._resolve(full, request.url)
        return route

    def _resolve(self, full: str, url: httpx.URL) -> Optional[Route]:
        # Slicing str(url): httpx's URL.host parses the authority with a
        # regular expression on every access, several times the cost of this.
        start = full.find("://") + 3
        end = full.find("/", start)
        authority = (full[start:] if end < 0 else full[start:end]).rpartition("@")[2].lower()
        wire = self.hosts.get(authority)
        configured = wire is not None and authority in self.gateways
        if wire is None:
            host = authority.rpartition(":")[0] if authority.rfind(":") > authority.rfind("]") \
                else authority
            wire = self.hosts.get(host)
            configured = wire is not None and host in self.gateways
            if wire is None:
                for suffix, w in _KNOWN_HOST_SUFFIXES:
                    if host.endswith(suffix):
                        wire = w
                        break
            if wire is None:
                for prefix, w in self.prefixes:
                    rest = full[len(prefix):len(prefix) + 1]
                    if full.startswith(prefix) and rest in ("", "/", "?"):
                        wire, configured = w, True
                        break
            if wire is None:
                return None
        path = url.path
        if path.endswith(_ENDINGS):
            for ending, name, hint in _ENDPOINTS:
                if path.endswith(ending):
                    model = None
                    if hint == "gemini":  # .../models/gemini-2.5-pro:generateContent
                        model = path.rsplit("/", 1)[-1].split(":", 1)[0] or None
                    return name, hint, model
        if configured:  # a gateway's own path, with the wire format it was configured with
            name, hint = _WIRE_API[wire]
            return name, hint, None
        return None


class _RetryBook:
    """Attempts that failed in a way a client retries (408, 409, 429, 5xx, a
    network error), so the next identical request is counted as a retry of the
    same logical call: `retries` 1, `retry_wait_ms` the time since that
    attempt ended, `attempt` one more. The Stainless SDKs (anthropic, openai)
    say it themselves in `x-stainless-retry-count`; for other clients an
    identical method, URL and body within 15 minutes of a failure is the
    retry."""

    MAX = 256
    TTL_NS = 15 * 60 * 1_000_000_000

    def __init__(self) -> None:
        # key -> (when the attempt ended, ns; its attempt number)
        self.failed: "OrderedDict[Tuple[str, str, int], Tuple[int, int]]" = OrderedDict()
        self.lock = threading.Lock()

    @staticmethod
    def key(request: httpx.Request, body: Optional[bytes]) -> Tuple[str, str, int]:
        # The length and both ends of the body: the same request again has them,
        # another one (a conversation grows at its end) does not; hashing the
        # whole body would cost ~50 us per 200 KB.
        if body is None:
            return request.method, str(request.url), 0
        return request.method, str(request.url), hash((len(body), body[:4096], body[-4096:]))

    def before(self, request: httpx.Request, body: Optional[bytes],
               count: int) -> Tuple[int, bool, int]:
        """(attempt, is a retry, ms waited since the failed attempt); `count` is
        the request's x-stainless-retry-count, -1 when not sent or not a count."""
        if not self.failed or count == 0:  # count 0: the SDK's first attempt, no lookup
            return (count + 1, count > 0, 0) if count >= 0 else (0, False, 0)
        key = self.key(request, body)
        now = time.time_ns()
        with self.lock:
            prev = self.failed.pop(key, None)
        if prev is not None and now - prev[0] > self.TTL_NS:
            prev = None
        if count >= 0:
            attempt, retry = count + 1, count > 0
        elif prev is not None:
            attempt, retry = prev[1] + 1, True
        else:
            return 0, False, 0
        wait_ms = (now - prev[0]) // 1_000_000 if prev is not None and retry else 0
        return attempt, retry, wait_ms

    def failed_attempt(self, request: httpx.Request, body: Optional[bytes], attempt: int) -> None:
        key = self.key(request, body)
        with self.lock:
            self.failed[key] = (time.time_ns(), max(attempt, 1))
            self.failed.move_to_end(key)
            while len(self.failed) > self.MAX:
                self.failed.popitem(last=False)


def _start(route: Route, request: httpx.Request, book: _RetryBook) -> Any:
    """The native recorder of one attempt (a _tokmeter.ProviderCall), started
    as the request leaves."""
    try:
        body = request.content
    except httpx.RequestNotRead:  # a streamed request body: not read here
        body = None
    headers = request.headers
    call = _tokmeter.ProviderCall(route[0], route[1], body, route[2], headers.raw,
                                  book.failed_attempt, request)
    # With no failure waiting for its retry, the SDK's count alone says the attempt.
    if book.failed and call.retry_count != 0:
        call.set_attempt(*book.before(request, body, call.retry_count))
    if _STRIP_ENCODINGS:
        accept = headers.get("accept-encoding")
        if accept is not None and ("br" in accept or "zstd" in accept):
            kept = [e for e in (p.strip() for p in accept.split(","))
                    if e.split(";")[0] not in ("br", "zstd")]
            headers["accept-encoding"] = ", ".join(kept) or "identity"
    return call


def _body_in_memory(call: Any, response: httpx.Response) -> bool:
    """Sets up reading; True when the body is already in memory (nothing to wrap)."""
    if not response.is_stream_consumed:
        call.response(response.status_code, response.headers.raw)
        return False
    # A transport that read the body itself (a mock): httpx decoded it then.
    call.response(response.status_code, response.headers.raw, True)
    call.feed(response.content)
    call.finish(None, False)
    return True


class _SyncStream(_tokmeter.ResponseStream, httpx.SyncByteStream):
    """The response body read through the call (native: no Python frame per chunk)."""


class _AsyncStream(httpx.AsyncByteStream):
    __slots__ = ("_inner", "_call")

    def __init__(self, inner: httpx.AsyncByteStream, call: Any):
        self._inner = inner
        self._call = call

    async def __aiter__(self):
        feed = self._call.feed
        try:
            async for chunk in self._inner:
                feed(chunk)
                yield chunk
        except BaseException as e:
            self._call.finish(e, True)
            raise
        self._call.finish(None, False)

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._call.finish(None, True)

    def __del__(self) -> None:
        try:
            self._call.finish(None, True)
        except Exception:  # noqa: BLE001
            pass


class Transport(httpx.BaseTransport):
    """An httpx transport recording provider calls; everything else passes through.

    Wraps ``transport`` (default ``httpx.HTTPTransport(**kwargs)``). Requests
    to the known provider hosts (api.anthropic.com, api.openai.com,
    generativelanguage.googleapis.com, \\*.openai.azure.com) on their generation
    endpoints are recorded; ``providers`` adds others as ``{base URL or host:
    wire format}``, wire format one of "anthropic", "openai", "responses",
    "gemini" (e.g. ``{"https://openrouter.ai/api/v1": "openai",
    "litellm.internal:4000": "openai"}``). While no runtime runs, requests pass
    through unrecorded (with one TokmeterWarning).
    """

    def __init__(self, transport: Optional[httpx.BaseTransport] = None, *,
                 providers: Optional[Mapping[str, str]] = None, **kwargs: Any) -> None:
        self._inner = transport if transport is not None else httpx.HTTPTransport(**kwargs)
        self._router = _Router(providers)
        self._book = _RetryBook()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        route = self._router.route(request)
        if route is None:
            return self._inner.handle_request(request)
        if not _tokmeter.is_recording():
            _tokmeter.warn_not_recording("provider call")
            return self._inner.handle_request(request)
        call = _start(route, request, self._book)
        try:
            response = self._inner.handle_request(request)
        except BaseException as e:
            call.finish(e, True)
            raise
        if not _body_in_memory(call, response):
            response.stream = _SyncStream(response.stream, call)
        return response

    def close(self) -> None:
        self._inner.close()


class AsyncTransport(httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`Transport` (wraps ``httpx.AsyncHTTPTransport``)."""

    def __init__(self, transport: Optional[httpx.AsyncBaseTransport] = None, *,
                 providers: Optional[Mapping[str, str]] = None, **kwargs: Any) -> None:
        self._inner = transport if transport is not None else httpx.AsyncHTTPTransport(**kwargs)
        self._router = _Router(providers)
        self._book = _RetryBook()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        route = self._router.route(request)
        if route is None:
            return await self._inner.handle_async_request(request)
        if not _tokmeter.is_recording():
            _tokmeter.warn_not_recording("provider call")
            return await self._inner.handle_async_request(request)
        call = _start(route, request, self._book)
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException as e:
            call.finish(e, True)
            raise
        if not _body_in_memory(call, response):
            response.stream = _AsyncStream(response.stream, call)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _wrap(transport, is_async: bool, providers):
    if transport is None or isinstance(transport, (Transport, AsyncTransport)):
        return transport
    return (AsyncTransport if is_async else Transport)(transport, providers=providers)


def instrument_client(client: Any, providers: Optional[Mapping[str, str]] = None) -> Any:
    """Wraps the transports of an httpx.Client / AsyncClient in place (its
    pool, proxies and timeouts kept), or those of an SDK client holding one
    (anthropic.Anthropic(), openai.OpenAI() and their Async twins). Returns
    ``client``. Idempotent."""
    target = client
    if not isinstance(target, (httpx.Client, httpx.AsyncClient)):
        inner = getattr(client, "_client", None)
        if not isinstance(inner, (httpx.Client, httpx.AsyncClient)):
            raise TypeError(
                f"cannot instrument {type(client).__name__}: pass an httpx.Client or AsyncClient, "
                "or an SDK client built on one; or give the SDK "
                "http_client=tokmeter.httpx_client() (google-genai: "
                "http_options={'httpx_client': tokmeter.httpx_client()})")
        target = inner
    is_async = isinstance(target, httpx.AsyncClient)
    target._transport = _wrap(target._transport, is_async, providers)
    mounts = getattr(target, "_mounts", None)
    if mounts:
        for pattern, transport in list(mounts.items()):
            mounts[pattern] = _wrap(transport, is_async, providers)
    return client
