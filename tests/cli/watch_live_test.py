"""`tokmeter watch` following files that grow while it runs.

Each test starts the command (TOKMETER_BIN), writes to its files, and waits
for the alert lines it expects; the command is killed once they appeared (or
after a generous deadline, which fails the test). Nothing is asserted about
how long anything took.
"""

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import unittest

BIN = os.environ.get("TOKMETER_BIN", "tokmeter")
DEADLINE_S = 60.0


def turn(minute, tokens_in, tokens_out, session="s-1"):
    return json.dumps({
        "ts": "2026-11-23T09:%02d:00.000Z" % minute,
        "kind": "turn_summary",
        "sessionKey": session,
        "channel": "cli",
        "model": "gpt-5",
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "tool_calls": 0,
        "rate_limits": 0,
        "retry_count": 0,
        "duration_ms": 100,
        "tags": {"heartbeat": False, "cron_job_id": None, "agentId": "a1"},
    }) + "\n"


def append(path, text):
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


class Watch:
    """The command running, its stdout lines in a queue."""

    def __init__(self, args):
        self.proc = subprocess.Popen([BIN, "watch", "--format", "json", "--interval", "50ms"] + args,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, pred):
        """The first line (parsed) for which pred holds; None at the deadline."""
        import time
        end = time.monotonic() + DEADLINE_S
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    return None
                continue
            obj = json.loads(line)
            self.seen.append(obj)
            if pred(obj):
                return obj
        return None

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        return self.proc.stderr.read()


def budget_alert(threshold):
    return lambda o: (o.get("type") == "alert" and o.get("rule") == "budget"
                      and o.get("threshold") == threshold)


class WatchLiveTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tokmeter_watch_")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_appended_lines_and_a_new_file_raise_alerts(self):
        log = os.path.join(self.dir, "a.jsonl")
        append(log, turn(0, 300, 100))  # 400 of 1000
        w = Watch(["--from-start", "--budget", "total=1k", self.dir])
        try:
            append(log, turn(1, 100, 100))  # 600: 50 %
            a50 = w.wait_for(budget_alert(0.5))
            self.assertIsNotNone(a50, w.seen)
            self.assertEqual(a50["timestamp"], "2026-11-23T09:01:00+00:00")
            self.assertEqual(a50["evidence"]["consumed"], 600)
            # A file that appears in the followed directory.
            append(os.path.join(self.dir, "b.jsonl"), turn(2, 300, 100, session="s-2"))  # 1000
            a100 = w.wait_for(budget_alert(1.0))
            self.assertIsNotNone(a100, w.seen)
            self.assertEqual(a100["timestamp"], "2026-11-23T09:02:00+00:00")
            self.assertEqual(a100["evidence"]["consumed"], 1000)
            # 80 % was crossed by the same record, once.
            thresholds = [o["threshold"] for o in w.seen
                          if o.get("type") == "alert" and o.get("rule") == "budget"]
            self.assertEqual(thresholds, [0.5, 0.8, 1.0])
        finally:
            w.stop()

    def test_rotation(self):
        log = os.path.join(self.dir, "app.jsonl")
        append(log, turn(0, 200, 100))  # 300
        w = Watch(["--from-start", "--budget", "total=1k", log])
        try:
            append(log, turn(1, 200, 100))  # 600: 50 %
            self.assertIsNotNone(w.wait_for(budget_alert(0.5)), w.seen)
            # logrotate: the file is renamed and a new one starts at the path.
            os.rename(log, log + ".1")
            append(log, turn(2, 300, 100))  # 1000: 80 % and 100 %
            a100 = w.wait_for(budget_alert(1.0))
            self.assertIsNotNone(a100, w.seen)
            self.assertEqual(a100["timestamp"], "2026-11-23T09:02:00+00:00")
            self.assertEqual(a100["evidence"]["consumed"], 1000)
            thresholds = [o["threshold"] for o in w.seen
                          if o.get("type") == "alert" and o.get("rule") == "budget"]
            self.assertEqual(thresholds, [0.5, 0.8, 1.0])
        finally:
            w.stop()

    def test_truncation_is_read_again(self):
        log = os.path.join(self.dir, "t.jsonl")
        append(log, turn(0, 300, 100) + turn(0, 50, 50))  # 500: 50 %
        w = Watch(["--from-start", "--budget", "total=1k", log])
        try:
            self.assertIsNotNone(w.wait_for(budget_alert(0.5)), w.seen)
            # Truncated, then one line (shorter than what the file held).
            with open(log, "w", encoding="utf-8") as f:
                f.write(turn(1, 300, 200))  # 1000: 80 % and 100 %
            a100 = w.wait_for(budget_alert(1.0))
            self.assertIsNotNone(a100, w.seen)
            self.assertEqual(a100["evidence"]["consumed"], 1000)
        finally:
            w.stop()

    def test_bad_flag_exits_2(self):
        r = subprocess.run([BIN, "watch", "--budget", "total=lots", self.dir],
                           capture_output=True, text=True, timeout=DEADLINE_S)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--budget: budget 'total=lots'", r.stderr)


if __name__ == "__main__":
    unittest.main()
