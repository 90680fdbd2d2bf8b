#!/usr/bin/env python3
"""tokmeter blocks vs ccusage blocks, used by bench/ccusage_compare.sh.

  ccusage_blocks.py gen-edge DIR        writes DIR/.claude/projects/...: Claude Code
                                        transcripts with the cases where block rules
                                        can differ (deterministic)
  ccusage_blocks.py compare TM CC       compares `tokmeter blocks --format json` (TM)
                                        with `ccusage blocks --json` (CC): boundaries,
                                        entries, tokens, cost; prints every difference
                                        and a verdict line

Differences and why are in docs/BLOCKS.md.
"""
import json
import os
import random
import sys
from datetime import datetime, timedelta, timezone


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def line(t, mid, usage, session, req=True, sidechain=False, model="claude-sonnet-4-5-20250929"):
    d = {
        "parentUuid": None,
        "isSidechain": sidechain,
        "message": {"model": model, "id": mid, "type": "message", "role": "assistant",
                    "content": [], "stop_reason": "end_turn", "usage": usage},
        "type": "assistant",
        "uuid": "u-" + mid + ("-s" if sidechain else ""),
        "timestamp": iso(t),
        "cwd": "/home/dev/edge",
        "sessionId": session,
        "version": "2.1.200",
    }
    if req:
        d["requestId"] = "req_" + mid
    return json.dumps(d, separators=(",", ":")) + "\n"


def usage(rng, out=None):
    return {"input_tokens": rng.randint(1, 60), "cache_creation_input_tokens": rng.randint(0, 4000),
            "cache_read_input_tokens": rng.randint(1000, 90000),
            "output_tokens": out if out is not None else rng.randint(20, 3000)}


def gen_edge(home):
    rng = random.Random(16)
    root = os.path.join(home, ".claude", "projects", "-home-dev-edge")
    os.makedirs(root, exist_ok=True)
    day0 = datetime(2026, 11, 2, tzinfo=timezone.utc)
    n = 0
    files = {}

    def emit(name, text):
        files[name] = files.get(name, "") + text

    for d in range(12):
        session = f"edge-{d:02d}"
        name = session + ".jsonl"
        # Planted boundaries: a first message at hh:17, one exactly 5 h after
        # the block start (its end), one exactly 5 h after the previous
        # message, and one a millisecond before a block's end.
        start = day0 + timedelta(days=d, hours=8 + d % 5, minutes=17)
        block = start.replace(minute=0, second=0, microsecond=0)
        times = [start]
        t = start
        for _ in range(rng.randint(20, 60)):
            gap = rng.choice([rng.randint(5, 600), rng.randint(60, 3600), rng.randint(3600, 3 * 3600)])
            t = t + timedelta(seconds=gap, milliseconds=rng.randint(0, 999))
            times.append(t)
        if d % 3 == 0:
            times.append(block + timedelta(hours=5))  # exactly the block's end
        if d % 3 == 1:
            times.append(times[-1] + timedelta(hours=5))  # exactly 5 h after the previous
        if d % 3 == 2:
            times.append(block + timedelta(hours=5) - timedelta(milliseconds=1))
        times.sort()
        req = d % 4 != 3  # some sessions without requestId
        for t in times:
            n += 1
            mid = f"msg_edge_{n:05d}"
            u = usage(rng)
            # Streaming snapshots: a placeholder output first, then the final.
            emit(name, line(t - timedelta(milliseconds=300), mid, dict(u, output_tokens=3), session, req))
            emit(name, line(t, mid, u, session, req))
        if d % 4 in (1, 3):
            # A resumed session: a new file that starts with a copy of this one
            # (with requestId for d % 4 == 1, without for d % 4 == 3).
            emit(f"edge-{d:02d}-resumed.jsonl", files[name][: len(files[name]) // 2])
    for name, text in files.items():
        with open(os.path.join(root, name), "w") as f:
            f.write(text)
    print(f"gen-edge: {len(files)} files, {n} messages in {root}")


def compare(tm_path, cc_path):
    tm = json.load(open(tm_path))["blocks"]
    cc = [b for b in json.load(open(cc_path))["blocks"] if not b.get("isGap")]
    gaps = len(json.load(open(cc_path))["blocks"]) - len(cc)

    def norm(s):
        return s.replace(".000Z", "Z")

    a = {b["start"]: b for b in tm}
    c = {norm(b["startTime"]): b for b in cc}
    same = 0
    diffs = []
    max_cost_rel = 0.0
    for start in sorted(set(a) | set(c)):
        x, y = a.get(start), c.get(start)
        if x is None or y is None:
            who = "tokmeter" if y is None else "ccusage"
            b = x or y
            diffs.append(f"block {start}: only {who} ({b.get('entries')} entries, "
                         f"{b.get('total_tokens', b.get('totalTokens'))} tokens)")
            continue
        tc = y["tokenCounts"]
        cc_split = (tc["inputTokens"], tc["outputTokens"], tc["cacheReadInputTokens"],
                    tc["cacheCreationInputTokens"])
        tm_split = (x["input_tokens"], x["output_tokens"], x["cache_read_tokens"],
                    x["cache_write_tokens"])
        if (x["entries"], x["total_tokens"], tm_split) != (y["entries"], y["totalTokens"], cc_split):
            diffs.append(f"block {start}: tokmeter {x['entries']} entries {x['total_tokens']} tokens "
                         f"{tm_split}; ccusage {y['entries']} entries {y['totalTokens']} tokens "
                         f"{cc_split}")
            continue
        if norm(y["endTime"]) != x["end"]:
            diffs.append(f"block {start}: end {x['end']} vs {y['endTime']}")
            continue
        same += 1
        if x["cost_usd"] and y["costUSD"]:
            max_cost_rel = max(max_cost_rel, abs(x["cost_usd"] - y["costUSD"]) / y["costUSD"])
    print(f"blocks: tokmeter {len(tm)}, ccusage {len(cc)} (+{gaps} gap blocks, which tokmeter "
          f"does not list); identical boundaries, entries and tokens: {same}; "
          f"max cost difference {max_cost_rel * 100:.3f} %")
    for d in diffs:
        print("  DIFF " + d)
    print("verdict: " + ("equal" if not diffs else f"{len(diffs)} difference(s), see docs/BLOCKS.md"))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "gen-edge":
        gen_edge(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
