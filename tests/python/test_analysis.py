"""The analysis from Python: report/top/detect/quota as dicts, through the
in-process command line (tokmeter::cli::Run with --format json)."""

import os
import shutil
import tempfile
import unittest

import tokmeter


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

    def test_bad_flag_raises(self):
        with self.assertRaises(tokmeter.TokmeterError) as cm:
            tokmeter.report(self.path, no_such_flag=1)
        self.assertNotEqual(cm.exception.code, 0)

    def test_run(self):
        code, out, err = tokmeter.run(["--help"])
        self.assertEqual(code, 0, err)
        self.assertIn("report", out + err)


if __name__ == "__main__":
    unittest.main()
