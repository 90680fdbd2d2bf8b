"""start() with every sink and option: JSONL with rotation, protobuf, OTLP/HTTP
(to a receiver on 127.0.0.1, also configured from OTEL_* variables), memory,
a Python callback; and the errors start() raises."""

import glob
import json
import os
import shutil
import tempfile
import threading
import unittest
from unittest import mock

import tokmeter
from _util import read_jsonl, spans_of
from otlp_receiver import Receiver


def record_calls(n, session="s-1"):
    """n llm spans of 100 in / 10 out in one trace."""
    with tokmeter.trace("session", session, channel="cli"):
        for i in range(n):
            with tokmeter.span("llm", f"call-{i}", model="claude-sonnet-4-5",
                               provider="anthropic") as s:
                s.add("input_tokens", 100).add("output_tokens", 10).add("requests", 1)


class SinkTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tokmeter_sinks_")

    def tearDown(self):
        tokmeter.shutdown()
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_jsonl_rotation_keeps_every_record(self):
        base = self.path("usage.jsonl")
        tokmeter.start(sinks=[tokmeter.JsonlSink(base, max_bytes=8192, max_files=5)],
                       flush_interval=0.01)
        for i in range(6):  # six flushes, ~10 KB of lines: rotated at least once
            record_calls(10, session=f"s-{i}")
            tokmeter.flush()
        tokmeter.shutdown()
        files = sorted(glob.glob(base + "*"))
        self.assertGreater(len(files), 1)
        for f in files:
            self.assertLessEqual(os.path.getsize(f), 8192, f)
        names = [s["name"] for f in files for s in spans_of(read_jsonl(f)) if s["kind"] == "llm"]
        self.assertEqual(len(names), 6 * 10)

    def test_protobuf_holds_what_jsonl_holds(self):
        jsonl, pb, back = self.path("a.jsonl"), self.path("a.pb"), self.path("b.jsonl")
        tokmeter.start(jsonl, sinks=[tokmeter.ProtobufSink(pb)])
        record_calls(5)
        tokmeter.shutdown()
        self.assertLess(os.path.getsize(pb), os.path.getsize(jsonl))
        tokmeter.convert(pb, back)
        key = lambda s: s["span_id"]
        self.assertEqual(sorted(spans_of(read_jsonl(back)), key=key),
                         sorted(spans_of(read_jsonl(jsonl)), key=key))
        # The analysis reads protobuf too: 5 x 100 in.
        self.assertEqual(tokmeter.report(pb)["totals"]["input_tokens"], 500)

    def test_otlp_to_a_local_collector(self):
        receiver = Receiver()
        self.addCleanup(receiver.close)
        attributes = {"deployment.environment.name": "test"}
        tokmeter.start(sinks=[tokmeter.OtlpSink(endpoint=receiver.url, service_name="agent-x",
                                                resource_attributes=attributes, flush_timeout=10)])
        record_calls(3, session="s-otlp")
        tokmeter.flush()
        resource, spans = receiver.spans()
        self.assertEqual(resource["service.name"], "agent-x")
        self.assertEqual(resource["deployment.environment.name"], "test")
        llm = [s for s in spans if s["name"].startswith("call-") or
               s["attributes"].get("tokmeter.kind") == "llm"]
        self.assertEqual(len(llm), 3)
        for s in llm:
            a = s["attributes"]
            self.assertEqual(a["gen_ai.usage.input_tokens"], 100)
            self.assertEqual(a["gen_ai.usage.output_tokens"], 10)
            self.assertEqual(a["gen_ai.request.model"], "claude-sonnet-4-5")
            self.assertEqual(a["gen_ai.conversation.id"], "s-otlp")  # the trace's key
        self.assertEqual(tokmeter.stats()["otlp"]["spans_exported"], len(spans))
        self.assertEqual(receiver.requests[0][0], "/v1/traces")

    def test_otlp_from_the_environment_when_asked(self):
        receiver = Receiver()
        self.addCleanup(receiver.close)
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "from-env",
               "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=t%201"}
        with mock.patch.dict(os.environ, env):
            # The variables override the arguments, and only with from_env=True.
            tokmeter.start(sinks=[tokmeter.OtlpSink(endpoint="http://127.0.0.1:9", from_env=True,
                                                    flush_timeout=10)])
        record_calls(1)
        tokmeter.flush()
        resource, spans = receiver.spans()
        self.assertEqual(resource["service.name"], "from-env")
        self.assertGreaterEqual(len(spans), 1)
        self.assertEqual(receiver.requests[0][1].get("x-tenant"), "t 1")

    def test_callback_sees_every_record_by_flush(self):
        got = []
        tokmeter.start(sinks=[tokmeter.CallbackSink(got.extend)], flush_interval=3600)
        record_calls(4)
        tokmeter.flush()  # returns once the callback has them
        spans = [r for r in got if r["type"] == "span"]
        self.assertEqual(sorted(s["name"] for s in spans if s["kind"] == "llm"),
                         ["call-0", "call-1", "call-2", "call-3"])
        self.assertEqual(sum(s.get("input_tokens", 0) for s in spans), 400)
        traces = [r for r in got if r["type"] == "trace"]
        self.assertEqual(traces[-1]["tags"], {"session": "s-1", "channel": "cli"})
        self.assertEqual(tokmeter.stats()["callback_records_dropped"], 0)

    def test_callback_errors_go_to_on_error(self):
        errors, seen = [], threading.Event()

        def broken(records):
            raise KeyError("boom")

        def on_error(sink, message):
            errors.append((sink, message))
            seen.set()

        tokmeter.start(sinks=[tokmeter.CallbackSink(broken)], on_error=on_error)
        record_calls(1)
        tokmeter.flush()
        self.assertTrue(seen.is_set())
        self.assertEqual(errors[0][0], "callback")
        self.assertIn("KeyError", errors[0][1])
        self.assertGreaterEqual(tokmeter.stats()["callback_errors"], 1)

    def test_sink_errors_reach_on_error_or_warn(self):
        got = threading.Event()
        errors = []
        # Nothing listens on port 9 of 127.0.0.1: the export fails at once.
        otlp = tokmeter.OtlpSink(endpoint="http://127.0.0.1:9", max_retries=0, flush_timeout=10)
        tokmeter.start(memory=True, sinks=[otlp],
                       on_error=lambda sink, msg: (errors.append((sink, msg)), got.set()))
        record_calls(1)
        tokmeter.flush()
        self.assertTrue(got.wait(30), "no sink error delivered")
        self.assertTrue(errors[0][0].startswith("otlp:http://127.0.0.1:9"), errors)
        tokmeter.shutdown()
        # Without on_error: a TokmeterWarning.
        tokmeter.start(memory=True, sinks=[otlp])
        record_calls(1)
        with self.assertWarnsRegex(tokmeter.TokmeterWarning, "sink otlp:"):
            tokmeter.flush()
            tokmeter.shutdown()

    def test_memory_and_stats(self):
        tokmeter.start(memory=True)
        record_calls(2)
        spans = tokmeter.memory_spans()  # flushes first
        self.assertEqual(len([s for s in spans if s["kind"] == "llm"]), 2)
        st = tokmeter.stats()
        self.assertEqual(st["spans"], 3)  # 2 calls + the trace's root
        self.assertEqual(st["dropped"], 0)

    def test_ring_bytes_is_applied(self):
        # Two 4,000-byte tags do not fit a 4 KiB ring (dropped and counted),
        # and fit the default 1 MiB one.
        for ring, dropped in ((4096, True), (1 << 20, False)):
            tokmeter.start(memory=True, ring_bytes=ring, flush_interval=3600)
            with tokmeter.span("tool", "big") as s:
                s.tag("a", "x" * 4000).tag("b", "y" * 4000)
            tokmeter.flush()
            self.assertEqual(tokmeter.stats()["dropped"] > 0, dropped, ring)
            tokmeter.shutdown()

    def test_start_errors(self):
        with self.assertRaisesRegex(ValueError, "needs a sink"):
            tokmeter.start()
        missing = self.path("no/such/dir/usage.jsonl")
        with self.assertRaises(FileNotFoundError) as cm:
            tokmeter.start(missing)
        self.assertEqual(cm.exception.filename, missing)
        with self.assertRaises(IsADirectoryError):
            tokmeter.start(sinks=[tokmeter.ProtobufSink(self.dir)])
        not_pb = self.path("text.pb")
        with open(not_pb, "w") as f:
            f.write('{"type":"span"}\n')
        with self.assertRaisesRegex(ValueError, "not a tokmeter protobuf file"):
            tokmeter.start(sinks=[tokmeter.ProtobufSink(not_pb)])
        with self.assertRaises(ValueError):
            tokmeter.start(sinks=[tokmeter.JsonlSink(self.path("x.jsonl"), max_bytes=-1)])
        with self.assertRaises(ValueError):
            tokmeter.start(memory=True, ring_bytes=0)
        with self.assertRaises(ValueError):
            tokmeter.start(memory=True, high_water=2)
        with self.assertRaisesRegex(ValueError, "block_when_full"):
            tokmeter.start(sinks=[tokmeter.CallbackSink(print)], block_when_full=True)
        with self.assertRaises(TypeError):
            tokmeter.start(sinks=[object()])
        self.assertFalse(tokmeter.is_recording())
        tokmeter.start(memory=True)
        with self.assertRaisesRegex(RuntimeError, "already running"):
            tokmeter.start(memory=True)


if __name__ == "__main__":
    unittest.main()
