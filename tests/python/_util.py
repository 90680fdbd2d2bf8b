"""Helpers shared by the tokmeter Python tests."""

import json
import os
import shutil
import tempfile
import unittest

import tokmeter


def read_jsonl(path):
    """Every record of a JSONL file (fails the test on a malformed line)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError as e:
                    raise AssertionError(f"{path}:{n}: bad JSON line {line!r}") from e
    return out


def spans_of(records):
    return [r for r in records if r.get("type") == "span"]


class TempDirTestCase(unittest.TestCase):
    """A fresh directory per test (self.dir; self.path is usage.jsonl in it),
    removed after the test, once any runtime the test started is shut down."""

    prefix = "tokmeter_py_"

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix=self.prefix)
        self.path = os.path.join(self.dir, "usage.jsonl")

    def tearDown(self):
        tokmeter.shutdown()
        shutil.rmtree(self.dir, ignore_errors=True)


class RuntimeTestCase(TempDirTestCase):
    """Starts a runtime (memory sink + JSONL file) per test, shuts it down after."""

    jsonl = True

    def setUp(self):
        super().setUp()
        tokmeter.start(self.path if self.jsonl else None, memory=True, flush_interval=0.05)

    def spans(self):
        tokmeter.flush()
        return tokmeter.memory_spans()

    def span_named(self, name):
        found = [s for s in self.spans() if s["name"] == name]
        self.assertEqual(len(found), 1, f"spans named {name!r}: {found}")
        return found[0]
