"""Cost of a Python `with tokmeter.span(...)` adding 4 counters (target <= 1 us).

Run: PYTHONPATH=<build>/bindings/python /usr/bin/python3 bench/python_span_bench.py
"""

import os
import sys
import tempfile
import time
import timeit
import warnings

import tokmeter

N = 200_000
REPEAT = 5


def bench(label, stmt, setup_globals):
    # CPU time of this thread (time.thread_time): on a shared, loaded machine
    # wall time mostly measures other processes; both are printed.
    cpu = timeit.repeat(stmt, globals=setup_globals, number=N, repeat=REPEAT,
                        timer=time.thread_time)
    wall = timeit.repeat(stmt, globals=setup_globals, number=N, repeat=REPEAT)
    best = min(cpu) / N * 1e9
    print(f"{label:<48} {best:7.0f} ns/op thread CPU  {min(wall) / N * 1e9:7.0f} ns/op wall"
          f"  (best of {REPEAT} x {N})")
    return best


def main():
    g = {"tokmeter": tokmeter}
    span_4 = (
        "with tokmeter.span('tool', 'search') as s:\n"
        "    s.add('input_tokens', 10); s.add('output_tokens', 20)\n"
        "    s.add('cache_read_tokens', 30); s.add('tool_calls', 1)\n"
    )
    warnings.simplefilter("ignore", tokmeter.TokmeterWarning)  # not recording, on purpose
    bench("not recording: span + 4 counters", span_4, g)
    path = os.path.join(tempfile.mkdtemp(), "bench.jsonl")
    # Default 1 MiB ring: the flusher is woken at half full; drops are reported.
    tokmeter.start(path)
    bench("baseline: empty `with` of a Python class", "with cm: pass",
          {"cm": type("CM", (), {"__enter__": lambda s: s, "__exit__": lambda s, *a: None})()})
    bench("recording: span, no counters", "with tokmeter.span('tool', 'search'): pass", g)
    best = bench("recording: span + 4 counters", span_4, g)
    with tokmeter.trace("session", "bench"):
        bench("recording: span + 4 counters inside a trace", span_4, g)
    tokmeter.flush()
    st = tokmeter.stats()
    print(f"spans={st['spans']} dropped={st['dropped']}")
    tokmeter.shutdown()
    return 0 if best <= 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
