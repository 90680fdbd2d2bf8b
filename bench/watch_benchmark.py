"""`tokmeter watch` keeping up with appended lines (run by bench/watch_benchmark.sh).

    watch_benchmark.py TOKMETER [LINES=2000000] [RATE=200000] [SESSIONS=500]

Generates LINES tokmeter JSONL lines (a trace line every 20, then llm and
tool spans, children of the trace's span: one turn per trace; the traces
belong to SESSIONS sessions in turn; deterministic), starts `tokmeter watch
--from-start --format json --interval 100ms --budget total=T` on an empty
file, where T is the tokens of all the lines, and appends the lines:
  paced   RATE lines/s (chunks every 50 ms): the lag from the last write to
          the 100 % alert (which the last line triggers) says whether watch
          keeps up;
  burst   as fast as the writer can: lines / (first write → 100 % alert) is
          watch's throughput.
Each run is a fresh process; its peak RSS is VmHWM read just before it is
stopped.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time


def make_lines(n, sessions):
    x = 0x9E3779B97F4A7C15
    out = []
    total = 0
    trace = ""
    turn = 0
    for i in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) & ((1 << 64) - 1)
        r = x >> 33
        ts = "2026-11-23T%02d:%02d:%02d.%03dZ" % (9 + i // 3600000 % 10, i // 60000 % 60,
                                                  i // 1000 % 60, i % 1000)
        if i % 20 == 0 and i != n - 1:
            trace = "%032x" % (r * 2654435761 + i)
            turn = i + 1  # the trace's span: the turn its spans belong to
            out.append('{"type":"trace","trace_id":"%s","span_id":"%016x","timestamp":"%s",'
                       '"kind":"session","name":"s-%d","tags":{"session":"s-%d",'
                       '"workflow":"wf-%d"}}\n' % (trace, i + 1, ts, i, i // 20 % sessions, i % 7))
            continue
        if r % 10 < 7 or i == n - 1:
            tin, tout = 1 + r % 900, 10 + (r >> 10) % 3000
            total += tin + tout
            out.append('{"type":"span","timestamp":"%s","start":"%s","duration_ms":%d.125,'
                       '"trace_id":"%s","span_id":"%016x","parent_id":"%016x","kind":"llm",'
                       '"name":"messages","provider":"anthropic","model":"claude-sonnet-4-5",'
                       '"status":200,"input_tokens":%d,"output_tokens":%d,"requests":1,'
                       '"fingerprint":"%016x","tags":{"channel":"cli"}}\n'
                       % (ts, ts, 10 + r % 9000, trace, i + 1, turn, tin, tout, r))
        else:
            out.append('{"type":"span","timestamp":"%s","start":"%s","duration_ms":%d.125,'
                       '"trace_id":"%s","span_id":"%016x","parent_id":"%016x","kind":"tool",'
                       '"name":"Bash","tool":"Bash","tool_calls":1,"fingerprint":"%016x",'
                       '"tags":{"channel":"cli"}}\n' % (ts, ts, 10 + r % 9000, trace, i + 1, turn, r))
    return out, total


def vm_hwm_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(cli, lines, total, rate):
    d = tempfile.mkdtemp(prefix="tokmeter_watch_bench_")
    path = os.path.join(d, "spans.jsonl")
    open(path, "w").close()
    p = subprocess.Popen([cli, "watch", "--from-start", "--format", "json", "--interval", "100ms",
                          "--budget", "total=%d" % total, path],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    done = threading.Event()
    at = {}

    def reader():
        for line in p.stdout:
            if '"threshold":1' in line and '"rule":"budget"' in line:
                at["t"] = time.monotonic()
                done.set()
    threading.Thread(target=reader, daemon=True).start()
    time.sleep(0.5)  # its first Poll (reading from the start: no race either way)
    chunk = max(1, rate // 20) if rate else 20000
    blobs = ["".join(lines[i:i + chunk]) for i in range(0, len(lines), chunk)]
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    t0 = time.monotonic()
    for k, b in enumerate(blobs):
        if rate:
            wait = t0 + k * chunk / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        os.write(fd, b.encode())
    t_written = time.monotonic()
    os.close(fd)
    ok = done.wait(120)
    hwm = vm_hwm_mib(p.pid)
    p.kill()
    p.wait()
    os.unlink(path)
    os.rmdir(d)
    if not ok:
        return None
    return t0, t_written, at["t"], hwm


def main():
    cli = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000_000
    rate = int(sys.argv[3]) if len(sys.argv) > 3 else 200_000
    sessions = int(sys.argv[4]) if len(sys.argv) > 4 else 500
    lines, total = make_lines(n, sessions)
    nbytes = sum(len(x) for x in lines)
    print("%d tokmeter JSONL lines (%.0f MB), %d sessions, %d tokens; target: keeps up with "
          ">= 200k lines/s, < 64 MiB RSS" % (n, nbytes / 1e6, sessions, total))
    r = run(cli, lines, total, rate)
    if r is None:
        print("paced %d lines/s: no 100%% alert within 120 s after the last write" % rate)
    else:
        t0, tw, ta, hwm = r
        print("paced  %7d lines/s for %5.2f s: 100%% alert %.3f s after the last write; "
              "watch peak RSS %.1f MiB" % (n / (tw - t0), tw - t0, ta - tw, hwm))
    r = run(cli, lines, total, 0)
    if r is None:
        print("burst: no 100% alert within 120 s after the last write")
    else:
        t0, tw, ta, hwm = r
        print("burst  written in %.2f s (%d lines/s); watch through all in %.2f s: %d lines/s "
              "(%.0f MB/s); watch peak RSS %.1f MiB"
              % (tw - t0, n / (tw - t0), ta - t0, n / (ta - t0), nbytes / (ta - t0) / 1e6, hwm))


if __name__ == "__main__":
    main()
