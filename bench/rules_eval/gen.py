#!/usr/bin/env python3
"""Labeled days of agent traffic, for evaluating the detector rules.

    gen.py OUTDIR --days N --seed S [--inject all|none|KIND,...] [--scale F]

Writes OUTDIR/day-XXX/ for N clean days, then one injected day per
(pathology, strength) asked for. Each day holds the SAME traffic in four
input formats:

    tokmeter/usage.jsonl                          tokmeter JSONL (docs/FORMAT.md)
    turn_summary/turns.jsonl                      agent runtimes' turn_summary lines
    token_usage/runs/{workflow}/{run}/token-usage.jsonl   (read with --path-tags)
    claude/projects/<project>/<session>.jsonl     Claude Code transcripts

plus OUTDIR/labels.json: per day, per format, the injected pathologies (rule
kind, strength, the keys naming the culprit, the time range) and the
generator's own totals per format (tokens, requests, 429s, lines).

Python standard library only. Every threshold the injections are sized
against is in RULES below, and every strength in STRENGTHS: change them to
follow the rules as they are finally written.
"""

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import random
import shutil
import sys

# ---------------------------------------------------------------------------
# The rules being written, as the injections are sized against them. ONE place.
RULES = {
    "window_s": 300,  # spike and retry_storm windows (5 minutes)
    # spike: a burst's 5-minute windows >= median_multiple x the trailing
    # median window and >= p95_multiple x the trailing p95, over the windows
    # with interactive (not only background) use.
    "spike": {"median_multiple": 10.0, "p95_multiple": 5.0, "min_minutes": 5, "max_minutes": 20},
    # loop: the same call (fingerprint, or tool + args) >= repeats times in one
    # session within within_s; without fingerprints, >= near_identical
    # consecutive turns/requests spaced <= max_gap_s, same tool_calls, prompt
    # within prompt_tol, output within output_tol.
    "loop": {"repeats": 5, "within_s": 1800, "near_identical": 8, "max_gap_s": 120,
             "prompt_tol": 0.03, "output_tol": 0.10},
    # context_bloat: over <= max_steps consecutive turns, the median of the
    # last three prompts >= growth x the median of the first three, >=
    # increasing_share of steps increasing, no step more than max_step_share
    # of the growth, the last two prompts >= min_last.
    "context_bloat": {"growth": 3.0, "max_steps": 24, "min_steps": 8, "increasing_share": 0.8,
                      "max_step_share": 0.4, "min_last": 180_000},
    # retry_storm: >= min_429 HTTP 429s within within_s.
    "retry_storm": {"min_429": 5, "within_s": 300},
    # fanout: one turn with >= p95_multiple x the tool calls of the p95 turn
    # of the previous `history` turns that used tools, and >= min_tool_calls
    # (>= short_history_min with fewer than min_history such turns).
    "fanout": {"min_tool_calls": 40, "p95_multiple": 5.0, "history": 200, "min_history": 30,
               "short_history_min": 60},
    # background: one cron job or heartbeat session's tokens in hours without
    # interactive use >= min_idle_tokens and >= min_idle_share of all tokens.
    "background": {"min_idle_tokens": 100_000, "min_idle_share": 0.10,
                   "min_tokens_per_idle_hour": 40_000},
    # cache_miss_streak: >= min_requests consecutive requests of one session,
    # each within the cache TTL of the previous, with prompt >= min_prompt and
    # zero cache reads.
    "cache_miss_streak": {"min_requests": 5, "min_prompt": 10_000},
    # low_cache: a group's cache_read / (cache_read + input) below max_hit_rate.
    "low_cache": {"max_hit_rate": 0.90},
    # large_run: one workflow run over min_tokens.
    "large_run": {"min_tokens": 3_000_000},
    # output_ratio_rise: after >= baseline normal requests, >= min_requests
    # consecutive requests with output/prompt >= ratio_multiple x the
    # baseline median and >= min_output output tokens each.
    "output_ratio_rise": {"baseline": 8, "min_requests": 5, "ratio_multiple": 4.0,
                          "min_output": 2000},
}

# How strong each injection is, per strength. "documented" must fire,
# "below" must not; values are derived from RULES where they can be.
STRENGTHS = {
    # x the documented minimum window (max of the two multiples).
    "spike": {"below": 0.3, "documented": 1.5},
    # repeats; "between" fires with fingerprints only (>= repeats, < near_identical).
    "loop": {"below": RULES["loop"]["repeats"] - 1,
             "between": RULES["loop"]["repeats"] + 1,
             "documented": RULES["loop"]["near_identical"] + 2},
    # growth over the bloat steps, and the steps.
    "context_bloat": {"below": 2.2, "documented": 6.0, "steps": 10},
    "retry_storm": {"below": RULES["retry_storm"]["min_429"] - 2,
                    "documented": RULES["retry_storm"]["min_429"] + 4},
    # x the documented minimum (max of min_tool_calls and p95_multiple x p95).
    "fanout": {"below": 0.5, "documented": 1.3},
    # share of the day's tokens spent by the job in idle hours.
    "background": {"below": 0.02, "documented": 0.12, "documented_heartbeat": 0.12},
    "cache_miss_streak": {"below": RULES["cache_miss_streak"]["min_requests"] - 2,
                          "documented": RULES["cache_miss_streak"]["min_requests"] + 2},
    # the group's hit rate
    "low_cache": {"below": 0.95, "documented": 0.70},
    # the run's tokens
    "large_run": {"below": 2_000_000, "documented": 4_500_000},
    # consecutive high-output requests, each at ratio_x the baseline ratio
    "output_ratio_rise": {"below": RULES["output_ratio_rise"]["min_requests"] - 2,
                          "documented": RULES["output_ratio_rise"]["min_requests"] + 1,
                          "ratio_x": 8.0},
}

# Which formats can show each pathology (the fields the rule needs).
FORMATS = ("tokmeter", "turn_summary", "token_usage", "claude")
ALL = FORMATS
APPLIES = {
    "spike": ALL,
    "loop": ALL,
    "context_bloat": ALL,
    "retry_storm": ("tokmeter", "turn_summary", "claude"),  # token-usage records 2xx only
    "fanout": ("tokmeter", "turn_summary", "claude"),
    "background": ("tokmeter", "turn_summary"),  # job / heartbeat tags
    "cache_miss_streak": ("tokmeter", "token_usage", "claude"),  # cache fields
    "low_cache": ("tokmeter", "token_usage"),  # workflows
    "large_run": ("tokmeter", "token_usage"),  # runs
    "output_ratio_rise": ALL,
}
PATHOLOGIES = tuple(APPLIES)

# The clean traffic: an ordinary team's day.
CLEAN = {
    "interactive_sessions": 14,  # mean per weekday (Poisson); weekends x weekend_factor
    "weekend_factor": 0.3,
    "workflow_runs": 10,  # CI agent workflows per weekday
    "ordinary_429s": 3,  # isolated 429s per day (mean)
    "heartbeat_every_s": 1800,
    "compact_at": (140_000, 170_000),  # context size that triggers a compaction
    "cache_ttl_s": 300,
}

DAY0 = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)  # a Monday
NS = 1_000_000_000


# ---------------------------------------------------------------------------
# The traffic model: sessions of turns of calls.
class Call:
    __slots__ = ("t", "dur", "input", "read", "write", "output", "status", "tools", "uid",
                 "fp", "retries")

    def __init__(self, t, dur, inp, read, write, out, status=200, tools=(), uid="", retries=0):
        self.t = t  # end, seconds since the day's start
        self.dur = dur
        self.input, self.read, self.write, self.output = inp, read, write, out
        self.status = status
        self.tools = list(tools)  # [(name, args_json, result_tokens)]
        self.uid = uid
        self.retries = retries

    @property
    def prompt(self):
        return self.input + self.read + self.write

    @property
    def total(self):
        return self.prompt + self.output


class Turn:
    __slots__ = ("start", "calls", "prompt", "uid")

    def __init__(self, start, prompt, uid):
        self.start, self.prompt, self.uid = start, prompt, uid
        self.calls = []

    @property
    def end(self):
        return self.calls[-1].t if self.calls else self.start


class Session:
    def __init__(self, key, kind, workflow, model, channel, job=None, agent="main"):
        self.key, self.kind, self.workflow, self.model = key, kind, workflow, model
        self.channel, self.job, self.agent = channel, job, agent
        self.turns = []
        self.project = "-srv-" + workflow

    @property
    def heartbeat(self):
        return self.kind == "heartbeat"

    def calls(self):
        for tr in self.turns:
            yield from tr.calls


def lognorm(rng, median, sigma, lo=1, hi=None):
    v = int(median * math.exp(rng.gauss(0, sigma)))
    v = max(lo, v)
    return min(v, hi) if hi else v


def hexid(rng, n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


TOOLS = ("Read", "Grep", "Bash", "Edit", "Glob", "WebFetch")
TOOL_WEIGHTS = (34, 16, 26, 14, 6, 4)
BASH = ("make test", "npm test", "git status", "git diff", "cargo build", "ls -la",
        "pytest -q", "go test ./...")


class Sim:
    """Simulates one session's conversation: context growth, tool calls,
    prompt caching (explicit writes or implicit prefix reuse), compaction."""

    def __init__(self, rng, session, cache_mode, base_prompt):
        self.rng = rng
        self.s = session
        self.mode = cache_mode  # "write" (Anthropic cache_control) or "implicit"
        self.base = base_prompt
        self.ctx = base_prompt
        self.last_t = None  # end of the previous call
        self.cached = 0  # prompt tokens in the cache after the previous call
        self.n = 0
        self.compact_at = rng.randint(*CLEAN["compact_at"])
        self.files = ["src/%s/%s.%s" % (rng.choice(("core", "api", "ui", "db", "cli")),
                                        hexid(rng, 5), rng.choice(("c", "py", "ts", "go")))
                      for _ in range(rng.randint(15, 60))]

    def uid(self):
        self.n += 1
        return "%s-%04d" % (self.s.key, self.n)

    def tool(self):
        rng = self.rng
        name = rng.choices(TOOLS, TOOL_WEIGHTS)[0]
        if name in ("Read", "Edit"):
            args = {"file_path": rng.choice(self.files)}
            if name == "Edit":
                args["old_string"] = hexid(rng, 8)
        elif name == "Grep":
            args = {"pattern": rng.choice(("TODO", "FIXME", "def ", "error", "import ")) +
                    hexid(rng, 4), "path": rng.choice(("src", "tests", "."))}
        elif name == "Bash":
            args = {"command": rng.choice(BASH) if rng.random() < 0.55 else
                    "grep -n %s %s" % (hexid(rng, 4), rng.choice(self.files))}
        elif name == "Glob":
            args = {"pattern": "%s/**/*.%s" % (rng.choice(self.files).rsplit("/", 1)[0],
                                               rng.choice(("c", "py", "ts", "go", "md")))}
        else:
            args = {"url": "https://docs.example.com/%s" % hexid(rng, 6)}
        result = lognorm(rng, 900, 1.1, 20, 25_000)
        return (name, json.dumps(args, separators=(",", ":")), result)

    def cache_split(self, t, prompt, force_miss=False, hit=None):
        """(input, read, write) of a request of `prompt` tokens at time t."""
        rng = self.rng
        warm = (self.last_t is not None and t - self.last_t < CLEAN["cache_ttl_s"]
                and not force_miss)
        if hit is not None:  # a fixed hit rate (low_cache injections)
            read = int(prompt * hit) if not force_miss else 0
            return prompt - read, read, 0
        if self.mode == "write":
            read = min(self.cached, prompt) if warm else 0
            inp = min(prompt - read, rng.randint(1, 60))
            return inp, read, prompt - read - inp
        # implicit prefix caching: 128-token blocks of the previous prompt,
        # sometimes only part of it (a routing miss).
        if not warm:
            return prompt, 0, 0
        read = min(self.cached, prompt)
        if rng.random() < 0.12:
            read = int(read * rng.uniform(0.3, 0.9))
        read = read // 128 * 128
        return prompt - read, read, 0

    def call(self, t, prompt, output, tools=(), force_miss=False, hit=None, status=200,
             retries=0):
        inp, read, write = self.cache_split(t, prompt, force_miss, hit)
        dur = 0.8 + prompt / 60_000 + output / 70.0 * self.rng.uniform(0.7, 1.3)
        c = Call(t + dur, dur, inp, read, write, output, status, tools, self.uid(), retries)
        self.last_t = c.t
        self.cached = prompt
        return c

    def rate_limited(self, t):
        """A 429 attempt: no tokens."""
        c = Call(t + 0.3, 0.3, 0, 0, 0, 0, 429, (), self.uid())
        return c

    def turn(self, t, max_calls=None, user_tokens=None):
        """One ordinary turn starting at t: calls until a call makes no tool call."""
        rng = self.rng
        tr = Turn(t, "prompt %s" % hexid(rng, 6), self.uid())
        self.ctx += user_tokens or lognorm(rng, 160, 1.0, 5, 4000)
        rounds = min(lognorm(rng, 2, 0.8, 1, 14), max_calls or 99)
        now = t
        for r in range(rounds):
            last = r == rounds - 1
            if self.ctx > self.compact_at:
                # Compaction: the history becomes a summary; back to a small prompt.
                c = self.call(now, self.ctx, lognorm(rng, 2500, 0.3, 800, 6000))
                tr.calls.append(c)
                now = c.t + rng.uniform(0.5, 3)
                self.ctx = self.base + lognorm(rng, 6000, 0.4, 1500, 20_000)
                self.cached = self.base  # the system prompt stays cached
            out = lognorm(rng, 320, 0.9, 8, 12_000)
            ntools = 0
            if not last:
                ntools = rng.choices((1, 2, 3, 4, 5, 6, 8, 11),
                                     (52, 18, 10, 7, 5, 4, 3, 1))[0]
            tools = [self.tool() for _ in range(ntools)]
            c = self.call(now, self.ctx, out, tools)
            tr.calls.append(c)
            self.ctx += out + sum(x[2] for x in tools)
            now = c.t + (max(rng.uniform(0.5, 25) for _ in tools) if tools else 0)
        return tr

    def turns(self, t, n, gap, max_calls=None, user_tokens=None):
        """n ordinary turns of the session from t, each starting gap = (lo, hi)
        seconds (uniform) after the one before ends; returns when the next
        may start."""
        for _ in range(n):
            tr = self.turn(t, max_calls=max_calls, user_tokens=user_tokens)
            self.s.turns.append(tr)
            t = tr.end + self.rng.uniform(*gap)
        return t


def session_key(day, n):
    return "s%03d-%04d" % (day, n)


# ---------------------------------------------------------------------------
# A clean day.
def clean_day(rng, day):
    sessions = []
    weekend = day % 7 in (5, 6)
    n = 0

    def new(kind, workflow, model, channel, job=None, agent="main"):
        nonlocal n
        n += 1
        s = Session(session_key(day, n), kind, workflow, model, channel, job, agent)
        sessions.append(s)
        return s

    def poisson(mean):
        # Knuth; means are small
        L, k, p = math.exp(-mean), 0, 1.0
        while True:
            p *= rng.random()
            if p <= L:
                return k
            k += 1

    # Interactive sessions: people at work, of very different sizes, overlapping.
    k = poisson(CLEAN["interactive_sessions"] * (CLEAN["weekend_factor"] if weekend else 1))
    for _ in range(k):
        start = rng.choice((rng.gauss(10.5, 1.3), rng.gauss(15, 1.6), rng.gauss(20.5, 1.0)
                            if rng.random() < 0.15 else rng.gauss(14, 2.5))) * 3600
        start = min(max(start, 7 * 3600), 22 * 3600)
        s = new("interactive", "chat", rng.choices(("claude-sonnet-4-5", "claude-opus-4-1"),
                                                   (80, 20))[0],
                rng.choice(("discord", "slack", "cli")))
        sim = Sim(rng, s, rng.choices(("write", "implicit"), (55, 45))[0],
                  rng.randint(6000, 22000))
        turns = lognorm(rng, 9, 0.9, 1, 90)
        t = start
        for _ in range(turns):
            tr = sim.turn(t)
            s.turns.append(tr)
            # think time: mostly short, sometimes a break (the cache expires)
            gap = lognorm(rng, 70, 1.0, 5, 3000)
            if rng.random() < 0.07:
                gap += rng.uniform(600, 3600)
            t = tr.end + gap
            if t > 23.8 * 3600:
                break

    # CI agent workflows (PR review, triage): small, bursty with the team's activity.
    k = poisson(CLEAN["workflow_runs"] * (CLEAN["weekend_factor"] if weekend else 1))
    for _ in range(k):
        wf = rng.choice(("pr-review", "issue-triage", "ci-doctor"))
        s = new("workflow", wf, "claude-sonnet-4-5", "github", agent=wf)
        sim = Sim(rng, s, "write", rng.randint(9000, 16000))
        t = rng.uniform(8, 20) * 3600
        for _ in range(rng.randint(1, 4)):
            tr = sim.turn(t, max_calls=rng.randint(2, 9), user_tokens=rng.randint(800, 6000))
            s.turns.append(tr)
            t = tr.end + rng.uniform(2, 20)

    # Night-time cron jobs of normal size.
    for job, hour, calls in (("nightly-digest", 2.0, (4, 9)), ("dependency-audit", 4.5, (3, 7))):
        s = new("cron", job, "claude-haiku-4-5", "cron", job=job, agent=job)
        sim = Sim(rng, s, "write", rng.randint(5000, 9000))
        t = hour * 3600 + rng.uniform(0, 300)
        tr = sim.turn(t, max_calls=rng.randint(*calls), user_tokens=rng.randint(2000, 8000))
        s.turns.append(tr)

    # A heartbeat every 30 minutes: a small prompt, the cache always cold.
    s = new("heartbeat", "heartbeat", "claude-haiku-4-5", "heartbeat", agent="main")
    sim = Sim(rng, s, "write", rng.randint(5000, 9000))
    t = rng.uniform(0, 120)
    while t < 86400 - 60:
        tr = Turn(t, "heartbeat", sim.uid())
        c = sim.call(t, sim.base + rng.randint(200, 2500), lognorm(rng, 60, 0.6, 5, 900))
        tr.calls.append(c)
        s.turns.append(tr)
        t += CLEAN["heartbeat_every_s"] + rng.uniform(-20, 20)

    # A few ordinary 429s: a retry after a short wait, then success.
    all_calls = [(s, c) for s in sessions for c in s.calls()]
    for s, c in rng.sample(all_calls, min(len(all_calls), poisson(CLEAN["ordinary_429s"]))):
        c.retries = 1
        # the 429 attempt lies just before the call; written as its own call
        for tr in s.turns:
            if c in tr.calls:
                i = tr.calls.index(c)
                t429 = c.t - c.dur - rng.uniform(1, 8)
                tr.calls.insert(i, Call(t429, 0.3, 0, 0, 0, 0, 429, (), c.uid + "r"))
                break
    return sessions


# ---------------------------------------------------------------------------
# Windows, for sizing spikes.
def windows(sessions, until=None):
    """Tokens per window, for the windows with interactive use (the spike
    rule's baseline leaves windows of background work only apart)."""
    w = RULES["window_s"]
    tok, interactive = {}, set()
    for s in sessions:
        for c in s.calls():
            if until is not None and c.t >= until:
                continue
            tok[int(c.t // w)] = tok.get(int(c.t // w), 0) + c.total
            if s.kind not in ("heartbeat", "cron"):
                interactive.add(int(c.t // w))
    return {k: v for k, v in tok.items() if k in interactive}


def percentile(v, q):
    if not v:
        return 0.0
    v = sorted(v)
    pos = (len(v) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def day_total(sessions):
    return sum(c.total for s in sessions for c in s.calls())


# ---------------------------------------------------------------------------
# Injections: each adds a session (or changes one) and returns its label.
def label(kind, strength, session, start, end, primary, per_format_strength=None):
    """Per-format labels: primary keys per format, and every id of the
    injected session (a finding naming one is caused by the injection)."""
    related = {"session": session.key, "run": session.key, "workflow": session.workflow}
    if session.job:
        related["job"] = session.job
    out = {}
    for f in FORMATS:
        keys = dict(primary)
        if f == "token_usage" and "session" in keys:
            keys = {"workflow": session.workflow, "run": keys["session"]}
        out[f] = {
            "kind": kind,
            "applicable": f in APPLIES[kind],
            "strength": (per_format_strength or {}).get(f, strength),
            "keys": keys,
            "related": related,
            "start": iso(start),
            "end": iso(end),
        }
    return out


def inject(rng, day, sessions, kind, strength):
    n = len(sessions) + 100

    def new(kind_, workflow, model="claude-sonnet-4-5", channel="discord", job=None):
        s = Session(session_key(day, n), kind_, workflow, model, channel, job)
        sessions.append(s)
        return s

    v = STRENGTHS[kind][strength]
    if kind == "spike":
        start = rng.uniform(14, 16) * 3600
        wins = windows(sessions, until=start)
        active = [x for x in wins.values() if x > 0]
        med, p95 = percentile(active, 0.5), percentile(active, 0.95)
        target = v * max(RULES["spike"]["median_multiple"] * med,
                         RULES["spike"]["p95_multiple"] * p95)
        minutes = rng.randint(RULES["spike"]["min_minutes"] + 5, RULES["spike"]["max_minutes"])
        s = new("workflow", "batch-summarize", channel="github")
        sim = Sim(rng, s, "write", 12_000)
        per_call = rng.randint(60_000, 110_000)
        per_window = max(1, int(target / per_call))
        gap = RULES["window_s"] / per_window
        t = start
        while t < start + minutes * 60:
            tr = Turn(t, "summarize %s" % hexid(rng, 6), sim.uid())
            prompt = int(per_call * rng.uniform(0.85, 1.1))
            read = int(prompt * rng.uniform(0.93, 0.98))  # the shared prefix is cached
            out = lognorm(rng, 500, 0.4, 50, 3000)
            c = Call(t + 3, 3, prompt - read, read, 0, out, uid=sim.uid())
            tr.calls.append(c)
            s.turns.append(tr)
            t += gap
        return label(kind, strength, s, start, t, {"session": s.key})

    if kind == "loop":
        s = new("workflow", "ops-agent", channel="slack")
        sim = Sim(rng, s, "write", 14_000)
        t = sim.turns(rng.uniform(9, 17) * 3600, 3, (20, 90), max_calls=3)
        start = t
        prompt = sim.ctx
        out = lognorm(rng, 250, 0.3, 80, 600)
        stuck = ("Bash", json.dumps({"command": "kubectl rollout status deploy/api"},
                                    separators=(",", ":")), 120)
        for _ in range(int(v)):
            tr = Turn(t, "check the rollout", sim.uid())
            c = sim.call(t, int(prompt * rng.uniform(0.995, 1.005)),
                         int(out * rng.uniform(0.97, 1.03)), [stuck])
            tr.calls.append(c)
            s.turns.append(tr)
            t = c.t + rng.uniform(40, 90)
        pfs = {}
        for f in FORMATS:
            need = RULES["loop"]["repeats"] if f in ("tokmeter", "claude") else \
                RULES["loop"]["near_identical"]
            pfs[f] = "documented" if v >= need else "below"
        return label(kind, strength, s, start, t, {"session": s.key}, pfs)

    if kind == "context_bloat":
        s = new("interactive", "chat")
        sim = Sim(rng, s, "write", 12_000)
        t = sim.turns(rng.uniform(9, 17) * 3600, 2, (20, 60), max_calls=2, user_tokens=2000)
        steps = STRENGTHS["context_bloat"]["steps"]
        p0 = 40_000
        start = t
        for i in range(steps):
            prompt = int(p0 * v ** (i / (steps - 1)))
            tr = Turn(t, "read more %d" % i, sim.uid())
            c = sim.call(t, prompt, lognorm(rng, 300, 0.4, 50, 1500), [sim.tool()])
            tr.calls.append(c)
            # The tool's result goes back to the model: the turn's answer.
            a = sim.call(c.t + rng.uniform(0.5, 3), prompt + rng.randint(500, 3000),
                         lognorm(rng, 300, 0.4, 50, 1500))
            tr.calls.append(a)
            s.turns.append(tr)
            t = a.t + rng.uniform(15, 60)
        sim.ctx = prompt
        return label(kind, strength, s, start, t, {"session": s.key})

    if kind == "retry_storm":
        s = new("interactive", "chat", channel="slack")
        sim = Sim(rng, s, "write", 15_000)
        t = sim.turns(rng.uniform(10, 17) * 3600, 2, (20, 60), max_calls=3)
        start = t
        tr = Turn(t, "try again", sim.uid())
        for i in range(int(v)):
            tr.calls.append(sim.rate_limited(t))
            t += rng.uniform(8, 20)  # no backoff: the storm
        c = sim.call(t, sim.ctx + 500, lognorm(rng, 300, 0.4, 50, 1500), retries=int(v))
        tr.calls.append(c)
        s.turns.append(tr)
        return label(kind, strength, s, start, c.t, {"session": s.key})

    if kind == "fanout":
        s = new("interactive", "chat", channel="cli")
        sim = Sim(rng, s, "write", 14_000)
        t = rng.uniform(9, 17) * 3600
        tr = sim.turn(t, max_calls=2)
        s.turns.append(tr)
        t = tr.end + 30
        # The rule's history: the last turns before this one that used tools,
        # of interactive sessions; a short history has a higher floor.
        done = sorted((x.end, n) for y in sessions if y.kind not in ("heartbeat", "cron")
                      for x in y.turns for n in [sum(len(c.tools) for c in x.calls)]
                      if n > 0 and x.end < t)
        counts = [n for _, n in done[-RULES["fanout"]["history"]:]]
        floor = (RULES["fanout"]["min_tool_calls"] if len(counts) >= RULES["fanout"]["min_history"]
                 else RULES["fanout"]["short_history_min"])
        n_tools = int(math.ceil(v * max(floor, RULES["fanout"]["p95_multiple"] *
                                        percentile(counts, 0.95))))
        tr = Turn(t, "audit every module", sim.uid())
        first = n_tools // 2 + n_tools % 2
        for batch in (first, n_tools - first):
            tools = [sim.tool() for _ in range(batch)]
            c = sim.call(t, sim.ctx, lognorm(rng, 400, 0.4, 50, 2000), tools)
            tr.calls.append(c)
            sim.ctx += c.output + sum(x[2] for x in tools)
            t = c.t + 5
        c = sim.call(t, sim.ctx, lognorm(rng, 600, 0.4, 50, 3000))
        tr.calls.append(c)
        s.turns.append(tr)
        return label(kind, strength, s, tr.start, c.t, {"session": s.key})

    if kind == "background":
        heartbeat = strength == "documented_heartbeat"
        total = day_total(sessions)
        want = v * total / (1 - v)
        if heartbeat:
            s = new("heartbeat", "heartbeat-watch", "claude-haiku-4-5", "heartbeat")
            s.agent = "watcher"
        else:
            s = new("cron", "reindex-embeddings", "claude-haiku-4-5", "cron",
                    job="reindex-embeddings")
        sim = Sim(rng, s, "write", 10_000)
        t = start = 2.5 * 3600 + rng.uniform(0, 600)
        spent = 0
        per = 60_000
        while spent < want and t < 7.5 * 3600:  # idle hours: interactive use starts later
            tr = Turn(t, "poll", sim.uid())
            c = sim.call(t, int(per * rng.uniform(0.8, 1.2)), lognorm(rng, 200, 0.5, 20, 1500))
            tr.calls.append(c)
            s.turns.append(tr)
            spent += c.total
            t = c.t + (rng.uniform(60, 200) if heartbeat else rng.uniform(5, 30))
        # A heartbeat without a job id is named by its session.
        primary = {"session": s.key} if heartbeat else {"job": s.job}
        return label(kind, strength, s, start, t, primary)

    if kind == "cache_miss_streak":
        s = new("interactive", "chat", channel="discord")
        sim = Sim(rng, s, "write", 14_000)
        t = sim.turns(rng.uniform(9, 17) * 3600, 2, (20, 60), max_calls=2)
        start = t
        for _ in range(int(v)):
            tr = Turn(t, "and then", sim.uid())
            sim.ctx += rng.randint(300, 1500)
            c = sim.call(t, max(sim.ctx, 20_000), lognorm(rng, 300, 0.4, 50, 1500),
                         force_miss=True)
            tr.calls.append(c)
            s.turns.append(tr)
            t = c.t + rng.uniform(15, 60)
        return label(kind, strength, s, start, t, {"session": s.key})

    if kind == "low_cache":
        first = None
        t = rng.uniform(9, 16) * 3600
        keys = []
        for _ in range(3):
            s = new("workflow", "support-bot", channel="slack")
            keys.append(s.key)
            sim = Sim(rng, s, "implicit", 12_000)
            for _ in range(rng.randint(3, 6)):
                tr = Turn(t, "ticket %s" % hexid(rng, 4), sim.uid())
                sim.ctx += rng.randint(500, 3000)
                c = sim.call(t, sim.ctx, lognorm(rng, 300, 0.4, 50, 1500), hit=v)
                tr.calls.append(c)
                s.turns.append(tr)
                t = c.t + rng.uniform(30, 200)
            first = first or s.turns[0].start
            n += 1
        lab = label(kind, strength, s, first, t, {"workflow": "support-bot"})
        for f in lab.values():
            f["related"] = {"workflow": "support-bot", "session": keys, "run": keys}
        return lab

    if kind == "large_run":
        s = new("workflow", "release-notes", channel="github")
        sim = Sim(rng, s, "write", 15_000)
        t = start = rng.uniform(9, 17) * 3600
        spent = 0
        while spent < v:
            tr = Turn(t, "section %s" % hexid(rng, 4), sim.uid())
            prompt = int(rng.uniform(60_000, 90_000))
            c = sim.call(t, prompt, lognorm(rng, 700, 0.4, 100, 3000), [sim.tool()])
            c.read, c.write, c.input = int(prompt * 0.95), 0, prompt - int(prompt * 0.95)
            tr.calls.append(c)
            s.turns.append(tr)
            spent += c.total
            t = c.t + rng.uniform(10, 40)
        return label(kind, strength, s, start, t,
                     {"workflow": s.workflow, "run": s.key})

    if kind == "output_ratio_rise":
        s = new("interactive", "chat", channel="cli")
        sim = Sim(rng, s, "write", 20_000)
        t = rng.uniform(9, 17) * 3600
        base_ratio = 0.012
        prompt = 35_000
        for _ in range(RULES["output_ratio_rise"]["baseline"] + 2):
            tr = Turn(t, "next", sim.uid())
            prompt += rng.randint(100, 600)
            c = sim.call(t, prompt, int(prompt * base_ratio * rng.uniform(0.8, 1.2)))
            tr.calls.append(c)
            s.turns.append(tr)
            t = c.t + rng.uniform(20, 90)
        start = t
        for _ in range(int(v)):
            tr = Turn(t, "write it all out", sim.uid())
            prompt += rng.randint(100, 600)
            out = max(int(prompt * base_ratio * STRENGTHS["output_ratio_rise"]["ratio_x"] *
                          rng.uniform(0.95, 1.15)),
                      RULES["output_ratio_rise"]["min_output"] + 200)
            c = sim.call(t, prompt, out)
            tr.calls.append(c)
            s.turns.append(tr)
            t = c.t + rng.uniform(20, 60)
        return label(kind, strength, s, start, t, {"session": s.key})

    raise ValueError(kind)


# ---------------------------------------------------------------------------
# Writers: the same sessions in four formats. Each returns its own totals.
def iso(sec, digits=3):
    t = DAY_BASE[0] + dt.timedelta(seconds=sec)
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    frac = ("%.9f" % (sec - math.floor(sec)))[2:2 + digits]
    return "%s.%sZ" % (s, frac)


DAY_BASE = [DAY0]


def jdump(o):
    return json.dumps(o, separators=(",", ":"))


def h64(*parts):
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=8).hexdigest()


def write_tokmeter(sessions, path):
    """docs/FORMAT.md: trace lines, turn spans, llm spans with tokens and
    fingerprints, tool spans (tool, args) under their turn, turn_summary
    roll-ups."""
    lines = []  # (time, order, text)
    tot = {"tokens": 0, "requests": 0, "rate_limited": 0, "tool_calls": 0}
    for s in sessions:
        if not s.turns:
            continue
        trace = h64("trace", s.key)[:16] + h64("trace2", s.key)[:16]
        root = h64("root", s.key)
        tags = {"session": s.key, "workflow": s.workflow, "run": s.key, "channel": s.channel,
                "agent": s.agent, "heartbeat": s.heartbeat}
        if s.job:
            tags["job"] = s.job
        t0 = s.turns[0].start
        lines.append((t0 - 0.001, 0, jdump({"type": "trace", "trace_id": trace, "span_id": root,
                                             "timestamp": iso(t0 - 0.001, 9), "kind": "session",
                                             "name": s.key, "tags": tags})))
        for tr in s.turns:
            tspan = h64("turn", tr.uid)
            roll = {"input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0,
                    "cache_write_tokens": 0, "requests": 0, "tool_calls": 0, "rate_limited": 0,
                    "retries": 0}
            nspans = 1
            for c in tr.calls:
                span = {"type": "span", "timestamp": iso(c.t, 9), "start": iso(c.t - c.dur, 9),
                        "duration_ms": round(c.dur * 1000, 3), "trace_id": trace,
                        "span_id": h64("llm", c.uid), "parent_id": tspan, "kind": "llm",
                        "name": "messages", "provider": "anthropic", "model": s.model,
                        "status": c.status}
                if c.status == 429:
                    span["rate_limited"] = 1
                    span["requests"] = 1
                    roll["rate_limited"] += 1
                    tot["rate_limited"] += 1
                else:
                    for k, v in (("input_tokens", c.input), ("output_tokens", c.output),
                                 ("cache_read_tokens", c.read), ("cache_write_tokens", c.write)):
                        if v:
                            span[k] = v
                            roll[k] += v
                    span["requests"] = 1
                    if c.retries:
                        span["retries"] = c.retries
                        roll["retries"] += c.retries
                    tot["tokens"] += c.total
                roll["requests"] += 1
                tot["requests"] += 1
                span["fingerprint"] = h64("request", c.uid)
                lines.append((c.t, 1, jdump(span)))
                nspans += 1
                tt = c.t
                for i, (name, args, _res) in enumerate(c.tools):
                    te = tt + 0.2 + 0.1 * i
                    lines.append((te, 1, jdump({
                        "type": "span", "timestamp": iso(te, 9), "start": iso(tt, 9),
                        "duration_ms": round((te - tt) * 1000, 3), "trace_id": trace,
                        "span_id": h64("tool", c.uid, str(i)), "parent_id": tspan,
                        "kind": "tool", "name": name, "tool": name, "tool_calls": 1,
                        "fingerprint": h64("tool", name, args), "tags": {"args": args}})))
                    roll["tool_calls"] += 1
                    tot["tool_calls"] += 1
                    nspans += 1
            end = max(tr.end, max((c.t + 0.2 + 0.1 * len(c.tools) for c in tr.calls),
                                  default=tr.end)) + 0.01
            lines.append((end, 2, jdump({"type": "span", "timestamp": iso(end, 9),
                                         "start": iso(tr.start, 9),
                                         "duration_ms": round((end - tr.start) * 1000, 3),
                                         "trace_id": trace, "span_id": tspan,
                                         "parent_id": root, "kind": "turn", "name": tr.uid})))
            summary = {"type": "turn_summary", "scope": "turn", "timestamp": iso(end, 9),
                       "start": iso(tr.start, 9),
                       "duration_ms": round((end - tr.start) * 1000, 3), "trace_id": trace,
                       "span_id": tspan, "kind": "turn", "name": tr.uid, "spans": nspans}
            summary.update({k: v for k, v in roll.items() if v})
            summary["tags"] = tags
            lines.append((end, 3, jdump(summary)))
    lines.sort(key=lambda x: (x[0], x[1]))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for _, _, text in lines:
            f.write(text + "\n")
    tot["lines"] = len(lines)
    return tot


def write_turn_summary(sessions, path):
    """One line per turn: tokens_in = the prompt tokens of the turn's requests."""
    lines = []
    tot = {"tokens": 0, "requests": 0, "rate_limited": 0, "tool_calls": 0}
    for s in sessions:
        for tr in s.turns:
            ok = [c for c in tr.calls if c.status != 429]
            o = {"ts": iso(tr.end), "kind": "turn_summary", "sessionKey": s.key,
                 "channel": s.channel, "model": "anthropic/" + s.model,
                 "tokens_in": sum(c.prompt for c in ok),
                 "tokens_out": sum(c.output for c in ok),
                 "tool_calls": sum(len(c.tools) for c in tr.calls),
                 "rate_limits": sum(1 for c in tr.calls if c.status == 429),
                 "retry_count": sum(c.retries for c in tr.calls),
                 "duration_ms": int((tr.end - tr.start) * 1000) + 1,
                 "tags": {"heartbeat": s.heartbeat, "cron_job_id": s.job, "agentId": s.agent}}
            tot["tokens"] += o["tokens_in"] + o["tokens_out"]
            tot["tool_calls"] += o["tool_calls"]
            tot["rate_limited"] += o["rate_limits"]
            lines.append((tr.end, jdump(o)))
    lines.sort(key=lambda x: x[0])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for _, text in lines:
            f.write(text + "\n")
    tot["lines"] = len(lines)
    return tot


def write_token_usage(sessions, root):
    """runs/{workflow}/{run}/token-usage.jsonl, one line per 2xx upstream call."""
    tot = {"tokens": 0, "requests": 0, "rate_limited": 0, "tool_calls": 0, "lines": 0}
    for s in sessions:
        calls = [c for c in s.calls() if c.status // 100 == 2]
        if not calls:
            continue
        d = os.path.join(root, "runs", s.workflow, s.key)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "token-usage.jsonl"), "w") as f:
            for c in sorted(calls, key=lambda c: c.t):
                f.write(jdump({"_schema": "token-usage/v0.26.0", "timestamp": iso(c.t),
                               "event": "token_usage", "request_id": "req_" + h64("r", c.uid),
                               "provider": "anthropic", "model": s.model,
                               "path": "/v1/messages", "status": 200, "streaming": True,
                               "input_tokens": c.input, "output_tokens": c.output,
                               "cache_read_tokens": c.read, "cache_write_tokens": c.write,
                               "duration_ms": int(c.dur * 1000)}) + "\n")
                tot["tokens"] += c.total
                tot["requests"] += 1
                tot["lines"] += 1
    return tot


def write_claude(sessions, root):
    """~/.claude/projects/<project>/<session>.jsonl: a user line per turn, each
    response as snapshot lines (one content block each) sharing message.id,
    tool results as user lines, 429s as synthetic API-error lines."""
    tot = {"tokens": 0, "requests": 0, "rate_limited": 0, "tool_calls": 0, "lines": 0}
    for s in sessions:
        if not s.turns:
            continue
        d = os.path.join(root, "projects", s.project)
        os.makedirs(d, exist_ok=True)
        out = []
        parent = None

        def line(o):
            nonlocal parent
            base = {"parentUuid": parent, "isSidechain": False, "userType": "external",
                    "cwd": "/srv/" + s.workflow, "sessionId": s.key, "version": "2.1.200",
                    "gitBranch": "main"}
            base.update(o)
            parent = o.get("uuid", parent)
            out.append(jdump(base))

        for tr in s.turns:
            line({"type": "user", "message": {"role": "user", "content": tr.prompt},
                  "uuid": "u-" + tr.uid, "timestamp": iso(tr.start)})
            for c in tr.calls:
                mid = "msg_" + h64("m", c.uid)
                if c.status == 429:
                    line({"type": "assistant", "uuid": "e-" + c.uid, "timestamp": iso(c.t),
                          "message": {"id": mid, "model": "<synthetic>", "role": "assistant",
                                      "type": "message", "stop_reason": "stop_sequence",
                                      "content": [{"type": "text",
                                                   "text": "API Error: 429 rate_limit_error"}],
                                      "usage": {"input_tokens": 0, "output_tokens": 0,
                                                "cache_creation_input_tokens": 0,
                                                "cache_read_input_tokens": 0}},
                          "isApiErrorMessage": True, "apiErrorStatus": 429,
                          "error": "rate_limit"})
                    tot["rate_limited"] += 1
                    tot["requests"] += 1
                    continue
                blocks = [{"type": "text", "text": "Looking at %s." % c.uid}]
                for i, (name, args, _res) in enumerate(c.tools):
                    blocks.append({"type": "tool_use", "id": "toolu_" + h64("t", c.uid, str(i)),
                                   "name": name, "input": json.loads(args)})
                for i, b in enumerate(blocks):
                    last = i == len(blocks) - 1
                    usage = {"input_tokens": c.input, "cache_creation_input_tokens": c.write,
                             "cache_read_input_tokens": c.read,
                             "cache_creation": {"ephemeral_5m_input_tokens": c.write,
                                                "ephemeral_1h_input_tokens": 0},
                             "output_tokens": c.output if last else min(c.output, 1 + i),
                             "service_tier": "standard"}
                    line({"type": "assistant", "uuid": "a-%s-%d" % (c.uid, i),
                          "timestamp": iso(c.t - 0.001 * (len(blocks) - 1 - i)),
                          "requestId": "req_" + h64("r", c.uid),
                          "message": {"model": s.model, "id": mid, "type": "message",
                                      "role": "assistant", "content": [b],
                                      "stop_reason": ("tool_use" if c.tools else "end_turn")
                                      if last else None,
                                      "stop_sequence": None, "usage": usage}})
                tot["tokens"] += c.total
                tot["requests"] += 1
                tot["tool_calls"] += len(c.tools)
                for i, (name, args, res) in enumerate(c.tools):
                    line({"type": "user", "uuid": "r-%s-%d" % (c.uid, i),
                          "timestamp": iso(c.t + 0.2 + 0.1 * i),
                          "message": {"role": "user", "content": [
                              {"tool_use_id": "toolu_" + h64("t", c.uid, str(i)),
                               "type": "tool_result", "content": "ok (%d tokens)" % res}]},
                          "toolUseResult": {"stdout": "ok", "stderr": ""}})
        with open(os.path.join(d, s.key + ".jsonl"), "w") as f:
            for text in out:
                f.write(text + "\n")
        tot["lines"] += len(out)
    return tot


# ---------------------------------------------------------------------------
def write_day(outdir, name, sessions):
    d = os.path.join(outdir, name)
    totals = {
        "tokmeter": write_tokmeter(sessions, os.path.join(d, "tokmeter", "usage.jsonl")),
        "turn_summary": write_turn_summary(sessions,
                                           os.path.join(d, "turn_summary", "turns.jsonl")),
        "token_usage": write_token_usage(sessions, os.path.join(d, "token_usage")),
        "claude": write_claude(sessions, os.path.join(d, "claude")),
    }
    # turn_summary lines have no request count; the others count 2xx and 429s.
    return totals


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--days", type=int, default=30, help="clean days")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--inject", default="all",
                    help="pathologies to inject, one day per strength: all, none, or a "
                         "comma-separated list of " + ", ".join(PATHOLOGIES))
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies the number of interactive sessions and workflow runs")
    a = ap.parse_args(argv)
    CLEAN["interactive_sessions"] *= a.scale
    CLEAN["workflow_runs"] *= a.scale
    kinds = [] if a.inject == "none" else (
        list(PATHOLOGIES) if a.inject == "all" else a.inject.split(","))
    for k in kinds:
        if k not in APPLIES:
            ap.error("unknown pathology %r" % k)
    if os.path.isdir(a.outdir):
        for e in os.listdir(a.outdir):
            if e.startswith("day-") or e == "labels.json":
                p = os.path.join(a.outdir, e)
                shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    os.makedirs(a.outdir, exist_ok=True)
    labels = {"rules": RULES, "strengths": STRENGTHS, "applies": APPLIES, "days": {}}
    plan = [(None, None)] * a.days
    for k in kinds:
        for strength in STRENGTHS[k]:
            if strength in ("steps", "ratio_x"):
                continue
            plan.append((k, strength))
    for i, (kind, strength) in enumerate(plan):
        rng = random.Random(a.seed * 1_000_003 + i)
        DAY_BASE[0] = DAY0 + dt.timedelta(days=i)
        sessions = clean_day(rng, i)
        injections = []
        if kind:
            injections.append(inject(rng, i, sessions, kind, strength))
        name = "day-%03d" % i
        totals = write_day(a.outdir, name, sessions)
        labels["days"][name] = {
            "date": DAY_BASE[0].strftime("%Y-%m-%d"),
            "clean": kind is None,
            "injected": [{"kind": kind, "strength": strength}] if kind else [],
            "labels": {f: [inj[f] for inj in injections] for f in FORMATS},
            "totals": totals,
        }
    with open(os.path.join(a.outdir, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1)
    print("gen: %d days (%d clean) in %s" % (len(plan), a.days, a.outdir), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
