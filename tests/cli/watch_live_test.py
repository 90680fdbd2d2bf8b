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


def is_budget_alert(o):
    return o.get("type") == "alert" and o.get("rule") == "budget"


def budget_alert(threshold):
    return lambda o: is_budget_alert(o) and o.get("threshold") == threshold


def budget_thresholds(seen):
    """The thresholds of the budget alerts among the lines seen, in order."""
    return [o["threshold"] for o in seen if is_budget_alert(o)]


class WatchLiveTest(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tokmeter_watch_")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def watch(self, path):
        """`tokmeter watch` of `path` from the start with a 1k total budget,
        killed when the test ends (before its directory is removed)."""
        w = Watch(["--from-start", "--budget", "total=1k", path])
        self.addCleanup(w.stop)
        return w

    def expect_budget_alert(self, w, threshold, timestamp=None, consumed=None):
        """Waits for the budget alert at `threshold`; checks its timestamp and
        consumed tokens where given. Returns it."""
        alert = w.wait_for(budget_alert(threshold))
        self.assertIsNotNone(alert, w.seen)
        if timestamp is not None:
            self.assertEqual(alert["timestamp"], timestamp)
        if consumed is not None:
            self.assertEqual(alert["evidence"]["consumed"], consumed)
        return alert

    def test_appended_lines_and_a_new_file_raise_alerts(self):
        log = os.path.join(self.dir, "a.jsonl")
        append(log, turn(0, 300, 100))  # 400 of 1000
        w = self.watch(self.dir)
        append(log, turn(1, 100, 100))  # 600: 50 %
        self.expect_budget_alert(w, 0.5, "2026-11-23T09:01:00+00:00", 600)
        # A file that appears in the followed directory.
        append(os.path.join(self.dir, "b.jsonl"), turn(2, 300, 100, session="s-2"))  # 1000
        self.expect_budget_alert(w, 1.0, "2026-11-23T09:02:00+00:00", 1000)
        # 80 % was crossed by the same record, once.
        self.assertEqual(budget_thresholds(w.seen), [0.5, 0.8, 1.0])

    def test_rotation(self):
        log = os.path.join(self.dir, "app.jsonl")
        append(log, turn(0, 200, 100))  # 300
        w = self.watch(log)
        append(log, turn(1, 200, 100))  # 600: 50 %
        self.expect_budget_alert(w, 0.5)
        # logrotate: the file is renamed and a new one starts at the path.
        os.rename(log, log + ".1")
        append(log, turn(2, 300, 100))  # 1000: 80 % and 100 %
        self.expect_budget_alert(w, 1.0, "2026-11-23T09:02:00+00:00", 1000)
        self.assertEqual(budget_thresholds(w.seen), [0.5, 0.8, 1.0])

    def test_truncation_is_read_again(self):
        log = os.path.join(self.dir, "t.jsonl")
        append(log, turn(0, 300, 100) + turn(0, 50, 50))  # 500: 50 %
        w = self.watch(log)
        self.expect_budget_alert(w, 0.5)
        # Truncated, then one line (shorter than what the file held).
        with open(log, "w", encoding="utf-8") as f:
            f.write(turn(1, 300, 200))  # 1000: 80 % and 100 %
        self.expect_budget_alert(w, 1.0, consumed=1000)

    def test_bad_flag_exits_2(self):
        r = subprocess.run([BIN, "watch", "--budget", "total=lots", self.dir],
                           capture_output=True, text=True, timeout=DEADLINE_S)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--budget: budget 'total=lots'", r.stderr)


if __name__ == "__main__":
    unittest.main()
