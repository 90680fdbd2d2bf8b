#!/usr/bin/env python3
"""Generates a Codex CLI sessions tree shaped like real Codex 0.10x logs, with
the ground truth of what was billed, and compares tokmeter (and ccusage, when
given) with that truth.

  codex_tree.py gen HOME [--days N] [--seed S] [--scale K]
      writes HOME/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl and HOME/truth.json
  codex_tree.py check --tokmeter BIN [--days N] [--seed S]
      gen into a temporary directory, then compare (a ctest: tests/readers)
  codex_tree.py compare HOME --tokmeter BIN [--ccusage BIN] [--pricing FILE]
      runs `tokmeter daily --format json` (and `ccusage codex daily --json`) on
      the tree, prints both against the truth per day; exit 1 when tokmeter's
      buckets or cost differ from the truth.

Each day holds sessions whose requests write a token_count event (cumulative
totals and the request's own usage) and, most of the time, the same event
again on a rate-limit update; an `info: null` count at the start of each file;
model switches; compactions (a zero-usage estimate with unchanged totals);
forked sub-agents (their own session_meta with forked_from_id, then a copy of
the parent's session_meta and history re-stamped at the fork instant, some
copies lasting over a second, then their own requests continuing from the
parent's totals); plain spawned sub-agents (counters from zero); and files cut
mid-line as if Codex were still writing them. The truth counts each request
once. Standard library only.
"""
import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys

MODELS = ["gpt-5-codex", "gpt-5.1-codex", "gpt-5.1-codex-mini", "gpt-5.2"]
EPOCH = dt.datetime(2026, 8, 3, tzinfo=dt.timezone.utc)


def ts(t):
    d = EPOCH + dt.timedelta(seconds=t)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def usage(u):
    return {"input_tokens": u[0], "cached_input_tokens": u[1], "output_tokens": u[2],
            "reasoning_output_tokens": u[3], "total_tokens": u[0] + u[2]}


def add(a, b):
    return tuple(x + y for x, y in zip(a, b))


class Thread:
    """One Codex thread (one rollout file)."""

    def __init__(self, rng, sid, cwd, start, model, meta_extra=None):
        self.rng, self.sid, self.cwd, self.model = rng, sid, cwd, model
        self.t = start
        self.lines = []      # (kind, time, obj): kind "own" or "copy"
        self.history = []    # lines a fork copies: (time, obj)
        self.totals = (0, 0, 0, 0)
        self.context = rng.randint(6000, 20000)
        self.requests = []   # (time, model, (in, cached, out, reasoning))
        meta = {"id": sid, "timestamp": ts(start), "cwd": cwd, "originator": "codex_cli_rs",
                "cli_version": "0.104.0", "instructions": None, "source": "cli",
                "model_provider": "openai",
                "git": {"commit_hash": "%040x" % rng.getrandbits(160), "branch": "main"}}
        if meta_extra:
            meta.update(meta_extra)
        self.emit({"type": "session_meta", "payload": meta}, copy=True)
        self.emit({"type": "event_msg", "payload": {"type": "token_count", "info": None,
                   "rate_limits": self.rate_limits()}}, copy=True, dt_=0.05)

    def rate_limits(self):
        return {"primary": {"used_percent": round(self.rng.uniform(1, 90), 1),
                            "window_minutes": 300, "resets_at": 1786000000},
                "secondary": {"used_percent": round(self.rng.uniform(1, 60), 1),
                              "window_minutes": 10080, "resets_at": 1786500000}}

    def emit(self, obj, copy=False, dt_=0.0):
        self.t += dt_
        line = dict(timestamp=ts(self.t), **obj)
        self.lines.append(("own", self.t, line))
        if copy:
            self.history.append(line)

    def turn(self, n_requests, switch_model=None):
        if switch_model:
            self.model = switch_model
        self.emit({"type": "turn_context", "payload": {"cwd": self.cwd, "approval_policy": "on-request",
                   "model": self.model, "effort": "medium", "summary": "auto"}}, copy=True,
                  dt_=self.rng.uniform(5, 120))
        self.emit({"type": "event_msg", "payload": {"type": "user_message",
                   "message": "please fix the failing test", "images": []}}, copy=True, dt_=0.002)
        for _ in range(n_requests):
            self.request()
        self.emit({"type": "event_msg", "payload": {"type": "agent_message",
                   "message": "Done."}}, copy=True, dt_=0.01)

    def request(self):
        r = self.rng
        self.context += r.randint(200, 3000)
        inp = self.context
        cached = min(inp, int(inp * r.uniform(0.5, 0.95)) // 64 * 64)
        out = r.randint(20, 1500)
        reasoning = r.randint(0, out)
        last = (inp, cached, out, reasoning)
        latency = r.uniform(1.5, 25)
        self.emit({"type": "response_item", "payload": {"type": "reasoning", "summary": [],
                   "content": None, "encrypted_content": "gAAAAB" + "x" * r.randint(50, 400)}},
                  dt_=latency * 0.7)
        self.emit({"type": "response_item", "payload": {"type": "function_call", "name": "shell",
                   "arguments": json.dumps({"command": ["bash", "-lc", "make test"]}),
                   "call_id": "call_%08x" % r.getrandbits(32)}}, dt_=latency * 0.3)
        self.totals = add(self.totals, last)
        self.requests.append((self.t, self.model, last))
        info = {"total_token_usage": usage(self.totals), "last_token_usage": usage(last),
                "model_context_window": 272000}
        self.emit({"type": "event_msg", "payload": {"type": "token_count", "info": info,
                   "rate_limits": self.rate_limits()}}, copy=True, dt_=0.001)
        if r.random() < 0.9:  # re-sent when the rate limits update
            self.emit({"type": "event_msg", "payload": {"type": "token_count", "info": info,
                       "rate_limits": self.rate_limits()}}, copy=True, dt_=r.uniform(0.01, 0.5))
        self.emit({"type": "response_item", "payload": {"type": "function_call_output",
                   "call_id": "call_x", "output": "ok " * r.randint(10, 300)}}, dt_=r.uniform(0.5, 5))

    def compact(self):
        self.emit({"type": "compacted", "payload": {"message": "summary of the work so far"}},
                  copy=True, dt_=self.rng.uniform(1, 5))
        est = self.rng.randint(10000, 60000)
        info = {"total_token_usage": usage(self.totals),
                "last_token_usage": {"input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0,
                                     "reasoning_output_tokens": 0, "total_tokens": est},
                "model_context_window": 272000}
        self.emit({"type": "event_msg", "payload": {"type": "token_count", "info": info,
                   "rate_limits": self.rate_limits()}}, copy=True, dt_=0.01)
        self.context = self.rng.randint(3000, 8000)

    def pad(self, n):
        """Reasoning summaries a large session writes (copied by a fork)."""
        for _ in range(n):
            self.emit({"type": "event_msg", "payload": {"type": "agent_reasoning",
                       "text": "thinking " * 20}}, copy=True, dt_=0.001)

    def fork(self, rng, sid, gap):
        """A forked child: its meta, then this thread's history re-stamped
        `gap` seconds apart from the fork instant, its counters continuing
        from this thread's totals."""
        start = self.t + rng.uniform(0.5, 3)
        child = Thread.__new__(Thread)
        child.rng, child.sid, child.cwd, child.model = rng, sid, self.cwd + "/sub", self.model
        child.t = start
        child.lines, child.history, child.requests = [], [], []
        child.totals = self.totals
        child.context = self.context
        meta = {"id": sid, "timestamp": ts(start), "cwd": child.cwd, "originator": "codex_cli_rs",
                "cli_version": "0.104.0", "source": {"subagent": {"thread_spawn": {
                    "parent_thread_id": self.sid, "depth": 1}}},
                "forked_from_id": self.sid, "model_provider": "openai"}
        child.emit({"type": "session_meta", "payload": meta}, copy=True)
        for line in self.history:
            copy = dict(line)
            child.t += gap
            copy["timestamp"] = ts(child.t)
            child.lines.append(("copy", child.t, copy))
            child.history.append(copy)
        return child

    def write(self, path, cut=False):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            for _, _, line in self.lines:
                f.write(json.dumps(line, separators=(",", ":")) + "\n")
            if cut:
                half = json.dumps({"timestamp": ts(self.t + 30), "type": "event_msg",
                                   "payload": {"type": "token_count", "info": {
                                       "total_token_usage": usage(add(self.totals, (9, 0, 9, 0)))}}},
                                  separators=(",", ":"))
                f.write(half[: len(half) // 2])


def rollout_path(home, start, sid):
    d = EPOCH + dt.timedelta(seconds=start)
    return os.path.join(home, ".codex", "sessions", d.strftime("%Y/%m/%d"),
                        "rollout-%s-%s.jsonl" % (d.strftime("%Y-%m-%dT%H-%M-%S"), sid))


def generate(home, days, seed, scale):
    rng = random.Random(seed)
    requests = []  # (time, model, usage)
    per_file = {}  # path under sessions/ -> what it holds
    counter = 0
    files = 0
    for day in range(days):
        for _ in range(int(rng.randint(3, 7) * scale)):
            counter += 1
            sid = "019a%04x-%04x-7000-8000-%012x" % (day, counter, rng.getrandbits(48))
            start = day * 86400 + rng.uniform(0, 20 * 3600)
            t = Thread(rng, sid, "/home/dev/proj%d" % rng.randint(1, 4), start, rng.choice(MODELS))
            children = []
            for k in range(rng.randint(2, 8)):
                switch = rng.choice(MODELS) if rng.random() < 0.15 else None
                t.turn(rng.randint(1, 6), switch)
                if rng.random() < 0.15:
                    t.compact()
                if rng.random() < 0.2:
                    # A large parent's copy lasts over a second.
                    if rng.random() < 0.5:
                        t.pad(rng.randint(2500, 4000))
                        gap = 0.0005
                    else:
                        gap = rng.uniform(0.0002, 0.003)
                    counter += 1
                    csid = "019b%04x-%04x-7000-8000-%012x" % (day, counter, rng.getrandbits(48))
                    child = t.fork(rng, csid, gap)
                    child.t += rng.uniform(0.001, 0.01)
                    for _ in range(rng.randint(1, 3)):
                        child.turn(rng.randint(1, 4),
                                   rng.choice(MODELS) if rng.random() < 0.3 else None)
                    children.append(child)
                if rng.random() < 0.1:
                    counter += 1
                    psid = "019c%04x-%04x-7000-8000-%012x" % (day, counter, rng.getrandbits(48))
                    plain = Thread(rng, psid, t.cwd, t.t + rng.uniform(0.5, 3), t.model,
                                   {"source": {"subagent": {"thread_spawn": {
                                       "parent_thread_id": t.sid, "depth": 1}}}})
                    plain.turn(rng.randint(1, 4))
                    children.append(plain)
            for th in [t] + children:
                # A live file is sometimes cut mid-line (its last request is
                # still counted: the cut line is a later one).
                path = rollout_path(home, th.lines[0][1], th.sid)
                th.write(path, cut=rng.random() < 0.05)
                requests.extend(th.requests)
                files += 1
                kind = ("fork" if any(k == "copy" for k, _, _ in th.lines)
                        else "plain-subagent" if th is not t else "thread")
                per_file[os.path.relpath(path, os.path.join(home, ".codex", "sessions"))] = {
                    "kind": kind, "requests": len(th.requests),
                    "copied_lines": sum(1 for k, _, _ in th.lines if k == "copy"),
                    "copy_seconds": round(max([tt for k, tt, _ in th.lines if k == "copy"], default=0)
                                          - th.lines[0][1], 3) if kind == "fork" else 0,
                    "tokens": sum(u[0] + u[2] for _, _, u in th.requests)}
    truth = {}
    for t, model, (inp, cached, out, reasoning) in requests:
        day = ts(t)[:10]
        d = truth.setdefault(day, {"input_tokens": 0, "cache_read_tokens": 0, "output_tokens": 0,
                                   "reasoning_tokens": 0, "requests": 0, "by_model": {}})
        d["input_tokens"] += inp - cached
        d["cache_read_tokens"] += cached
        d["output_tokens"] += out
        d["reasoning_tokens"] += reasoning
        d["requests"] += 1
        m = d["by_model"].setdefault(model, [0, 0, 0])
        m[0] += inp - cached
        m[1] += cached
        m[2] += out
    with open(os.path.join(home, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
    with open(os.path.join(home, "truth_files.json"), "w") as f:
        json.dump(per_file, f, indent=1, sort_keys=True)
    return files, len(requests)


def truth_cost(truth_day, pricing):
    prices = {m["id"]: m for m in pricing["models"]}
    cost = 0.0
    for model, (inp, cached, out) in truth_day["by_model"].items():
        p = prices[model]
        cost += (inp * p["input"] + cached * p.get("cache_read", p["input"]) + out * p["output"]) / 1e6
    return cost


BUCKETS = [("input_tokens", "inputTokens"), ("cache_read_tokens", "cacheReadTokens"),
           ("output_tokens", "outputTokens"), ("reasoning_tokens", "reasoningOutputTokens")]


def compare(home, tokmeter, ccusage, pricing_path):
    truth = json.load(open(os.path.join(home, "truth.json")))
    pricing = json.load(open(pricing_path))
    sessions = os.path.join(home, ".codex", "sessions")
    doc = json.loads(subprocess.run([tokmeter, "daily", "--format", "json", "--tz", "UTC", sessions],
                                    check=True, capture_output=True, text=True).stdout)
    tm = {r["date"]: r for r in doc["rows"]}
    cc = {}
    if ccusage:
        env = dict(os.environ, HOME=home, CODEX_HOME=os.path.join(home, ".codex"))
        out = subprocess.run([ccusage, "codex", "daily", "--json", "--offline", "--timezone", "UTC"],
                             env=env, capture_output=True, text=True)
        if out.returncode == 0:
            cc = {r["date"]: r for r in json.loads(out.stdout)["daily"]}
        else:
            print("ccusage failed:", out.stderr.strip()[:300])
    bad = 0
    cc_diff_days = 0
    print("%-10s %-18s %14s %14s %14s %12s" % ("date", "bucket", "truth", "tokmeter", "ccusage", "cost"))
    totals = {"truth": 0, "tokmeter": 0, "ccusage": 0}
    for day in sorted(set(truth) | set(tm)):
        t = truth.get(day, {})
        r = tm.get(day, {})
        c = cc.get(day, {})
        cost_t = truth_cost(t, pricing) if t else 0.0
        cost_r = r.get("cost_usd", 0.0)
        for ours, theirs in BUCKETS:
            tv, rv, cv = t.get(ours, 0), r.get(ours, 0), c.get(theirs, "-")
            mark = "" if tv == rv else "  << tokmeter differs"
            if tv != rv:
                bad += 1
            if cc and cv != tv:
                cc_diff_days += 1
                mark += "  (ccusage differs)"
            print("%-10s %-18s %14d %14d %14s %12s%s" % (
                day, ours, tv, rv, cv, ("%.6f/%.6f" % (cost_t, cost_r)) if ours == "input_tokens" else "", mark))
        if t.get("requests", 0) != r.get("requests", 0):
            bad += 1
            print("%-10s requests: truth %d, tokmeter %d" % (day, t.get("requests", 0), r.get("requests", 0)))
        if abs(cost_t - cost_r) > 1e-6:
            bad += 1
            print("%-10s cost: truth %.6f, tokmeter %.6f" % (day, cost_t, cost_r))
        totals["truth"] += sum(t.get(o, 0) for o, _ in BUCKETS[:3])
        totals["tokmeter"] += sum(r.get(o, 0) for o, _ in BUCKETS[:3])
        totals["ccusage"] += sum(c.get(x, 0) for _, x in BUCKETS[:3]) if c else 0
    if cc:
        explain_ccusage(home, ccusage, env)
    print("total tokens (input + cache read + output): truth %d, tokmeter %d, ccusage %s" % (
        totals["truth"], totals["tokmeter"], totals["ccusage"] if cc else "-"))
    print("tokmeter: %s; ccusage: %s" % (
        "exact on every day and bucket" if bad == 0 else "%d differences" % bad,
        "-" if not cc else ("exact" if cc_diff_days == 0 else "%d day/bucket differences" % cc_diff_days)))
    return 0 if bad == 0 else 1


def explain_ccusage(home, ccusage, env):
    """Where ccusage differs, by kind of file (ccusage's session view against
    the generator's per-file truth)."""
    out = subprocess.run([ccusage, "codex", "session", "--json", "--offline", "--timezone", "UTC"],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        return
    files = json.load(open(os.path.join(home, "truth_files.json")))
    got = {s["sessionId"] + ".jsonl": s["totalTokens"] for s in json.loads(out.stdout)["sessions"]}
    kinds = {}
    for path, f in files.items():
        k = kinds.setdefault(f["kind"], [0, 0, 0, 0])
        k[0] += 1
        diff = got.get(path, 0) - f["tokens"]
        if diff:
            k[1] += 1
            k[2] += diff
            k[3] += f["requests"]
    for kind, (n, differ, diff, reqs) in sorted(kinds.items()):
        print("ccusage per file: %-15s %3d files, %3d differ from the truth (%+d tokens)" % (
            kind, n, differ, diff))


def default_pricing():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "pricing.json")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("home")
    g.add_argument("--days", type=int, default=14)
    g.add_argument("--seed", type=int, default=7)
    g.add_argument("--scale", type=float, default=1.0)
    k = sub.add_parser("check")
    k.add_argument("--tokmeter", required=True)
    k.add_argument("--days", type=int, default=5)
    k.add_argument("--seed", type=int, default=3)
    c = sub.add_parser("compare")
    c.add_argument("home")
    c.add_argument("--tokmeter", required=True)
    c.add_argument("--ccusage")
    c.add_argument("--pricing", default=default_pricing())
    a = ap.parse_args()
    if a.cmd == "gen":
        files, n = generate(a.home, a.days, a.seed, a.scale)
        print("wrote %d files, %d requests under %s" % (files, n, os.path.join(a.home, ".codex")))
        return 0
    if a.cmd == "check":
        import tempfile
        with tempfile.TemporaryDirectory() as home:
            generate(home, a.days, a.seed, 1.0)
            return compare(home, a.tokmeter, None, default_pricing())
    return compare(a.home, a.tokmeter, a.ccusage, a.pricing)


if __name__ == "__main__":
    sys.exit(main())
