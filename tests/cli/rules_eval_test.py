#!/usr/bin/env python3
"""The rules evaluation harness (bench/rules_eval) works: the generator's
lines are all read by `tokmeter` in each format, with the totals the
generator computed, and the scorer matches findings to labels. Recall is not
required here (the rules change; bench/rules_eval.sh reports it).

    TOKMETER_BIN=build/src/cli/tokmeter python3 tests/cli/rules_eval_test.py
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench", "rules_eval"))
import gen  # noqa: E402
import score  # noqa: E402

TOKMETER = os.environ.get("TOKMETER_BIN", "")
FORMATS = ("tokmeter", "turn_summary", "token_usage", "claude")


def generate(outdir, days, inject, scale=0.5, seed=7):
    # gen.main changes module-level settings (--scale): run it in a process.
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "rules_eval", "gen.py"), outdir,
                    "--days", str(days), "--seed", str(seed), "--inject", inject,
                    "--scale", str(scale)], check=True, stderr=subprocess.DEVNULL)
    with open(os.path.join(outdir, "labels.json")) as f:
        return json.load(f)


class GeneratedDaysTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rules_eval_")
        cls.labels = generate(cls.dir, 2, "loop,fanout,retry_storm,cache_miss_streak")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_days_and_labels(self):
        days = self.labels["days"]
        # 2 clean days; loop has three strengths, the others two: 2 + 3 + 2 + 2 + 2.
        self.assertEqual(len(days), 11)
        self.assertEqual(sum(1 for d in days.values() if d["clean"]), 2)
        for name, d in days.items():
            for fmt in FORMATS:
                self.assertTrue(os.path.isdir(os.path.join(self.dir, name, score.INPUTS[fmt][0])))
            if d["clean"]:
                self.assertEqual(d["labels"], {f: [] for f in FORMATS})
                continue
            kind = d["injected"][0]["kind"]
            for fmt in FORMATS:
                (lab,) = d["labels"][fmt]
                self.assertEqual(lab["kind"], kind)
                self.assertEqual(lab["applicable"], fmt in gen.APPLIES[kind])
                self.assertLess(lab["start"], lab["end"])
                if fmt == "token_usage":
                    self.assertEqual(set(lab["keys"]), {"workflow", "run"})
                else:
                    self.assertEqual(set(lab["keys"]), {"session"})

    def test_loop_between_strength_is_per_format(self):
        # "between": repeats >= the fingerprint threshold, < the consecutive one.
        (d,) = [d for d in self.labels["days"].values()
                if d["injected"] == [{"kind": "loop", "strength": "between"}]]
        self.assertEqual(d["labels"]["tokmeter"][0]["strength"], "documented")
        self.assertEqual(d["labels"]["claude"][0]["strength"], "documented")
        self.assertEqual(d["labels"]["turn_summary"][0]["strength"], "below")
        self.assertEqual(d["labels"]["token_usage"][0]["strength"], "below")

    def test_same_traffic_in_every_format(self):
        for d in self.labels["days"].values():
            t = d["totals"]
            self.assertGreater(t["tokmeter"]["tokens"], 0)
            for fmt in FORMATS:
                self.assertEqual(t[fmt]["tokens"], t["tokmeter"]["tokens"], fmt)
            # token-usage records 2xx only: the 429 attempts are not there.
            self.assertEqual(t["token_usage"]["requests"],
                             t["tokmeter"]["requests"] - t["tokmeter"]["rate_limited"])
            self.assertEqual(t["claude"]["tool_calls"], t["tokmeter"]["tool_calls"])
            self.assertEqual(t["turn_summary"]["rate_limited"], t["tokmeter"]["rate_limited"])

    @unittest.skipUnless(TOKMETER, "TOKMETER_BIN not set")
    def test_tokmeter_reads_every_line_with_the_generators_totals(self):
        for name, d in self.labels["days"].items():
            for fmt in FORMATS:
                sub, flags = score.INPUTS[fmt]
                doc = score.run_tokmeter(TOKMETER, "daily", os.path.join(self.dir, name, sub),
                                         flags)
                for i in doc["inputs"]:
                    self.assertEqual(i["skipped_lines"], 0, (name, fmt, i["path"]))
                    self.assertFalse(i["empty"], (name, fmt, i["path"]))
                want = d["totals"][fmt]
                self.assertEqual(doc["totals"]["total_tokens"], want["tokens"], (name, fmt))
                self.assertEqual(doc["totals"]["rate_limited"], want["rate_limited"], (name, fmt))
                if fmt != "token_usage":
                    self.assertEqual(doc["totals"]["tool_calls"], want["tool_calls"], (name, fmt))
                if fmt == "token_usage":
                    # every run directory is a run, tagged from the path
                    self.assertEqual(len(doc["inputs"]), sum(
                        len(files) for _, _, files in os.walk(os.path.join(self.dir, name, sub))))

    @unittest.skipUnless(TOKMETER, "TOKMETER_BIN not set")
    def test_score_runs_and_checks_reading(self):
        out = os.path.join(self.dir, "scores.json")
        p = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "rules_eval", "score.py"),
                            self.dir, "--tokmeter", TOKMETER, "--check-read", "--json", out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("recall", p.stdout)
        with open(out) as f:
            s = json.load(f)
        self.assertEqual(s["read_problems"], [])
        rows = {(r["rule"], r["format"]): r for r in s["rows"]}
        # Each injected kind has a row per format it applies to: documented
        # strength once (twice for loop: "between" and "documented" where
        # fingerprints exist), below once.
        self.assertEqual(rows[("fanout", "turn_summary")]["documented"], 1)
        self.assertEqual(rows[("fanout", "turn_summary")]["below"], 1)
        self.assertEqual(rows[("loop", "tokmeter")]["documented"], 2)
        self.assertEqual(rows[("loop", "tokmeter")]["below"], 1)
        self.assertEqual(rows[("loop", "token_usage")]["documented"], 1)
        self.assertEqual(rows[("loop", "token_usage")]["below"], 2)
        self.assertNotIn(("retry_storm", "token_usage"), rows)


class MatchingTest(unittest.TestCase):
    """The scorer's matching, on hand-written findings."""

    lab = {"kind": "loop", "applicable": True, "strength": "documented",
           "keys": {"session": "s003-0104"},
           "related": {"session": "s003-0104", "run": "s003-0104", "workflow": "ops-agent"},
           "start": "2026-03-05T10:00:00.000Z", "end": "2026-03-05T10:12:00.000Z"}

    def test_keys_object_wins(self):
        f = {"kind": "loop", "subject": "whatever", "keys": {"session": "s003-0104"}}
        self.assertTrue(score.finds(f, self.lab, 300))
        f = {"kind": "loop", "subject": "session s003-0104", "keys": {"session": "s003-0105"}}
        self.assertFalse(score.finds(f, self.lab, 300))

    def test_subject_substring_without_keys(self):
        f = {"kind": "loop", "subject": "session s003-0104: tool Bash"}
        self.assertTrue(score.finds(f, self.lab, 300))
        self.assertFalse(score.finds(dict(f, kind="fanout"), self.lab, 300))
        self.assertFalse(score.finds({"kind": "loop", "subject": "session s003-0010"},
                                     self.lab, 300))

    def test_time_range_for_spikes_and_storms_only(self):
        spike = dict(self.lab, kind="spike")
        f = {"kind": "spike", "subject": "window 2026-03-05T10:05:00Z",
             "time": "2026-03-05T10:05:00Z"}
        self.assertTrue(score.finds(f, spike, 300))
        # 10:12 + 5 minutes of slack is the last window that can hold it.
        self.assertTrue(score.finds(dict(f, time="2026-03-05T10:17:00Z"), spike, 300))
        self.assertFalse(score.finds(dict(f, time="2026-03-05T10:18:00Z"), spike, 300))
        loop_by_time = {"kind": "loop", "subject": "session other",
                        "time": "2026-03-05T10:05:00Z"}
        self.assertFalse(score.finds(loop_by_time, self.lab, 300))

    def test_caused_by_an_injection(self):
        # A large_run on the injected session's run, a spike during it.
        self.assertTrue(score.caused_by({"kind": "large_run", "subject": "run s003-0104"},
                                        [self.lab], 300))
        self.assertTrue(score.caused_by({"kind": "spike", "subject": "window",
                                         "time": "2026-03-05T10:10:00Z"}, [self.lab], 300))
        self.assertFalse(score.caused_by({"kind": "fanout", "subject": "session s003-0007 turn ?",
                                          "time": "2026-03-05T10:10:00Z"}, [self.lab], 300))

    def test_end_to_end_with_a_fake_detector(self):
        # A stand-in for tokmeter that reports one loop on the injected
        # session and one fanout on another: the scorer counts one found
        # loop and one false alarm.
        d = tempfile.mkdtemp(prefix="rules_eval_fake_")
        try:
            labels = generate(d, 0, "loop", scale=0.3)
            days = labels["days"]
            name = [n for n, v in days.items()
                    if v["injected"][0]["strength"] == "documented"][0]
            for n in list(days):
                if n != name:
                    del days[n]
            with open(os.path.join(d, "labels.json"), "w") as f:
                json.dump(labels, f)
            session = days[name]["labels"]["tokmeter"][0]["keys"]["session"]
            fake = os.path.join(d, "fake-tokmeter")
            doc = {"findings": [
                {"kind": "loop", "subject": "session %s: tool Bash" % session, "time": None},
                {"kind": "fanout", "subject": "session nobody turn 1", "time": None},
                {"kind": "low_cache", "subject": "workflow chat", "time": None}],
                "totals": {}, "inputs": []}
            with open(fake, "w") as f:
                f.write("#!%s\nimport sys\nprint(%r)\n" % (sys.executable, json.dumps(doc)))
            os.chmod(fake, os.stat(fake).st_mode | stat.S_IEXEC)
            out = os.path.join(d, "s.json")
            p = subprocess.run([sys.executable,
                                os.path.join(ROOT, "bench", "rules_eval", "score.py"), d,
                                "--tokmeter", fake, "--json", out, "--require"],
                               stdout=subprocess.PIPE, text=True)
            self.assertEqual(p.returncode, 1)  # the false alarm
            with open(out) as f:
                s = json.load(f)
            rows = {(r["rule"], r["format"]): r for r in s["rows"]}
            for fmt in FORMATS:
                self.assertEqual(rows[("loop", fmt)]["documented"], 1)
                # token-usage's run is the session key: named in the subject too
                self.assertEqual(rows[("loop", fmt)]["found"], 1)
                self.assertEqual(rows[("fanout", fmt)]["false alarms injected"], 1)
            self.assertEqual(s["recommendations"]["low_cache/tokmeter"], 1)
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
