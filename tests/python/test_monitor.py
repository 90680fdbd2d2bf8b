"""The live monitor from Python: start(monitor=... / budgets=...), guard(),
on_alert from the monitor's thread (it takes the GIL), alert lines in the
JSONL file, and the errors bad options raise."""

import threading
import unittest

import tokmeter
from _util import TempDirTestCase, read_jsonl


def llm(session, tokens):
    with tokmeter.span("llm", "chat", session=session, model="gpt-5") as s:
        s.add("input_tokens", tokens)


def tool(session, fingerprint):
    with tokmeter.span("tool", "read_file", session=session) as s:
        s.add("input_tokens", 10).fingerprint(fingerprint)


class MonitorTest(TempDirTestCase):
    prefix = "tokmeter_monitor_"

    def test_hard_budget_denies_after_the_crossing(self):
        tokmeter.start(self.path, flush_interval=3600, budgets=["session=1000,hard"],
                       rules=False)
        llm("s1", 500)
        llm("s1", 400)  # 900 of 1000: over the 80 % warn share
        tokmeter.flush()
        g = tokmeter.guard(session="s1")
        self.assertEqual(g.verdict, "warn")
        self.assertFalse(g.denied)
        self.assertTrue(g)
        llm("s1", 100)  # 1000: 100 %
        tokmeter.flush()
        g = tokmeter.guard(session="s1")
        self.assertEqual(g.verdict, "deny")
        self.assertEqual(g.reason, "budget")
        self.assertTrue(g.denied)
        self.assertFalse(g)
        self.assertIn("session=1000,hard", g.message)
        self.assertEqual(tokmeter.guard(session="s2").verdict, "allow")
        self.assertEqual(tokmeter.guard().verdict, "allow")
        # Several scopes: the worst.
        self.assertEqual(tokmeter.guard(session="s1", user="u").verdict, "deny")
        tokmeter.shutdown()
        alerts = [r for r in read_jsonl(self.path) if r["type"] == "alert"]
        self.assertEqual([a["threshold"] for a in alerts], [0.5, 0.8, 1])
        self.assertEqual([a["evidence"]["consumed"] for a in alerts], [500, 900, 1000])
        self.assertTrue(all(a["budget"] == "session=1000,hard" for a in alerts))

    def test_guard_allows_without_a_monitor(self):
        tokmeter.start(memory=True)
        g = tokmeter.guard(session="x")
        self.assertEqual((g.verdict, g.reason, g.denied), ("allow", "", False))
        self.assertEqual(tokmeter.monitor_stats(), {})

    def test_on_alert_gets_dicts_on_another_thread(self):
        got = []
        threads = set()
        done = threading.Event()

        def on_alert(alert):
            threads.add(threading.get_ident())
            got.append(alert)
            if len(got) == 3:
                done.set()

        tokmeter.start(memory=True, flush_interval=3600,
                       monitor={"budgets": ["total=1000"], "on_alert": on_alert,
                                "rules": False})
        llm("a", 600)
        llm("b", 600)
        tokmeter.flush()
        self.assertTrue(done.wait(60))
        self.assertEqual([a["threshold"] for a in got], [0.5, 0.8, 1.0])
        self.assertEqual(got[0]["rule"], "budget")
        self.assertEqual(got[0]["subject"], "all traffic")
        self.assertEqual(got[2]["severity"], "critical")
        self.assertEqual(got[1]["evidence"]["consumed"], 1200)
        self.assertEqual(got[0]["keys"], {"budget": "total=1000"})
        self.assertEqual(len(got[0]["trace_id"]), 32)
        self.assertNotIn(threading.get_ident(), threads)

    def test_raising_on_alert_is_counted_and_the_next_delivered(self):
        got = []
        errors = []

        def on_alert(alert):
            if not got and not errors:
                errors.append(alert)
                raise RuntimeError("boom")
            got.append(alert["threshold"])

        tokmeter.start(memory=True, flush_interval=3600, budgets=["total=1000"],
                       on_alert=on_alert, rules=False,
                       on_error=lambda source, message: None)
        llm("a", 1000)
        tokmeter.shutdown()  # delivers every queued alert before returning
        self.assertEqual(got, [0.8, 1.0])
        self.assertEqual(tokmeter.monitor_stats()["callback_errors"], 1)
        self.assertEqual(tokmeter.monitor_stats()["alerts"], 3)

    def test_loop_denies_from_the_nth_repeat(self):
        tokmeter.start(memory=True, flush_interval=3600, loop_repeats=3, deny_on_loop=True)
        tool("s1", "read_file a.txt")
        tool("s1", "read_file a.txt")
        tokmeter.flush()
        self.assertEqual(tokmeter.guard(session="s1").verdict, "allow")
        tool("s1", "read_file a.txt")
        tokmeter.flush()
        g = tokmeter.guard(session="s1")
        self.assertEqual((g.verdict, g.reason), ("deny", "loop"))

    def test_bad_options_raise_value_error_naming_them(self):
        for bad in ["session=-5", "team=5M", "total=5M/fortnight", "cost=5req"]:
            with self.assertRaises(ValueError) as cm:
                tokmeter.start(memory=True, budgets=["total=1M", bad])
            self.assertIn(bad, str(cm.exception))
            self.assertFalse(tokmeter.is_recording())
        with self.assertRaises(ValueError) as cm:
            tokmeter.start(memory=True, budgets=["total=1M/day"], time_zone="Mars/Olympus")
        self.assertIn("Mars/Olympus", str(cm.exception))
        with self.assertRaises(ValueError):
            tokmeter.start(memory=True, monitor={"budgetz": ["total=1M"]})
        with self.assertRaises(TypeError):
            tokmeter.start(memory=True, budgets="total=1M")
        with self.assertRaises(TypeError):
            tokmeter.start(memory=True, on_alert=42)
        self.assertFalse(tokmeter.is_recording())


if __name__ == "__main__":
    unittest.main()
