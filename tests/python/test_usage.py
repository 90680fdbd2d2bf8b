"""Usage extraction from Python: dicts, JSON text, streams, rate limits."""

import json
import unittest

import provider_data as P
import tokmeter
from _util import RuntimeTestCase

# provider_data's body, with 90 of the 230 output tokens counted as thinking.
ANTHROPIC_BODY = {**P.ANTHROPIC_BODY, "usage": {**P.ANTHROPIC_BODY["usage"],
                                                "output_tokens_details": {"thinking_tokens": 90}}}

ANTHROPIC_STREAM = (
    "event: message_start\n"
    'data: {"type":"message_start","message":{"id":"msg_01S","type":"message","role":"assistant",'
    '"model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,'
    '"usage":{"input_tokens":8,"cache_creation_input_tokens":300,"cache_read_input_tokens":20000,'
    '"cache_creation":{"ephemeral_5m_input_tokens":300,"ephemeral_1h_input_tokens":0},'
    '"output_tokens":1}}}\n\n'
    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n'
    "event: message_delta\n"
    'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    '"usage":{"output_tokens":57}}\n\n'
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
).encode()


class UsageTest(unittest.TestCase):
    def test_anthropic_dict(self):
        u = tokmeter.usage(ANTHROPIC_BODY)
        # 12 uncached, 40000 read, 1500 written with the 1h TTL, 230 out (90 thinking).
        self.assertEqual((u.input_tokens, u.cache_read_tokens, u.cache_write_tokens,
                          u.output_tokens, u.reasoning_tokens), (12, 40000, 1500, 230, 90))
        d = u.to_dict()
        self.assertEqual(d["cache_write_1h_tokens"], 1500)
        self.assertEqual(d["cache_write_5m_tokens"], 0)
        self.assertEqual(d["provider"], "anthropic")
        self.assertEqual(d["model"], "claude-sonnet-4-5-20250929")
        self.assertEqual(d["raw"]["cache_creation_input_tokens"], 1500)
        self.assertFalse(d["partial"])

    def test_json_text_and_bytes(self):
        text = json.dumps(ANTHROPIC_BODY)
        self.assertEqual(tokmeter.usage(text).to_dict(), tokmeter.usage(text.encode()).to_dict())

    def test_openai_chat_is_inclusive(self):
        u = tokmeter.usage({"object": "chat.completion", "model": "gpt-4.1",
                            "usage": {"prompt_tokens": 3100, "completion_tokens": 420,
                                      "prompt_tokens_details": {"cached_tokens": 2944},
                                      "completion_tokens_details": {"reasoning_tokens": 256}}})
        self.assertEqual((u.input_tokens, u.cache_read_tokens, u.output_tokens), (156, 2944, 420))

    def test_responses_and_gemini(self):
        r = tokmeter.usage({"object": "response", "usage": {
            "input_tokens": 12000, "input_tokens_details": {"cached_tokens": 11264},
            "output_tokens": 900, "output_tokens_details": {"reasoning_tokens": 640}}})
        self.assertEqual(r.input_tokens, 736)
        g = tokmeter.usage({"modelVersion": "gemini-2.5-pro", "usageMetadata": {
            "promptTokenCount": 9000, "cachedContentTokenCount": 8192,
            "candidatesTokenCount": 120, "thoughtsTokenCount": 480}})
        self.assertEqual((g.input_tokens, g.cache_read_tokens, g.output_tokens, g.reasoning_tokens),
                         (808, 8192, 600, 480))

    def test_sdk_like_object(self):
        class Message:
            def model_dump(self):
                return ANTHROPIC_BODY
        self.assertEqual(tokmeter.usage(Message()).output_tokens, 230)

    def test_not_json(self):
        with self.assertRaises(ValueError):
            tokmeter.usage("<html>bad gateway</html>")
        with self.assertRaises(TypeError):
            tokmeter.usage(12)

    def test_stream_every_two_way_split(self):
        full = tokmeter.usage_from_stream([ANTHROPIC_STREAM])
        self.assertEqual((full.input_tokens, full.cache_write_tokens, full.cache_read_tokens,
                          full.output_tokens), (8, 300, 20000, 57))
        self.assertFalse(full.partial)
        for cut in range(len(ANTHROPIC_STREAM) + 1):
            u = tokmeter.usage_from_stream([ANTHROPIC_STREAM[:cut], ANTHROPIC_STREAM[cut:]])
            self.assertEqual(u.to_dict(), full.to_dict(), cut)

    def test_truncated_stream_is_partial(self):
        cut = ANTHROPIC_STREAM.index(b"event: message_delta")
        s = tokmeter.UsageStream("anthropic")
        s.feed(ANTHROPIC_STREAM[:cut])
        self.assertFalse(s.complete)
        u = s.finish()
        self.assertTrue(u.partial)
        self.assertEqual(u.output_tokens, 1)  # message_start's placeholder: what was known

    def test_rate_limit_headers(self):
        body = {"error": {"message": "Rate limit reached", "type": "tokens", "param": None,
                          "code": "rate_limit_exceeded"}}
        u = tokmeter.usage(body, status=429, headers={
            "x-ratelimit-limit-tokens": "30000", "x-ratelimit-remaining-tokens": "0",
            "x-ratelimit-reset-tokens": "6m0s", "x-request-id": "req_abc123",
            "retry-after": "2"})
        d = u.to_dict()
        self.assertTrue(d["error"]["rate_limited"])
        self.assertTrue(d["error"]["retryable"])
        self.assertEqual(d["request_id"], "req_abc123")
        self.assertEqual(d["rate_limit"]["status"], 429)
        self.assertEqual(d["rate_limit"]["retry_after_ms"], 2000)
        self.assertEqual(d["rate_limit"]["windows"]["tokens"]["reset_after_ms"], 360000)
        q = tokmeter.usage({"error": {"type": "insufficient_quota", "code": "insufficient_quota",
                                      "message": "quota"}}, status=429).to_dict()
        self.assertTrue(q["error"]["quota_exhausted"])
        self.assertFalse(q["error"]["retryable"])

    def test_bad_provider(self):
        with self.assertRaises(ValueError):
            tokmeter.UsageStream("nope")


class RecordUsageTest(RuntimeTestCase):
    def test_record_on_span(self):
        with tokmeter.span("llm", "call") as s:
            s.record_usage(tokmeter.usage(ANTHROPIC_BODY, headers={"request-id": "req_1"},
                                          status=200))
        span = self.span_named("call")
        self.assertEqual(span["counters"]["input_tokens"], 12)
        self.assertEqual(span["counters"]["cache_read_tokens"], 40000)
        self.assertEqual(span["counters"]["cache_write_tokens"], 1500)
        self.assertEqual(span["counters"]["cache_write_1h_tokens"], 1500)
        self.assertEqual(span["counters"]["output_tokens"], 230)
        self.assertEqual(span["counters"]["requests"], 1)
        self.assertEqual(span["tags"]["provider"], "anthropic")
        self.assertEqual(span["tags"]["request_id"], "req_1")
        self.assertEqual(span["tags"]["status"], 200)

    def test_record_needs_usage(self):
        with tokmeter.span("llm", "bad") as s:
            with self.assertRaises(TypeError):
                s.record_usage({"usage": 1})


if __name__ == "__main__":
    unittest.main()
