"""The analysis from Python: every command as a function returning its JSON
document, through the in-process command line (tokmeter::cli::Run with
--format json); `python -m tokmeter` as the command itself; the README's
Python snippet run as written."""

import json
import os
import pty
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import tokmeter
from _util import read_jsonl

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@unittest.skipUnless(tokmeter._tokmeter.has_cli, "built without tokmeter_cli")
class AnalysisTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="tokmeter_analysis_")
        cls.path = os.path.join(cls.dir, "usage.jsonl")
        tokmeter.start(cls.path)
        for i in range(3):
            with tokmeter.trace("session", f"s{i}", workflow="nightly"):
                with tokmeter.span("llm", "claude") as s:
                    s.tag("model", "claude-sonnet-4-5").tag("provider", "anthropic")
                    s.add("input_tokens", 1000).add("output_tokens", 200)
                    s.add("cache_read_tokens", 5000).add("requests", 1)
        tokmeter.shutdown()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_report_totals(self):
        r = tokmeter.report(self.path)
        self.assertEqual(r["command"], "report")
        # 3 spans x (1000 in, 200 out, 5000 cache read).
        self.assertEqual(r["totals"]["input_tokens"], 3000)
        self.assertEqual(r["totals"]["output_tokens"], 600)
        self.assertEqual(r["totals"]["cache_read_tokens"], 15000)

    def test_top_detect_quota(self):
        self.assertEqual(tokmeter.top(self.path)["command"], "top")
        self.assertEqual(tokmeter.detect(self.path)["command"], "detect")
        self.assertEqual(tokmeter.quota(self.path, limit="300M")["command"], "quota")

    def test_calendar_views_and_spikes(self):
        # One day, one month, three sessions named by their trace keys; each
        # 1000 + 200 + 5000 = 6,200 tokens.
        daily = tokmeter.daily(self.path)
        self.assertEqual(len(daily["rows"]), 1)
        self.assertEqual(daily["rows"][0]["total_tokens"], 3 * 6200)
        self.assertEqual(tokmeter.monthly(self.path)["rows"][0]["total_tokens"], 3 * 6200)
        sessions = tokmeter.session(self.path)["rows"]
        self.assertEqual(sorted(r["session"] for r in sessions), ["s0", "s1", "s2"])
        self.assertEqual([r["total_tokens"] for r in sessions], [6200] * 3)
        self.assertEqual(tokmeter.spikes(self.path, window="5m")["command"], "spikes")

    def test_report_has_no_empty_group(self):
        # Grouped by workflow: every span is in "nightly", the roots included.
        groups = tokmeter.report(self.path)["groups"]
        self.assertEqual([g["name"] for g in groups], ["nightly"])

    def test_convert_round_trip(self):
        pb = os.path.join(self.dir, "copy.pb")
        back = os.path.join(self.dir, "back.jsonl")
        self.assertIsNone(tokmeter.convert(self.path, pb))
        tokmeter.convert(pb, back)
        spans = lambda p: sorted((r for r in read_jsonl(p) if r["type"] == "span"),
                                 key=lambda r: r["span_id"])
        self.assertEqual(spans(back), spans(self.path))

    def test_file_errors_are_os_errors(self):
        missing = os.path.join(self.dir, "missing.jsonl")
        with self.assertRaises(FileNotFoundError) as cm:
            tokmeter.report(missing)
        self.assertEqual(cm.exception.filename, missing)
        with self.assertRaises(FileNotFoundError):
            tokmeter.convert(missing, os.path.join(self.dir, "x.pb"))
        with self.assertRaises(FileNotFoundError):
            tokmeter.convert(self.path, os.path.join(self.dir, "no", "dir", "x.pb"))
        with self.assertRaisesRegex(ValueError, "JSON document"):
            tokmeter.daily(self.path, format="table")
        with self.assertRaises(ValueError):
            tokmeter.daily()

    def test_reading_functions_flush_the_running_runtime(self):
        live = os.path.join(self.dir, "live.jsonl")
        tokmeter.start(live, flush_interval=3600)  # nothing written unless flushed
        try:
            with tokmeter.trace("session", "live"):
                with tokmeter.span("llm", "m", model="gpt-4.1") as s:
                    s.add("input_tokens", 7).add("output_tokens", 3).add("requests", 1)
            self.assertEqual(tokmeter.report(live)["totals"]["input_tokens"], 7)
        finally:
            tokmeter.shutdown()

    def test_bad_flag_raises(self):
        with self.assertRaises(tokmeter.TokmeterError) as cm:
            tokmeter.report(self.path, no_such_flag=1)
        self.assertNotEqual(cm.exception.code, 0)

    def test_run(self):
        code, out, err = tokmeter.run(["--help"])
        self.assertEqual(code, 0, err)
        self.assertIn("report", out + err)


def run_python(args, **kw):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, timeout=120, **kw)


@unittest.skipUnless(tokmeter._tokmeter.has_cli, "built without tokmeter_cli")
class CommandTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tokmeter_cmd_")
        self.path = os.path.join(self.dir, "usage.jsonl")
        tokmeter.start(self.path)
        with tokmeter.trace("session", "s-42"):
            with tokmeter.span("llm", "m", model="claude-sonnet-4-5") as s:
                s.add("input_tokens", 812).add("output_tokens", 96).add("requests", 1)
        tokmeter.shutdown()

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_python_m_tokmeter_prints_a_table_on_a_terminal(self):
        master, slave = pty.openpty()
        # NO_COLOR: the command colours severities on a terminal; the table
        # to compare with is the same text without them.
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), NO_COLOR="1")
        proc = subprocess.Popen([sys.executable, "-m", "tokmeter", "session", self.path],
                                stdout=slave, stderr=subprocess.PIPE, env=env)
        os.close(slave)
        out = b""
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the terminal closed
                break
            if not data:
                break
            out += data
        os.close(master)
        self.assertEqual(proc.wait(timeout=60), 0, proc.stderr.read())
        proc.stderr.close()
        _, table, _ = tokmeter.run(["session", self.path, "--format", "table"])
        self.assertEqual(out.decode().replace("\r\n", "\n"), table)
        self.assertIn("s-42", table)  # the session is named by the trace's key

    def test_python_m_tokmeter_prints_json_into_a_pipe(self):
        r = run_python(["-m", "tokmeter", "daily", self.path])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["totals"]["input_tokens"], 812)
        bad = run_python(["-m", "tokmeter", "report", "--no-such-flag", self.path])
        self.assertEqual(bad.returncode, 2)  # the command's exit code for a bad flag
        self.assertIn(b"no-such-flag", bad.stderr)


class ReadmeTest(unittest.TestCase):
    def test_python_snippet_runs_as_written(self):
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        section = readme[readme.index("\n## Python"):]
        snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
        work = tempfile.mkdtemp(prefix="tokmeter_readme_")
        self.addCleanup(shutil.rmtree, work, True)
        r = run_python(["-c", snippet], cwd=work, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        # The snippet records 812 input and 96 output tokens and prints the report's totals.
        self.assertEqual(r.stdout.split(), ["812", "96"])


if __name__ == "__main__":
    unittest.main()
