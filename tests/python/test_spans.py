"""Spans and traces from Python: nesting, counters, tags, JSONL round trip,
decorators, asyncio tasks and threads keeping their trace."""

import asyncio
import os
import threading
import unittest
import warnings
from concurrent.futures import ThreadPoolExecutor

import tokmeter
from _util import RuntimeTestCase, read_jsonl, spans_of


class SpanTest(RuntimeTestCase):
    def test_jsonl_round_trip(self):
        tokmeter.define_counter("my_counter")
        with tokmeter.trace("turn", "t-1", channel="discord") as t:
            with tokmeter.span("llm", "claude", provider="anthropic") as s:
                s.add("input_tokens", 812).add("output_tokens", 40)
                s.add("cache_read_tokens", 1000).add("my_counter", 3).add("tool_calls")
                s.tag("model", "claude-sonnet-4-5").tag("attempt", 2).tag("streaming", True)
                s.fingerprint(b"prompt bytes")
                llm_id = s.span_id
            root_id = t.span_id
        tokmeter.shutdown()
        records = read_jsonl(self.path)
        traces = [r for r in records if r["type"] == "trace"]
        # The latest trace line of a trace holds its tags (docs/FORMAT.md): a
        # flush between the trace's start and its tag writes a first line
        # without them.
        # The trace's key is its session unless a session tag is given.
        self.assertEqual(traces[-1]["tags"], {"session": "t-1", "channel": "discord"})
        by_name = {r["name"]: r for r in spans_of(records)}
        llm = by_name["claude"]
        self.assertEqual(llm["span_id"], llm_id)
        self.assertEqual(llm["parent_id"], root_id)
        self.assertEqual(llm["trace_id"], by_name["t-1"]["trace_id"])
        self.assertEqual(llm["input_tokens"], 812)
        self.assertEqual(llm["output_tokens"], 40)
        self.assertEqual(llm["cache_read_tokens"], 1000)
        self.assertEqual(llm["tool_calls"], 1)
        self.assertEqual(llm["counters"], {"my_counter": 3})
        # Well-known tags are top-level fields (token-usage.jsonl schema), others under "tags".
        self.assertEqual(llm["provider"], "anthropic")
        self.assertEqual(llm["model"], "claude-sonnet-4-5")
        self.assertIs(llm["streaming"], True)
        self.assertEqual(llm["tags"], {"attempt": 2})
        self.assertIn("fingerprint", llm)
        summary = [r for r in records if r["type"] == "turn_summary"]
        self.assertEqual(summary[0]["input_tokens"], 812)

    def test_current(self):
        self.assertFalse(tokmeter.current().recording)
        tokmeter.current().add("input_tokens", 1)  # inert: no error
        with tokmeter.span("tool", "outer") as outer:
            self.assertIs(tokmeter.current(), outer)
            with tokmeter.span("tool", "inner") as inner:
                self.assertIs(tokmeter.current(), inner)
                tokmeter.current().add("tool_calls", 1)
            self.assertIs(tokmeter.current(), outer)
        self.assertIsNone(tokmeter.context())
        self.assertEqual(self.span_named("inner")["counters"], {"tool_calls": 1})
        self.assertEqual(self.span_named("inner")["parent_id"], self.span_named("outer")["span_id"])

    def test_exception_is_tagged_counted_and_span_closed(self):
        with self.assertRaises(KeyError):
            with tokmeter.span("tool", "boom"):
                raise KeyError("x")
        boom = self.span_named("boom")
        self.assertEqual(boom["tags"]["exception"], "KeyError")
        self.assertEqual(boom["counters"]["errors"], 1)
        self.assertIsNone(tokmeter.context())

    def test_decorators(self):
        @tokmeter.instrument("tool")
        def plain(x):
            tokmeter.current().add("tool_calls", 1)
            return x * 2

        @tokmeter.instrument
        async def coro(x):
            await asyncio.sleep(0)
            tokmeter.current().add("requests", 1)
            return x + 1

        @tokmeter.instrument("gen", "agen")
        async def agen():
            for i in range(3):
                yield i

        async def collect():
            return [i async for i in agen()]

        self.assertEqual(plain(21), 42)
        self.assertEqual(asyncio.run(coro(1)), 2)
        self.assertEqual(asyncio.run(collect()), [0, 1, 2])
        spans = {s["name"]: s for s in self.spans()}
        self.assertEqual(spans["SpanTest.test_decorators.<locals>.plain"]["kind"], "tool")
        self.assertEqual(spans["SpanTest.test_decorators.<locals>.plain"]["counters"],
                         {"tool_calls": 1})
        self.assertEqual(spans["SpanTest.test_decorators.<locals>.coro"]["kind"], "function")
        self.assertEqual(spans["SpanTest.test_decorators.<locals>.coro"]["counters"], {"requests": 1})
        self.assertIn("agen", spans)

    def test_explicit_parent(self):
        with tokmeter.trace("job", "cron-1") as t:
            ctx = t.context
        with tokmeter.span("tool", "late", parent=ctx):
            pass
        with tokmeter.span("tool", "late2", t):
            pass
        late = self.span_named("late")
        self.assertEqual(late["trace_id"], ctx.trace_id)
        self.assertEqual(late["parent_id"], ctx.span_id)
        self.assertEqual(self.span_named("late2")["parent_id"], ctx.span_id)

    def test_enter_twice_fails(self):
        s = tokmeter.span("tool", "twice")
        with s:
            pass
        with self.assertRaises(RuntimeError):
            with s:
                pass

    def test_not_recording_is_a_no_op_with_one_warning(self):
        tokmeter.shutdown()
        with self.assertWarnsRegex(tokmeter.TokmeterWarning, "no runtime runs.*tokmeter.start"):
            with tokmeter.span("tool", "off") as s:
                s.add("input_tokens", 1).tag("a", "b")
                self.assertFalse(s.recording)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a second one would raise
            with tokmeter.trace("session", "off-too"):
                pass
        # A new runtime, a new mistake: warned again.
        tokmeter.start(memory=True)
        tokmeter.shutdown()
        with self.assertWarns(tokmeter.TokmeterWarning):
            with tokmeter.span("tool", "off-again"):
                pass


class MisuseTest(RuntimeTestCase):
    def test_unknown_counter_is_refused_with_a_suggestion(self):
        with tokmeter.span("llm", "typo") as s:
            with self.assertRaisesRegex(ValueError, r"'input_tokenz'.*did you mean 'input_tokens'"):
                s.add("input_tokenz", 5)
            tokmeter.define_counter("web_searches")
            s.add("web_searches", 2).add("input_tokens", 5)
            with self.assertRaises(TypeError):
                s.add(3, 1)
        span = self.span_named("typo")
        self.assertEqual(span["counters"], {"input_tokens": 5, "web_searches": 2})
        self.assertIn("web_searches", tokmeter._tokmeter.user_counters())

    def test_negative_counts_are_refused(self):
        with tokmeter.span("llm", "neg") as s:
            with self.assertRaisesRegex(ValueError, "never go down"):
                s.add("output_tokens", -5)
            s.add("output_tokens", 0)
        self.assertEqual(self.span_named("neg")["counters"], {"output_tokens": 0})

    def test_tag_values_are_str_int_bool_or_float(self):
        with tokmeter.span("llm", "tags", attempt=2) as s:
            s.tag("temperature", 0.7).tag("ok", True).tag("who", "ann")
            with self.assertRaisesRegex(TypeError, r"tag 'payload': a dict is not a tag value"):
                s.tag("payload", {"a": 1})
            with self.assertRaisesRegex(TypeError, "a NoneType is not a tag value"):
                s.tag("nothing", None)
            with self.assertRaises(TypeError):
                s.tag("raw", b"bytes")
            with self.assertRaises(TypeError):
                s.trace_tag("list", [1])
        with self.assertRaisesRegex(TypeError, "tag 'meta'"):
            tokmeter.span("llm", "kw", meta={"x": 1})
        tags = self.span_named("tags")["tags"]
        # A float is kept as its shortest text; int and bool keep their type.
        self.assertEqual(tags, {"attempt": 2, "temperature": "0.7", "ok": True, "who": "ann"})


class ConcurrencyTest(RuntimeTestCase):
    def test_asyncio_tasks_keep_their_parent(self):
        async def worker(i):
            with tokmeter.span("task", f"task-{i}"):
                for step in range(3):
                    await asyncio.sleep(0.001 * ((i + step) % 3))  # interleave
                    with tokmeter.span("step", f"step-{i}-{step}") as s:
                        await asyncio.sleep(0)
                        s.add("tool_calls", 1)

        async def main():
            with tokmeter.trace("session", "async") as t:
                await asyncio.gather(*(worker(i) for i in range(8)))
                return t.trace_id

        trace_id = asyncio.run(main())
        spans = {s["name"]: s for s in self.spans()}
        self.assertEqual(len(spans), 1 + 8 + 24)
        for i in range(8):
            task = spans[f"task-{i}"]
            self.assertEqual(task["trace_id"], trace_id)
            self.assertEqual(task["parent_id"], spans["async"]["span_id"])
            for step in range(3):
                s = spans[f"step-{i}-{step}"]
                self.assertEqual(s["parent_id"], task["span_id"], s)
                self.assertEqual(s["trace_id"], trace_id)
                self.assertLessEqual(task["start_unix_ns"], s["start_unix_ns"])
                self.assertLessEqual(s["end_unix_ns"], task["end_unix_ns"])

    def test_threads_keep_their_trace(self):
        def work(i):
            with tokmeter.span("tool", f"thread-{i}") as s:
                s.add("tool_calls", 1)
                with tokmeter.span("tool", f"thread-{i}-child"):
                    pass

        with tokmeter.trace("session", "threads") as t:
            threads = [threading.Thread(target=tokmeter.bind(work), args=(i,)) for i in range(4)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            with ThreadPoolExecutor(2) as pool:  # one bound function, many threads
                list(pool.map(tokmeter.bind(work), range(4, 8)))

            async def via_to_thread():  # asyncio.to_thread copies the context itself
                await asyncio.to_thread(work, 8)
            asyncio.run(via_to_thread())
            root = t.span_id
        spans = {s["name"]: s for s in self.spans()}
        for i in range(9):
            self.assertEqual(spans[f"thread-{i}"]["parent_id"], root, i)
            self.assertEqual(spans[f"thread-{i}"]["trace_id"], t.trace_id)
            self.assertEqual(spans[f"thread-{i}-child"]["parent_id"], spans[f"thread-{i}"]["span_id"])
        self.assertEqual(tokmeter._tokmeter.spans_closed_on_wrong_thread(), 0)

    def test_many_threads_many_spans(self):
        n_threads, n_spans = 8, 2000

        def work():
            for _ in range(n_spans):
                with tokmeter.span("tool", "x") as s:
                    s.add("input_tokens", 1)

        threads = [threading.Thread(target=work) for _ in range(n_threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        tokmeter.flush()
        st = tokmeter.stats()
        self.assertEqual(st["spans"] + st["dropped"], n_threads * n_spans)


if __name__ == "__main__":
    unittest.main()
