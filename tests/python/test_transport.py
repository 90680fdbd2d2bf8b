"""The httpx transport: provider calls recorded from the wire, bytes untouched.

Responses come from httpx.MockTransport handlers that stream the bodies in
chunks cut at random places (as a network delivers them); expected usage is
worked out by hand in provider_data.py."""

import asyncio
import gc
import gzip
import json
import random
import time
import unittest
import warnings

import tokmeter
from _util import RuntimeTestCase

try:
    import httpx
except ImportError:  # the transport is optional; scripts/setup installs python3-httpx
    httpx = None

import provider_data as P

ANTHROPIC = "https://api.anthropic.com/v1/messages"
OPENAI_CHAT = "https://api.openai.com/v1/chat/completions"
OPENAI_RESPONSES = "https://api.openai.com/v1/responses"
GEMINI_SSE = ("https://generativelanguage.googleapis.com/v1beta/models/"
              "gemini-2.5-pro:streamGenerateContent?alt=sse")


def random_cuts(data, rng, pieces):
    """`data` cut at pieces-1 random places (empty pieces allowed)."""
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(pieces - 1))
    out, prev = [], 0
    for c in cuts + [len(data)]:
        out.append(data[prev:c])
        prev = c
    return out


if httpx is not None:
    class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
        """A body delivered in the given chunks; `fail` raises after them (a
        connection lost mid-body)."""

        def __init__(self, chunks, fail=None):
            self.chunks, self.fail, self.closed = list(chunks), fail, False

        def __iter__(self):
            yield from self.chunks
            if self.fail:
                raise self.fail

        async def __aiter__(self):
            for c in self.chunks:
                await asyncio.sleep(0)
                yield c
            if self.fail:
                raise self.fail

        def close(self):
            self.closed = True

        async def aclose(self):
            self.closed = True

    class Provider:
        """A MockTransport handler answering from a script of (status,
        headers, body bytes or chunks, fail) and keeping the requests."""

        def __init__(self, *script):
            self.script = list(script)
            self.requests = []

        def __call__(self, request):
            self.requests.append(request)
            status, headers, body, *rest = self.script.pop(0)
            chunks = [body] if isinstance(body, bytes) else body
            return httpx.Response(status, headers=headers,
                                  stream=Chunks(chunks, rest[0] if rest else None))

    class StainlessLikeSdk:
        """Sends as the Stainless SDKs (anthropic, openai) do: the JSON body,
        x-stainless-retry-count, and a retry after 408/409/429/5xx."""

        def __init__(self, http_client, max_retries=2, backoff=0.05):
            self._client = http_client  # where tokmeter.instrument() looks for it
            self.max_retries, self.backoff = max_retries, backoff

        def post(self, url, body, stream=False):
            for retries in range(self.max_retries + 1):
                request = self._client.build_request(
                    "POST", url, json=body, headers={"x-stainless-retry-count": str(retries)})
                response = self._client.send(request, stream=stream)
                code = response.status_code
                if (code in (408, 409, 429) or code >= 500) and retries < self.max_retries:
                    response.close()
                    time.sleep(self.backoff)
                    continue
                return response


def llm_spans(spans):
    return [s for s in spans if s["kind"] == "llm"]


def usage_counters(span):
    keys = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens",
            "output_tokens", "reasoning_tokens")
    return {k: v for k, v in span["counters"].items() if k in keys and v}


def nonzero(expected):
    return {k: v for k, v in expected.items() if v}


@unittest.skipIf(httpx is None, "needs httpx (Debian python3-httpx)")
class RequestScanTest(unittest.TestCase):
    def test_top_level_fields_only(self):
        body = json.dumps({
            "messages": [{"role": "user", "content": 'he said "max_tokens": 5 and {"model": "x"}'}],
            "tools": [{"name": "t", "input_schema": {"properties": {
                "max_tokens": {"type": "integer"}, "model": {"type": "string"}}}}],
            "model": "claude-opus-4-1", "stream": True, "max_tokens": 4096})
        f = tokmeter._tokmeter.scan_request(body.encode())
        self.assertEqual(f, {"model": "claude-opus-4-1", "max_tokens": 4096, "stream": True,
                             "include_usage": False})

    def test_each_providers_cap(self):
        scan = tokmeter._tokmeter.scan_request
        self.assertEqual(scan(json.dumps(P.OPENAI_CHAT_REQUEST))["max_tokens"], None)
        self.assertTrue(scan(json.dumps(P.OPENAI_CHAT_REQUEST))["include_usage"])
        o3 = {"model": "o3", "max_completion_tokens": 77}
        self.assertEqual(scan(json.dumps(o3))["max_tokens"], 77)
        self.assertEqual(scan(json.dumps(P.OPENAI_RESPONSES_REQUEST))["max_tokens"], 2048)
        self.assertEqual(scan(json.dumps(P.GEMINI_REQUEST))["max_tokens"], 800)
        self.assertEqual(scan(b'{"generation_config": {"max_output_tokens": 9}}')["max_tokens"], 9)
        self.assertEqual(scan(b'{"max_tokens": null, "model": "m"}')["max_tokens"], None)
        self.assertEqual(scan(b'not json')["model"], "")


@unittest.skipIf(httpx is None, "needs httpx (Debian python3-httpx)")
class SyncTransportTest(RuntimeTestCase):
    jsonl = False

    def client(self, handler, **kw):
        return tokmeter.httpx_client(transport=httpx.MockTransport(handler), **kw)

    def check_stream(self, url, request, stream, expected, provider, model, seeds=range(12)):
        """The stream cut at random places gives the same usage as the stream
        whole (tokmeter.usage_from_stream) and as worked out by hand, and the
        client reads exactly the bytes sent."""
        whole = tokmeter.usage_from_stream([stream]).to_dict()
        for k, v in expected.items():
            self.assertEqual(whole[k], v, k)
        for seed in seeds:
            rng = random.Random(seed)
            chunks = random_cuts(stream, rng, rng.randrange(2, 60))
            handler = Provider((200, {"content-type": "text/event-stream"}, chunks))
            with self.client(handler) as c:
                with c.stream("POST", url, json=request) as r:
                    received = b"".join(r.iter_raw())
            self.assertEqual(received, stream, seed)
        spans = llm_spans(self.spans())
        self.assertEqual(len(spans), len(seeds))
        for s in spans:
            self.assertEqual(usage_counters(s), nonzero(expected))
            self.assertEqual(s["tags"]["provider"], provider)
            self.assertEqual(s["tags"]["model"], model)
            self.assertIs(s["tags"]["streaming"], True)
            self.assertNotIn("partial", s["tags"])
            self.assertEqual(s["counters"]["requests"], 1)
            self.assertEqual(s["counters"]["response_bytes"], len(stream))
        return spans

    def test_anthropic_stream(self):
        spans = self.check_stream(ANTHROPIC, dict(P.ANTHROPIC_REQUEST, stream=True),
                                  P.ANTHROPIC_STREAM, P.ANTHROPIC_STREAM_USAGE, "anthropic",
                                  "claude-sonnet-4-5-20250929")
        self.assertEqual(spans[0]["name"], "messages")
        self.assertEqual(spans[0]["tags"]["max_tokens"], 1024)
        self.assertIs(spans[0]["tags"]["max_tokens_set"], True)

    def test_openai_chat_stream(self):
        spans = self.check_stream(OPENAI_CHAT, P.OPENAI_CHAT_REQUEST, P.OPENAI_CHAT_STREAM,
                                  P.OPENAI_CHAT_STREAM_USAGE, "openai", "gpt-4.1-2025-04-14")
        self.assertEqual(spans[0]["name"], "chat.completions")
        # No max_tokens in the request: a finding can name this call.
        self.assertIs(spans[0]["tags"]["max_tokens_set"], False)
        self.assertNotIn("max_tokens", spans[0]["tags"])

    def test_openai_responses_stream(self):
        spans = self.check_stream(OPENAI_RESPONSES, P.OPENAI_RESPONSES_REQUEST,
                                  P.OPENAI_RESPONSES_STREAM, P.OPENAI_RESPONSES_STREAM_USAGE,
                                  "openai", "gpt-5-2025-08-07")
        self.assertEqual(spans[0]["name"], "responses")
        self.assertEqual(spans[0]["tags"]["max_tokens"], 2048)

    def test_gemini_stream(self):
        spans = self.check_stream(GEMINI_SSE, P.GEMINI_REQUEST, P.GEMINI_STREAM,
                                  P.GEMINI_STREAM_USAGE, "gemini", "gemini-2.5-pro")
        self.assertEqual(spans[0]["name"], "generateContent")
        self.assertEqual(spans[0]["tags"]["max_tokens"], 800)

    def test_bodies_plain_and_gzip(self):
        handler = Provider(
            (200, {"content-type": "application/json", "request-id": "req_1"},
             random_cuts(json.dumps(P.ANTHROPIC_BODY).encode(), random.Random(1), 5)),
            (200, {"content-type": "application/json", "content-encoding": "gzip",
                   "x-request-id": "req_2"},
             random_cuts(P.gzipped(P.OPENAI_CHAT_BODY), random.Random(2), 7)))
        with self.client(handler) as c:
            a = c.post(ANTHROPIC, json=P.ANTHROPIC_REQUEST)
            o = c.post(OPENAI_CHAT, json={"model": "gpt-4.1", "messages": [], "max_tokens": 50})
        self.assertEqual(a.json(), P.ANTHROPIC_BODY)  # what the SDK parses is untouched
        self.assertEqual(o.json(), P.OPENAI_CHAT_BODY)
        spans = llm_spans(self.spans())
        self.assertEqual(usage_counters(spans[0]), P.ANTHROPIC_BODY_USAGE)
        self.assertEqual(spans[0]["tags"]["request_id"], "req_1")
        self.assertIs(spans[0]["tags"]["streaming"], False)
        self.assertEqual(usage_counters(spans[1]), dict(P.OPENAI_CHAT_BODY_USAGE,
                                                        reasoning_tokens=256))
        self.assertEqual(spans[1]["tags"]["request_id"], "req_2")
        self.assertEqual(spans[1]["tags"]["max_tokens"], 50)

    def test_an_encoding_it_cannot_read_is_said(self):
        handler = Provider((200, {"content-type": "application/json", "content-encoding": "br"},
                            b"\x1b\x0fnot-really-brotli"))
        with self.client(handler) as c:
            with c.stream("POST", ANTHROPIC, json=P.ANTHROPIC_REQUEST) as r:
                self.assertEqual(b"".join(r.iter_raw()), b"\x1b\x0fnot-really-brotli")
        (s,) = llm_spans(self.spans())
        self.assertEqual(s["tags"]["usage_unreadable"], "content-encoding br")
        self.assertEqual(s["counters"]["requests"], 1)
        self.assertEqual(usage_counters(s), {})

    def test_rate_limited_then_retried_by_the_sdk(self):
        handler = Provider(
            (429, P.OPENAI_429_HEADERS, json.dumps(P.OPENAI_429_BODY).encode()),
            (429, P.OPENAI_429_HEADERS, json.dumps(P.OPENAI_429_BODY).encode()),
            (200, {"content-type": "text/event-stream", "x-request-id": "req_ok"},
             [P.OPENAI_CHAT_STREAM]))
        http = httpx.Client(transport=httpx.MockTransport(handler))
        sdk = tokmeter.instrument(StainlessLikeSdk(http))
        with tokmeter.trace("session", "retry-session") as t:
            r = sdk.post(OPENAI_CHAT, P.OPENAI_CHAT_REQUEST, stream=True)
            r.read()
            r.close()
        self.assertEqual([q.headers["x-stainless-retry-count"] for q in handler.requests],
                         ["0", "1", "2"])
        first, second, third = llm_spans(self.spans())
        for s in (first, second, third):
            self.assertEqual(s["parent_id"], t.span_id)  # all in the caller's trace
            self.assertEqual(s["trace_tags"]["session"], "retry-session")
        # Attempts 1 and 2: 429s, counted as such, with the rate-limit headers.
        for s, attempt in ((first, 1), (second, 2)):
            self.assertEqual(s["tags"]["status"], 429)
            self.assertEqual(s["tags"]["attempt"], attempt)
            self.assertEqual(s["counters"]["rate_limited"], 1)
            self.assertEqual(s["counters"]["errors"], 1)
            # The SDK closes a response it retries without reading its body:
            # the status says what it was, the headers the rest.
            self.assertEqual(s["tags"]["error_type"], "http_429")
            self.assertNotIn("partial", s["tags"])
            self.assertEqual(s["tags"]["request_id"], "req_abc123")
            self.assertEqual(s["tags"]["ratelimit_tokens_remaining"], 0)
            self.assertEqual(s["tags"]["ratelimit_tokens_limit"], 30000)
            self.assertEqual(s["tags"]["ratelimit_tokens_reset_ms"], 1200)  # "1.2s"
            self.assertEqual(s["tags"]["ratelimit_requests_remaining"], 499)
        self.assertNotIn("retries", first["counters"])  # the first attempt is no retry
        self.assertEqual(second["counters"]["retries"], 1)
        # The logical call: 3 requests, 2 of them retries; the last has the usage.
        self.assertEqual(third["tags"]["attempt"], 3)
        self.assertEqual(third["counters"]["retries"], 1)
        self.assertEqual(third["tags"]["status"], 200)
        self.assertEqual(usage_counters(third), P.OPENAI_CHAT_STREAM_USAGE)
        # The SDK slept 50 ms before each retry: the wait is at least that.
        self.assertGreaterEqual(second["counters"]["retry_wait_ms"], 50)
        self.assertGreaterEqual(third["counters"]["retry_wait_ms"], 50)

    def test_retry_without_sdk_header_is_recognised(self):
        handler = Provider(
            (529, dict(P.ANTHROPIC_429_HEADERS, **{"content-type": "application/json"}),
             json.dumps({"type": "error", "error": {"type": "overloaded_error",
                                                    "message": "Overloaded"}}).encode()),
            (200, {"content-type": "application/json"}, json.dumps(P.ANTHROPIC_BODY).encode()),
            (200, {"content-type": "application/json"}, json.dumps(P.ANTHROPIC_BODY).encode()))
        with self.client(handler) as c:
            c.post(ANTHROPIC, json=P.ANTHROPIC_REQUEST)
            c.post(ANTHROPIC, json=P.ANTHROPIC_REQUEST)  # the same bytes again: a retry
            c.post(ANTHROPIC, json=P.ANTHROPIC_REQUEST)  # after a success: a new call
        failed, retried, fresh = llm_spans(self.spans())
        self.assertEqual(failed["tags"]["error_type"], "overloaded_error")
        self.assertEqual(failed["counters"]["errors"], 1)
        self.assertEqual(failed["tags"]["retry_after_ms"], 17000)
        self.assertEqual(retried["counters"]["retries"], 1)
        self.assertEqual(retried["tags"]["attempt"], 2)
        self.assertNotIn("retries", fresh["counters"])
        self.assertNotIn("attempt", fresh["tags"])

    def test_network_error_is_recorded_and_raised(self):
        def refuse(request):
            raise httpx.ConnectError("connection refused", request=request)
        with self.client(refuse) as c:
            with self.assertRaises(httpx.ConnectError):
                c.post(ANTHROPIC, json=P.ANTHROPIC_REQUEST)
        (s,) = llm_spans(self.spans())
        self.assertEqual(s["tags"]["error_type"], "ConnectError")
        self.assertEqual(s["counters"]["errors"], 1)
        self.assertEqual(s["tags"]["model"], "claude-sonnet-4-5")  # from the request
        self.assertNotIn("status", s["tags"])

    def test_stream_cut_mid_way(self):
        cut = P.ANTHROPIC_STREAM_CUT_AT
        head = P.ANTHROPIC_STREAM[:cut]
        handler = Provider(
            (200, {"content-type": "text/event-stream"},
             random_cuts(head, random.Random(3), 9), httpx.RemoteProtocolError("peer closed")),
            (200, {"content-type": "text/event-stream"}, [head]))  # ends without an error
        with self.client(handler) as c:
            with self.assertRaises(httpx.RemoteProtocolError):
                with c.stream("POST", ANTHROPIC, json=dict(P.ANTHROPIC_REQUEST, stream=True)) as r:
                    for _ in r.iter_raw():
                        pass
            with c.stream("POST", ANTHROPIC, json=dict(P.ANTHROPIC_REQUEST, stream=True)) as r:
                self.assertEqual(r.read(), head)
        broken, short = llm_spans(self.spans())
        for s in (broken, short):
            self.assertIs(s["tags"]["partial"], True)
            # What message_start said: 8 in, 20000 read, 300 written, placeholder 1 out.
            self.assertEqual(usage_counters(s), {"input_tokens": 8, "cache_read_tokens": 20000,
                                                 "cache_write_tokens": 300, "output_tokens": 1})
        self.assertEqual(broken["tags"]["error_type"], "RemoteProtocolError")
        self.assertEqual(broken["counters"]["errors"], 1)
        self.assertNotIn("errors", short["counters"])

    def test_closed_before_the_end_is_partial(self):
        handler = Provider((200, {"content-type": "text/event-stream"},
                            random_cuts(P.ANTHROPIC_STREAM, random.Random(4), 20)))
        with self.client(handler) as c:
            with c.stream("POST", ANTHROPIC, json=dict(P.ANTHROPIC_REQUEST, stream=True)) as r:
                for chunk in r.iter_raw():
                    if chunk:
                        break  # the caller stops reading: the body is not consumed
        (s,) = llm_spans(self.spans())
        self.assertIs(s["tags"]["partial"], True)

    def test_dropped_unread_is_recorded_as_cut(self):
        handler = Provider((200, {"content-type": "text/event-stream"}, [P.ANTHROPIC_STREAM]))
        with self.client(handler) as c:
            r = c.send(c.build_request("POST", ANTHROPIC,
                                       json=dict(P.ANTHROPIC_REQUEST, stream=True)), stream=True)
            del r  # neither read nor closed: the stream's finalizer ends the call
            gc.collect()
        (s,) = llm_spans(self.spans())
        self.assertIs(s["tags"]["partial"], True)
        self.assertEqual(s["counters"]["response_bytes"], 0)  # no byte was read

    def test_only_provider_calls_are_recorded(self):
        ok = (200, {"content-type": "application/json"}, json.dumps(P.OPENAI_CHAT_BODY).encode())
        handler = Provider(*[ok] * 8)
        gateways = {"http://localhost:4000": "openai", "gw.internal": "anthropic"}
        with self.client(handler, providers=gateways) as c:
            c.get("https://api.openai.com/v1/models")                          # not a call
            c.post("https://api.anthropic.com/v1/messages/count_tokens", json={})  # not billed
            c.post("https://example.com/v1/chat/completions", json={})         # unknown host
            c.post("http://localhost:4000/v1/chat/completions", json={"model": "m1"})
            c.post("http://localhost:4000/route/generate", json={"model": "m2"})
            c.post("https://gw.internal/v1/chat/completions", json={"model": "m3"})
            c.post("https://gw.internal/generate", json={"model": "m4"})  # read as Anthropic
            c.post("https://x.openai.azure.com/openai/deployments/d/chat/completions", json={})
        spans = llm_spans(self.spans())
        # The body says it is a chat completion, whatever the gateway's wire format.
        self.assertEqual([s["name"] for s in spans], ["chat.completions"] * 3 + ["messages"] +
                         ["chat.completions"])
        self.assertEqual([usage_counters(s) for s in spans],
                         [dict(P.OPENAI_CHAT_BODY_USAGE, reasoning_tokens=256)] * 5)
        self.assertEqual(len(handler.requests), 8)

    def test_bad_gateway_config(self):
        with self.assertRaisesRegex(ValueError, "unknown wire format 'grpc'"):
            tokmeter.httpx_transport(httpx.MockTransport(lambda r: None),
                                     providers={"http://gw": "grpc"})

    def test_not_recording_passes_through_with_a_warning(self):
        tokmeter.shutdown()
        handler = Provider((200, {"content-type": "application/json"},
                            json.dumps(P.ANTHROPIC_BODY).encode()))
        with self.client(handler) as c:
            with self.assertWarns(tokmeter.TokmeterWarning):
                r = c.post(ANTHROPIC, json=P.ANTHROPIC_REQUEST)
        self.assertEqual(r.json(), P.ANTHROPIC_BODY)

    def test_instrument_keeps_the_client(self):
        handler = Provider((200, {"content-type": "application/json"},
                            json.dumps(P.ANTHROPIC_BODY).encode()))
        client = httpx.Client(transport=httpx.MockTransport(handler), timeout=3.5)
        self.assertIs(tokmeter.instrument(client), client)
        tokmeter.instrument(client)  # twice: wrapped once
        self.assertEqual(client.timeout.read, 3.5)
        client.post(ANTHROPIC, json=P.ANTHROPIC_REQUEST)
        self.assertEqual(len(llm_spans(self.spans())), 1)
        with self.assertRaises(TypeError):
            tokmeter.instrument(object())


class LocalProvider:
    """A real HTTP server on 127.0.0.1 answering POST /v1/messages: the SSE
    stream written in pieces (chunked), or a gzip JSON body; for the real
    httpx transports (sockets, httpcore) rather than mocks."""

    def __init__(self):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                self.send_response(200)
                if body.get("stream"):
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    for piece in random_cuts(P.ANTHROPIC_STREAM, random.Random(7), 30):
                        if piece:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                            self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    data = P.gzipped(P.ANTHROPIC_BODY)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-encoding", "gzip")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@unittest.skipIf(httpx is None, "needs httpx (Debian python3-httpx)")
class RealSocketTest(RuntimeTestCase):
    jsonl = False

    def test_sync_and_async_over_a_socket(self):
        server = LocalProvider()
        self.addCleanup(server.close)
        gateway = {server.url: "anthropic"}
        url = server.url + "/v1/messages"
        with tokmeter.httpx_client(providers=gateway) as c:
            with c.stream("POST", url, json=dict(P.ANTHROPIC_REQUEST, stream=True)) as r:
                self.assertEqual(r.read(), P.ANTHROPIC_STREAM)
            self.assertEqual(c.post(url, json=P.ANTHROPIC_REQUEST).json(), P.ANTHROPIC_BODY)

        async def main():
            async with tokmeter.async_httpx_client(providers=gateway) as c:
                async with c.stream("POST", url, json=dict(P.ANTHROPIC_REQUEST, stream=True)) as r:
                    return await r.aread()

        self.assertEqual(asyncio.run(main()), P.ANTHROPIC_STREAM)
        stream, body, astream = llm_spans(self.spans())
        self.assertEqual(usage_counters(stream), P.ANTHROPIC_STREAM_USAGE)
        self.assertEqual(usage_counters(body), P.ANTHROPIC_BODY_USAGE)
        self.assertEqual(usage_counters(astream), P.ANTHROPIC_STREAM_USAGE)
        self.assertEqual(body["counters"]["response_bytes"], len(P.gzipped(P.ANTHROPIC_BODY)))


@unittest.skipIf(httpx is None, "needs httpx (Debian python3-httpx)")
class AsyncTransportTest(RuntimeTestCase):
    jsonl = False

    def test_concurrent_streams_each_in_their_task(self):
        async def handler(request):
            body = json.loads(request.content)
            data = P.ANTHROPIC_STREAM if "claude" in body["model"] else P.OPENAI_CHAT_STREAM
            rng = random.Random(body["seed"])
            return httpx.Response(200, headers={"content-type": "text/event-stream"},
                                  stream=Chunks(random_cuts(data, rng, 25)))

        async def call(client, i):
            url, req = ((ANTHROPIC, dict(P.ANTHROPIC_REQUEST, stream=True)) if i % 2 == 0
                        else (OPENAI_CHAT, P.OPENAI_CHAT_REQUEST))
            with tokmeter.span("turn", f"turn-{i}") as turn:
                async with client.stream("POST", url, json=dict(req, seed=i)) as r:
                    received = b"".join([c async for c in r.aiter_raw()])
                return turn.span_id, received

        async def main():
            async with tokmeter.async_httpx_client(transport=httpx.MockTransport(handler)) as c:
                return await asyncio.gather(*(call(c, i) for i in range(8)))

        results = asyncio.run(main())
        spans = llm_spans(self.spans())
        self.assertEqual(len(spans), 8)
        by_parent = {s["parent_id"]: s for s in spans}
        for i, (turn_id, received) in enumerate(results):
            s = by_parent[turn_id]  # each call under the turn of its own task
            if i % 2 == 0:
                self.assertEqual(received, P.ANTHROPIC_STREAM)
                self.assertEqual(usage_counters(s), P.ANTHROPIC_STREAM_USAGE)
            else:
                self.assertEqual(received, P.OPENAI_CHAT_STREAM)
                self.assertEqual(usage_counters(s), P.OPENAI_CHAT_STREAM_USAGE)

    def test_async_cut_and_gzip_body(self):
        cut = P.ANTHROPIC_STREAM_CUT_AT
        calls = []

        async def handler(request):
            calls.append(request)
            if len(calls) == 1:
                return httpx.Response(
                    200, headers={"content-type": "text/event-stream"},
                    stream=Chunks([P.ANTHROPIC_STREAM[:cut]], httpx.ReadError("reset")))
            return httpx.Response(200, headers={"content-type": "application/json",
                                                "content-encoding": "gzip"},
                                  stream=Chunks(random_cuts(P.gzipped(P.ANTHROPIC_BODY),
                                                            random.Random(5), 6)))

        async def main():
            client = tokmeter.instrument(httpx.AsyncClient(transport=httpx.MockTransport(handler)))
            with self.assertRaises(httpx.ReadError):
                await client.post(ANTHROPIC, json=dict(P.ANTHROPIC_REQUEST, stream=True))
            r = await client.post(ANTHROPIC, json=P.ANTHROPIC_REQUEST)
            await client.aclose()
            return r.json()

        self.assertEqual(asyncio.run(main()), P.ANTHROPIC_BODY)
        cut_span, body_span = llm_spans(self.spans())
        self.assertIs(cut_span["tags"]["partial"], True)
        self.assertEqual(cut_span["tags"]["error_type"], "ReadError")
        self.assertEqual(usage_counters(body_span), P.ANTHROPIC_BODY_USAGE)


if __name__ == "__main__":
    unittest.main()
