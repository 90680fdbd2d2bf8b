"""Provider responses and SSE streams in the shapes the APIs send (written for
these tests from the providers' documented formats, not copied from traffic),
with the usage each one must give, worked out by hand."""

import gzip
import json

# ---------------------------------------------------------------- Anthropic

ANTHROPIC_REQUEST = {
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "Say hi"}],
    "model": "claude-sonnet-4-5",
}

ANTHROPIC_BODY = {
    "id": "msg_01Body", "type": "message", "role": "assistant",
    "model": "claude-sonnet-4-5-20250929", "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 12, "cache_creation_input_tokens": 1500,
              "cache_read_input_tokens": 40000,
              "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1500},
              "output_tokens": 230, "service_tier": "standard"},
}
# input_tokens is already uncached: 12; cache read 40000; written 1500 (1h); output 230.
ANTHROPIC_BODY_USAGE = {"input_tokens": 12, "cache_read_tokens": 40000,
                        "cache_write_tokens": 1500, "cache_write_1h_tokens": 1500,
                        "output_tokens": 230}


def _sse(event, data):
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


ANTHROPIC_STREAM = "".join([
    _sse("message_start", {"type": "message_start", "message": {
        "id": "msg_01Stream", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": None,
        "stop_sequence": None, "usage": {
            "input_tokens": 8, "cache_creation_input_tokens": 300,
            "cache_read_input_tokens": 20000,
            "cache_creation": {"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 0},
            "output_tokens": 1}}}),
    _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
    _sse("ping", {"type": "ping"}),
    *[_sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "text_delta", "text": f"word {i} "}})
      for i in range(40)],
    _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
    _sse("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 57}}),
    _sse("message_stop", {"type": "message_stop"}),
]).encode()
# message_delta's output is cumulative: 57 replaces the placeholder 1 (not 58).
ANTHROPIC_STREAM_USAGE = {"input_tokens": 8, "cache_read_tokens": 20000,
                          "cache_write_tokens": 300, "output_tokens": 57}
# Cut before message_delta: only message_start's placeholder output is known.
ANTHROPIC_STREAM_CUT_AT = ANTHROPIC_STREAM.index(b"event: message_delta")

# 429 with the rate-limit headers and error body Anthropic sends.
ANTHROPIC_429_HEADERS = {
    "content-type": "application/json", "request-id": "req_011Limit", "retry-after": "17",
    "anthropic-ratelimit-input-tokens-limit": "2000000",
    "anthropic-ratelimit-input-tokens-remaining": "0",
    "anthropic-ratelimit-input-tokens-reset": "2026-08-20T10:22:13Z",
}
ANTHROPIC_429_BODY = {"type": "error",
                      "error": {"type": "rate_limit_error",
                                "message": "This request would exceed your rate limit."},
                      "request_id": "req_011Limit"}

# ------------------------------------------------------------ OpenAI chat

OPENAI_CHAT_REQUEST = {
    "messages": [{"role": "user", "content": "Say hi"}], "model": "gpt-4.1",
    "stream": True, "stream_options": {"include_usage": True},
}


def _data(obj):
    return f"data: {json.dumps(obj, separators=(',', ':'))}\n\n"


def _chunk(delta, finish=None, usage=None, choices=True):
    return _data({"id": "chatcmpl-S", "object": "chat.completion.chunk", "created": 1760000000,
                  "model": "gpt-4.1-2025-04-14",
                  "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices
                  else [],
                  "usage": usage})


OPENAI_CHAT_STREAM = "".join([
    _chunk({"role": "assistant", "content": ""}),
    *[_chunk({"content": f"tok{i} "}) for i in range(30)],
    _chunk({}, finish="stop"),
    _chunk(None, usage={"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
                        "prompt_tokens_details": {"cached_tokens": 1920},
                        "completion_tokens_details": {"reasoning_tokens": 128}}, choices=False),
    "data: [DONE]\n\n",
]).encode()
# prompt_tokens includes the cached part: uncached 2006 - 1920 = 86; output 300 (128 reasoning).
OPENAI_CHAT_STREAM_USAGE = {"input_tokens": 86, "cache_read_tokens": 1920, "output_tokens": 300,
                            "reasoning_tokens": 128}

OPENAI_CHAT_BODY = {
    "id": "chatcmpl-B", "object": "chat.completion", "created": 1760000000,
    "model": "gpt-4.1-2025-04-14",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3100, "completion_tokens": 420, "total_tokens": 3520,
              "prompt_tokens_details": {"cached_tokens": 2944},
              "completion_tokens_details": {"reasoning_tokens": 256}},
}
# 3100 - 2944 = 156 uncached; output 420.
OPENAI_CHAT_BODY_USAGE = {"input_tokens": 156, "cache_read_tokens": 2944, "output_tokens": 420}

OPENAI_429_HEADERS = {
    "content-type": "application/json", "x-request-id": "req_abc123",
    "x-ratelimit-limit-tokens": "30000", "x-ratelimit-remaining-tokens": "0",
    "x-ratelimit-reset-tokens": "1.2s", "x-ratelimit-limit-requests": "500",
    "x-ratelimit-remaining-requests": "499", "x-ratelimit-reset-requests": "120ms",
}
OPENAI_429_BODY = {"error": {"message": "Rate limit reached for gpt-4.1 on tokens per min (TPM).",
                             "type": "tokens", "param": None, "code": "rate_limit_exceeded"}}

# ------------------------------------------------------- OpenAI Responses

OPENAI_RESPONSES_REQUEST = {"input": "Say hi", "model": "gpt-5", "max_output_tokens": 2048,
                            "stream": True}


def _ev(event, obj):
    return f"event: {event}\ndata: {json.dumps(obj, separators=(',', ':'))}\n\n"


_RESP = {"id": "resp_S", "object": "response", "model": "gpt-5-2025-08-07", "output": []}
OPENAI_RESPONSES_STREAM = "".join([
    _ev("response.created", {"type": "response.created", "sequence_number": 0,
                             "response": dict(_RESP, status="in_progress", usage=None)}),
    _ev("response.in_progress", {"type": "response.in_progress", "sequence_number": 1,
                                 "response": dict(_RESP, status="in_progress", usage=None)}),
    *[_ev("response.output_text.delta", {"type": "response.output_text.delta",
                                         "sequence_number": 2 + i, "delta": f"w{i} "})
      for i in range(25)],
    _ev("response.completed", {"type": "response.completed", "sequence_number": 42,
                               "response": dict(_RESP, status="completed", usage={
                                   "input_tokens": 5000,
                                   "input_tokens_details": {"cached_tokens": 4096},
                                   "output_tokens": 300,
                                   "output_tokens_details": {"reasoning_tokens": 200},
                                   "total_tokens": 5300})}),
]).encode()
# 5000 - 4096 = 904 uncached; 300 out (200 reasoning).
OPENAI_RESPONSES_STREAM_USAGE = {"input_tokens": 904, "cache_read_tokens": 4096,
                                 "output_tokens": 300, "reasoning_tokens": 200}

# ------------------------------------------------------------------ Gemini

GEMINI_REQUEST = {"contents": [{"role": "user", "parts": [{"text": "Say hi"}]}],
                  "generationConfig": {"temperature": 0.2, "maxOutputTokens": 800}}


def _gemini(text, usage, finish=None):
    cand = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    chunk = {"candidates": [cand], "usageMetadata": usage, "modelVersion": "gemini-2.5-pro"}
    return f"data: {json.dumps(chunk)}\r\n\r\n"


GEMINI_STREAM = "".join([
    _gemini("Hel", {"promptTokenCount": 9000, "cachedContentTokenCount": 8192,
                    "candidatesTokenCount": 1, "totalTokenCount": 9001}),
    _gemini("lo", {"promptTokenCount": 9000, "cachedContentTokenCount": 8192,
                   "candidatesTokenCount": 60, "thoughtsTokenCount": 480,
                   "totalTokenCount": 9540}),
    _gemini("!", {"promptTokenCount": 9000, "cachedContentTokenCount": 8192,
                  "candidatesTokenCount": 120, "thoughtsTokenCount": 480,
                  "totalTokenCount": 9600}, finish="STOP"),
]).encode()
# The last chunk's counts are final: 9000 - 8192 = 808 uncached; output 120 + 480 thoughts.
GEMINI_STREAM_USAGE = {"input_tokens": 808, "cache_read_tokens": 8192, "output_tokens": 600,
                       "reasoning_tokens": 480}


def gzipped(obj):
    return gzip.compress(json.dumps(obj).encode(), mtime=0)  # the same bytes every time
