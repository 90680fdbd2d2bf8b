"""Process life: interpreter exit with data pending, os.fork(), python -m tokmeter."""

import os
import subprocess
import sys
import textwrap
import unittest

import tokmeter
from _util import TempDirTestCase, read_jsonl, spans_of


def run_python(code, timeout=60):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=timeout)


class ExitTest(TempDirTestCase):
    prefix = "tokmeter_exit_"

    def test_exit_with_pending_data_loses_nothing(self):
        # A one-hour flush interval: nothing is written until exit.
        r = run_python(f"""
            import threading, tokmeter
            tokmeter.start({self.path!r}, flush_interval=3600)
            with tokmeter.trace("session", "exit"):
                for i in range(5000):
                    with tokmeter.span("tool", "s") as s:
                        s.add("input_tokens", 1)
            def worker():
                for i in range(1000):
                    with tokmeter.span("tool", "w"):
                        pass
            t = threading.Thread(target=worker); t.start(); t.join()
            # Still open at exit, in a daemon thread that never finishes:
            ev = threading.Event()
            def stuck():
                with tokmeter.span("tool", "stuck"):
                    ev.wait()
            threading.Thread(target=stuck, daemon=True).start()
            print("done")
        """)
        self.assertEqual(r.returncode, 0, r.stderr)
        spans = spans_of(read_jsonl(self.path))
        names = [s["name"] for s in spans]
        self.assertEqual(names.count("s"), 5000)
        self.assertEqual(names.count("w"), 1000)
        self.assertEqual(names.count("exit"), 1)
        self.assertNotIn("stuck", names)  # open at shutdown: not recorded, and no hang

    def test_exit_via_system_exit(self):
        r = run_python(f"""
            import tokmeter, sys
            tokmeter.start({self.path!r}, flush_interval=3600)
            with tokmeter.span("tool", "before-error"):
                pass
            raise SystemExit(3)
        """)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual([s["name"] for s in spans_of(read_jsonl(self.path))], ["before-error"])


@unittest.skipUnless(hasattr(os, "fork"), "needs os.fork")
class ForkTest(TempDirTestCase):
    prefix = "tokmeter_fork_"

    def test_child_records_after_fork(self):
        tokmeter.start(self.path, flush_interval=0.05)
        with tokmeter.trace("session", "parent") as t:
            with tokmeter.span("tool", "before-fork"):
                pass
            pid = os.fork()
            if pid == 0:  # child: must never return into unittest
                code = 1
                try:
                    with tokmeter.span("tool", "in-child") as s:
                        s.add("input_tokens", 7)
                    with tokmeter.trace("session", "child-trace"):
                        with tokmeter.span("tool", "child-nested"):
                            pass
                    tokmeter.shutdown()
                    code = 0
                finally:
                    os._exit(code)
            with tokmeter.span("tool", "after-fork"):
                pass
            _, status = os.waitpid(pid, 0)
            self.assertEqual(os.waitstatus_to_exitcode(status), 0)
            trace_id = t.trace_id
        tokmeter.shutdown()
        records = spans_of(read_jsonl(self.path))
        spans = {s["name"]: s for s in records}
        for name in ("before-fork", "after-fork", "in-child", "child-nested", "parent"):
            self.assertIn(name, spans)
        self.assertEqual(spans["in-child"]["trace_id"], trace_id)  # the child keeps the trace
        self.assertEqual(spans["in-child"]["input_tokens"], 7)
        self.assertEqual(spans["child-nested"]["parent_id"], spans["child-trace"]["span_id"])
        names = [s["name"] for s in records]
        self.assertEqual(names.count("before-fork"), 1)  # not duplicated by the child
        self.assertEqual(names.count("in-child"), 1)

    def test_fork_in_subprocess_exit_paths(self):
        r = run_python(f"""
            import os, tokmeter
            tokmeter.start({self.path!r}, flush_interval=3600)
            with tokmeter.span("tool", "parent-pending"):
                pass
            pid = os.fork()
            if pid == 0:
                with tokmeter.span("tool", "child-pending"):
                    pass
                raise SystemExit(0)  # normal exit: atexit flushes the child's records
            os.waitpid(pid, 0)
        """)
        self.assertEqual(r.returncode, 0, r.stderr)
        names = [s["name"] for s in spans_of(read_jsonl(self.path))]
        self.assertEqual(sorted(names), ["child-pending", "parent-pending"])


class CommandLineTest(unittest.TestCase):
    @unittest.skipUnless(tokmeter._tokmeter.has_cli, "built without tokmeter_cli")
    def test_python_m_tokmeter(self):
        r = subprocess.run([sys.executable, "-m", "tokmeter", "--help"], capture_output=True,
                           text=True, timeout=60,
                           env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("tokmeter", r.stdout + r.stderr)

    def test_without_cli_raises(self):
        if tokmeter._tokmeter.has_cli:
            self.skipTest("built with tokmeter_cli")
        with self.assertRaises(RuntimeError):
            tokmeter.run(["--help"])


if __name__ == "__main__":
    unittest.main()
