"""End-to-end tests of tokmeter-gh-report against a fake `gh` (no network).

ctest passes TOKMETER (the built command) and TOKMETER_GH_REPORT (the program under test). The
fake gh (fake_gh.py) replays the JSON that the recorded gh calls return and serves artifact zips
that these tests build.
"""

import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TOOL = Path(os.environ.get("TOKMETER_GH_REPORT",
                           ROOT / "tools" / "gh_report" / "tokmeter_gh_report.py"))
TOKMETER = os.environ.get("TOKMETER", "")
WORKFLOW = ROOT / "examples" / "workflows" / "token-usage-report.yml"

spec = importlib.util.spec_from_file_location("tokmeter_gh_report", TOOL)
ghr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ghr)

# The smoke-claude run of the daily-report request: six api-proxy records.
#   haiku 4.5 (routing): in 120 + 105 = 225, out 35 + 30 = 65
#   sonnet 4.6 (agent):  in 3 + 5 + 240 + 302 = 550, out 418 + 312 + 250 + 182 = 1,162
#                        cache read 14,044 + 40,086 + 48,500 + 49,770 = 152,400
#                        cache write 26,042 + 8,458 + 4,900 + 3,756 = 43,156
#   totals: input 775, output 1,227, cache read 152,400, cache write 43,156,
#           total 775 + 1,227 + 152,400 + 43,156 = 197,558; 6 requests
#   cache hit rate 152,400 / (152,400 + 775) = 0.99494 -> 99.5 %
#   cost ($/MTok: haiku in 1 out 5; sonnet in 3 out 15 read 0.30 write 3.75):
#     haiku 225*1 + 65*5 = 550e-6; sonnet 550*3 + 1,162*15 + 152,400*0.3 + 43,156*3.75
#     = 1,650 + 17,430 + 45,720 + 161,835 = 226,635e-6; total $0.227185 -> "$0.23"
# (HAIKU and SONNET: the fields the records of one model share.)
HAIKU = {"provider": "anthropic", "model": "claude-haiku-4.5", "path": "/v1/messages",
         "status": 200, "streaming": False}
SONNET = {"provider": "anthropic", "model": "claude-sonnet-4-6", "path": "/v1/messages?beta=true",
          "status": 200, "streaming": True}
SMOKE_CLAUDE = "".join(json.dumps(r) + "\n" for r in [
    {"_schema": "token-usage/v0.26.0", "timestamp": "2026-08-20T10:00:01.000Z",
     "event": "token_usage", "request_id": "r1", **HAIKU, "input_tokens": 120,
     "output_tokens": 35, "cache_read_tokens": 0, "cache_write_tokens": 0, "duration_ms": 800,
     "response_bytes": 900},
    {"timestamp": "2026-08-20T10:00:03.000Z", "request_id": "r2", **HAIKU, "input_tokens": 105,
     "output_tokens": 30, "cache_read_tokens": 0, "cache_write_tokens": 0, "duration_ms": 700,
     "response_bytes": 850},
    {"timestamp": "2026-08-20T10:00:10.000Z", "request_id": "r3", **SONNET, "input_tokens": 3,
     "output_tokens": 418, "cache_read_tokens": 14044, "cache_write_tokens": 26042,
     "duration_ms": 5858, "response_bytes": 2800},
    {"timestamp": "2026-08-20T10:00:20.000Z", "request_id": "r4", **SONNET, "input_tokens": 5,
     "output_tokens": 312, "cache_read_tokens": 40086, "cache_write_tokens": 8458,
     "duration_ms": 4000, "response_bytes": 2000},
    {"timestamp": "2026-08-20T10:00:30.000Z", "request_id": "r5", **SONNET, "input_tokens": 240,
     "output_tokens": 250, "cache_read_tokens": 48500, "cache_write_tokens": 4900,
     "duration_ms": 3000, "response_bytes": 1500},
    {"timestamp": "2026-08-20T10:00:40.000Z", "request_id": "r6", **SONNET, "input_tokens": 302,
     "output_tokens": 182, "cache_read_tokens": 49770, "cache_write_tokens": 3756,
     "duration_ms": 2500, "response_bytes": 1200},
])

# A smoke-codex run (OpenAI: input_tokens include the cached part).
#   uncached input (12,000 - 8,000) + (15,000 - 12,000) = 7,000; output 500 + 700 = 1,200;
#   cache read 8,000 + 12,000 = 20,000; total 7,000 + 1,200 + 20,000 = 28,200
#   cache hit rate 20,000 / 27,000 = 74.1 %
#   cost (gpt-5: in 1.25 out 10 read 0.125): 8,750 + 12,000 + 2,500 = 23,250e-6 -> "$0.02"
SMOKE_CODEX = "".join(json.dumps(r) + "\n" for r in [
    {"timestamp": "2026-08-20T14:00:00Z", "request_id": "c1", "provider": "openai",
     "model": "gpt-5", "path": "/v1/responses", "status": 200, "streaming": True,
     "input_tokens": 12000, "output_tokens": 500, "cache_read_tokens": 8000,
     "cache_write_tokens": 0, "duration_ms": 2000},
    {"timestamp": "2026-08-20T14:00:30Z", "request_id": "c2", "provider": "openai",
     "model": "gpt-5", "path": "/v1/responses", "status": 200, "streaming": True,
     "input_tokens": 15000, "output_tokens": 700, "cache_read_tokens": 12000,
     "cache_write_tokens": 0, "duration_ms": 3000},
])
# Both runs: total 197,558 + 28,200 = 225,758; cost 0.227185 + 0.02325 = 0.250435 -> "$0.25".

LEGACY = "sandbox/firewall/logs/api-proxy-logs/token-usage.jsonl"
AUDIT = "sandbox/firewall/audit/api-proxy-logs/token-usage.jsonl"


def zip_bytes(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def report_issue(number, date, collected_at, created_at, total, cost, hit, groups):
    data = {"schema": "tokmeter-gh-report/1", "date": date, "collected_at": collected_at,
            "no_data": False,
            "period": {"since": "x", "until": collected_at},
            "totals": {"total_tokens": total, "cost_usd": cost, "cache_hit_rate": hit},
            "groups": [{"name": n, "total_tokens": t} for n, t in groups.items()]}
    return {"number": number, "title": f"Token Usage Report: {date}",
            "url": f"https://github.com/octo/agents/issues/{number}",
            "labels": ["token-usage-report"], "createdAt": created_at,
            "body": f"# Token Usage Report: {date}\n\nold body\n\n" + ghr.embed(data)}


def run(id_, workflow, created, updated, status="completed", conclusion="success"):
    return {"databaseId": id_, "workflowName": workflow, "workflowDatabaseId": 500 + id_ % 100,
            "status": status, "conclusion": conclusion, "createdAt": created,
            "updatedAt": updated, "url": f"https://github.com/octo/agents/actions/runs/{id_}",
            "event": "schedule", "number": id_ - 1000, "headBranch": "main"}


def artifact(id_, name, expired=False):
    return {"id": id_, "name": name, "expired": expired, "size_in_bytes": 1000}


class GhReportTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        if not TOKMETER or not os.access(TOKMETER, os.X_OK):
            self.skipTest("TOKMETER (the built tokmeter command) is not set")
        self.tmp = Path(tempfile.mkdtemp(prefix="gh_report_test_"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.fake = self.tmp / "fake"
        self.fake.mkdir()
        (self.fake / "calls.jsonl").write_text("")
        bindir = self.tmp / "bin"
        bindir.mkdir()
        gh = bindir / "gh"
        gh.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "fake_gh.py"}" "$@"\n')
        gh.chmod(0o755)
        self.env = dict(os.environ, FAKE_GH_DIR=str(self.fake),
                        PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
        self.out = self.tmp / "out"

    def state(self, **state):
        state.setdefault("repo", "octo/agents")
        (self.fake / "state.json").write_text(json.dumps(state))

    def load_state(self):
        return json.loads((self.fake / "state.json").read_text())

    def serve(self, artifact_id, data):
        (self.fake / f"{artifact_id}.zip").write_bytes(data)

    def tool(self, *args, now="2026-08-21T08:00:00Z", check=True):
        cmd = [sys.executable, str(TOOL)] + list(args)
        if args and args[0] in ("run", "collect"):
            cmd += ["--now", now, "--retry-delay", "0", "--repo", "octo/agents"]
        if args and args[0] in ("run", "render") and "--tokmeter" not in args:
            cmd += ["--tokmeter", TOKMETER]
        if args and args[0] != "--help" and "--out" not in args:
            cmd += ["--out", str(self.out)]
        p = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=120)
        self.assertNotIn("Traceback", p.stderr)
        if check:
            self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def calls(self, key):
        lines = (self.fake / "calls.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines if json.loads(line)["key"] == key]

    def created(self):
        return [i for i in self.load_state()["issues"] if i["number"] > 100]

    def manifest(self):
        return json.loads((self.out / "manifest.json").read_text())

    # ------------------------------------------------------------------ scenarios --

    def full_scenario(self):
        """Two instrumented runs, six without logs (each reason), four that are left out."""
        self.state(
            labels=["token-usage-report"],
            issues=[
                report_issue(40, "2026-08-19", "2026-08-19T08:00:00Z", "2026-08-19T08:00:20Z",
                             150000, 0.2, 0.9, {"smoke-claude": 150000}),
                report_issue(41, "2026-08-20", "2026-08-20T08:00:00Z", "2026-08-20T08:00:20Z",
                             180000, 0.25, 0.95, {"smoke-claude": 150000, "smoke-codex": 30000}),
                {"number": 39, "title": "Token usage is too high", "labels": ["token-usage-report"],
                 "url": "https://github.com/octo/agents/issues/39", "body": "",
                 "createdAt": "2026-08-20T12:00:00Z"},
                {"number": 38, "title": "Token Usage Report: 2026-08-18", "body": "by hand",
                 "url": "https://github.com/octo/agents/issues/38",
                 "labels": ["token-usage-report"], "createdAt": "2026-08-18T08:00:00Z"},
            ],
            runs=[
                run(1001, "Smoke Claude", "2026-08-20T09:59:00Z", "2026-08-20T10:05:00Z"),
                run(1002, "Smoke Codex", "2026-08-20T13:59:00Z", "2026-08-20T14:05:00Z",
                    conclusion="failure"),
                run(1003, "Deploy", "2026-08-20T15:00:00Z", "2026-08-20T15:02:00Z"),
                run(1004, "Lint", "2026-08-20T07:00:00Z", "2026-08-20T08:30:00Z"),
                run(1005, "Secret Digger", "2026-08-20T16:00:00Z", "2026-08-20T16:30:00Z"),
                run(1006, "Smoke Copilot", "2026-08-20T17:00:00Z", "2026-08-20T17:10:00Z"),
                run(1007, "Docs", "2026-08-20T18:00:00Z", "2026-08-20T18:10:00Z"),
                run(1008, "Nightly", "2026-08-20T19:00:00Z", "2026-08-20T19:40:00Z"),
                # Left out: still running, completed before the window, the report's own
                # workflow, never started.
                run(1009, "Smoke Claude", "2026-08-21T07:58:00Z", "2026-08-21T07:59:00Z",
                    status="in_progress", conclusion=""),
                run(1010, "Smoke Claude", "2026-08-19T19:00:00Z", "2026-08-19T20:00:00Z"),
                run(1011, "Token Usage Report", "2026-08-20T08:00:00Z", "2026-08-20T08:01:00Z"),
                run(1012, "Smoke Claude", "2026-08-20T20:00:00Z", "2026-08-20T20:00:01Z",
                    conclusion="skipped"),
            ],
            artifacts={
                "1001": [artifact(9001, "agent-artifacts"),
                         artifact(9011, "firewall-audit-logs")],
                "1002": [artifact(9002, "agent")],
                "1003": [],
                "1004": [artifact(9004, "agent-artifacts", expired=True)],
                "1005": [artifact(9005, "agent-artifacts")],
                "1006": [artifact(9006, "agent-artifacts")],
                "1007": [artifact(9007, "agent-artifacts"), artifact(9017, "coverage")],
                "1008": [artifact(9008, "agent-artifacts")],
            },
            fail={
                # 1002's download fails twice (502), then succeeds (third attempt).
                "api zip 9002": {"times": 2, "stderr": "gh: Bad Gateway (HTTP 502)"},
                # 1005's always fails: 1 + 3 retries, then it is reported.
                "api zip 9005": {"stderr": "gh: Server Error (HTTP 500)"},
            })
        self.serve(9001, zip_bytes({LEGACY: SMOKE_CLAUDE, "agent-stdio.log": "agent log\n",
                                    "aw_info.json": '{"engine": "claude"}'}))
        self.serve(9011, zip_bytes({"api-proxy-logs/token-usage.jsonl": SMOKE_CLAUDE}))
        self.serve(9002, zip_bytes({AUDIT: SMOKE_CODEX}))
        self.serve(9006, zip_bytes({LEGACY: "\n"}))
        self.serve(9007, zip_bytes({"agent-stdio.log": "no proxy\n"}))
        self.serve(9008, b"this is not a zip archive")

    # ---------------------------------------------------------------------- tests --

    def test_full_flow(self):
        self.full_scenario()
        p = self.tool("run", "--exclude-workflow", "Token Usage Report", "--retries", "3")
        url = p.stdout.strip()
        self.assertEqual(url, "https://github.com/octo/agents/issues/101")
        [issue] = self.created()
        self.assertEqual(issue["title"], "Token Usage Report: 2026-08-21")
        self.assertEqual(issue["labels"], ["token-usage-report"])
        # The label was there: `gh label create` said so, and that is fine.
        self.assertEqual(len(self.calls("label create")), 1)
        self.assertEqual(self.load_state()["labels"], ["token-usage-report"])
        body = issue["body"]
        self.assertLessEqual(len(body), 65536)

        # The manifest: one record per run of the window, with its reason.
        m = self.manifest()
        self.assertEqual(m["since"], "2026-08-20T08:00:00Z")  # report #41's collection
        self.assertEqual(m["previous_report"]["number"], 41)
        status = {r["id"]: r["status"] for r in m["runs"]}
        self.assertEqual(status, {1001: "ok", 1002: "ok", 1003: "no_artifact", 1004: "expired",
                                  1005: "download_failed", 1006: "empty",
                                  1007: "no_token_usage", 1008: "download_failed"})
        by_id = {r["id"]: r for r in m["runs"]}
        self.assertEqual(by_id[1001]["token_usage_file"],
                         "runs/smoke-claude/1001/agent-artifacts/" + LEGACY)
        self.assertEqual(by_id[1002]["token_usage_file"], "runs/smoke-codex/1002/agent/" + AUDIT)
        self.assertIn("HTTP 500", by_id[1005]["reason"])
        self.assertIn("after 4 attempt(s)", by_id[1005]["reason"])
        self.assertIn("not a valid zip archive", by_id[1008]["reason"])
        self.assertEqual(m["counts"]["ok"], 2)
        # Retries: 9002 failed twice then succeeded; 9005 and 9008 got 1 + 3 attempts.
        self.assertEqual(len(self.calls("api zip 9002")), 3)
        self.assertEqual(len(self.calls("api zip 9005")), 4)
        self.assertEqual(len(self.calls("api zip 9008")), 4)
        # Not downloaded: the expired artifact, one not needed, one whose name does not match.
        for art in (9004, 9011, 9017):
            self.assertEqual(self.calls(f"api zip {art}"), [])
        # Only the chosen log is kept (no zip, no other file of the artifact).
        kept = sorted(p.relative_to(self.out).as_posix()
                      for p in (self.out / "runs").rglob("*") if p.is_file())
        self.assertEqual(kept, ["runs/smoke-claude/1001/agent-artifacts/" + LEGACY,
                                "runs/smoke-codex/1002/agent/" + AUDIT,
                                "runs/smoke-copilot/1006/agent-artifacts/" + LEGACY])

        # Overview rows (hand-computed above).
        self.assertRegex(body, r"\| smoke-claude \| 197,558 \| \$0\.23 \| 99\.5% \| 1 \| 6\.0 \|")
        self.assertRegex(body, r"\| smoke-codex \| 28,200 \| \$0\.02 \| 74\.1% \| 1 \| 2\.0 \|")
        self.assertRegex(body, r"\| \*\*All\*\* \| \*\*225,758\*\* \| \*\*\$0\.25\*\* \|")
        # smoke-claude's details: 775 input, 1,227 output, 152,400 cache read, 43,156 write.
        self.assertIn("| 775 | 1,227 | 152,400 | 43,156 | 197,558 | 6 | $0.23 | 99.5% |", body)
        self.assertIn("<details><summary>workflow smoke-claude — 197.6K tokens, $0.23</summary>",
                      body)
        # Trend against report #41: 225,758 vs 180,000 = +25.4 %; smoke-claude 197,558 vs
        # 150,000 = +31.7 %; smoke-codex 28,200 vs 30,000 = -6.0 %.
        self.assertIn("| Total tokens | 225,758 | 180,000 | +25.4% |", body)
        self.assertIn("| smoke-claude | 197,558 | 150,000 | +31.7% |", body)
        self.assertIn("| smoke-codex | 28,200 | 30,000 | -6.0% |", body)
        self.assertIn("Previous report: [https://github.com/octo/agents/issues/41]", body)
        # Trend chart from reports #40, #41 and this one, in thousands.
        chart = re.search(r"```mermaid\n(.*?)```", body, re.S).group(1)
        self.assertIn("xychart-beta", chart)
        self.assertIn('x-axis ["08-19", "08-20", "08-21"]', chart)
        self.assertIn("line [150, 180, 225.76]", chart)
        self.assertLess(body.index("## Trend"), body.index("## History"))
        self.assertLess(body.index("## History"), body.index("## Top optimization"))
        # Coverage: 8 runs of 8 workflows, 2 with logs; not instrumented; failures named.
        self.assertIn("8 completed run(s) of 8 workflow(s) between 2026-08-20T08:00:00Z "
                      "(report #41) and 2026-08-21T08:00:00Z: **2 with token logs**, 6 without.",
                      body)
        self.assertIn("**Not yet instrumented** (no run wrote a token-usage.jsonl): Deploy "
                      "(1 run(s): no artifact); Docs (1 run(s): no token-usage.jsonl in its "
                      "artifacts).", body)
        self.assertIn("**Download failed** for 2 run(s)", body)
        self.assertIn("Secret Digger [#5](https://github.com/octo/agents/actions/runs/1005)",
                      body)
        self.assertIn("| [#4](https://github.com/octo/agents/actions/runs/1004) | Lint | "
                      "artifact expired | artifact agent-artifacts expired |", body)
        self.assertIn("empty token-usage.jsonl", body)
        for left_out in (1009, 1010, 1011, 1012):
            self.assertNotIn(f"/actions/runs/{left_out})", body)
        self.assertNotIn("| Token Usage Report |", body)
        self.assertIn("## Top optimization opportunities", body)

        # The figures the next report reads back.
        data = ghr.extract_embedded(body)
        self.assertEqual(data["totals"]["total_tokens"], 225758)
        self.assertAlmostEqual(data["totals"]["cost_usd"], 0.250435, places=6)
        self.assertEqual(data["totals"]["input_tokens"], 775 + 7000)
        self.assertEqual({g["name"]: g["total_tokens"] for g in data["groups"]},
                         {"smoke-claude": 197558, "smoke-codex": 28200})
        self.assertEqual(data["runs"], {"completed": 8, "with_logs": 2})
        self.assertFalse(data["no_data"])

    def test_next_report_reads_the_last_one(self):
        """The issue one run posts is the next run's window start, trend baseline and chart."""
        self.full_scenario()
        self.tool("run", "--exclude-workflow", "Token Usage Report")
        state = self.load_state()
        # A day later: one new smoke-claude run; the earlier runs are before the window.
        state["runs"].append(run(1020, "Smoke Claude", "2026-08-21T09:00:00Z",
                                 "2026-08-21T09:10:00Z"))
        state["artifacts"]["1020"] = [artifact(9020, "agent-artifacts")]
        state["now"] = "2026-08-22T08:00:30Z"
        state["fail"] = {}
        (self.fake / "state.json").write_text(json.dumps(state))
        self.serve(9020, zip_bytes({LEGACY: SMOKE_CLAUDE.replace("2026-08-20", "2026-08-21")}))
        self.tool("run", "--exclude-workflow", "Token Usage Report", now="2026-08-22T08:00:00Z")
        second = max(self.created(), key=lambda i: i["number"])
        self.assertEqual(second["title"], "Token Usage Report: 2026-08-22")
        m = self.manifest()
        self.assertEqual(m["since"], "2026-08-21T08:00:00Z")  # the first run's collection
        self.assertEqual([r["id"] for r in m["runs"]], [1020])
        body = second["body"]
        # 197,558 now vs 225,758: -28,200 / 225,758 = -12.5 %.
        self.assertIn("| Total tokens | 197,558 | 225,758 | -12.5% |", body)
        # smoke-codex had no run: 0 vs 28,200 = -100 %.
        self.assertIn("| smoke-codex | 0 | 28,200 | -100.0% |", body)
        self.assertIn("Previous report: [https://github.com/octo/agents/issues/101]", body)
        self.assertIn('x-axis ["08-19", "08-20", "08-21", "08-22"]', body)
        self.assertIn("line [150, 180, 225.76, 197.56]", body)

    def test_no_runs_posts_minimal_report(self):
        self.state(labels=[], issues=[], runs=[], artifacts={})
        p = self.tool("run")
        self.assertEqual(p.returncode, 0)
        self.assertEqual(len(self.calls("label create")), 1)  # created: it was missing
        [issue] = self.created()
        self.assertEqual(issue["title"], "Token Usage Report: 2026-08-21")
        self.assertEqual(issue["labels"], ["token-usage-report"])
        body = issue["body"]
        self.assertIn("**No token usage data** for this period: no completed workflow runs.",
                      body)
        self.assertIn("No completed workflow runs between 2026-08-20T08:00:00Z (24 hours back: "
                      "no earlier report) and 2026-08-21T08:00:00Z.\n\n", body)
        self.assertNotIn("mermaid", body)  # no earlier report: no chart
        self.assertTrue(ghr.extract_embedded(body)["no_data"])

    def test_runs_without_logs_still_report_with_chart(self):
        """Only uninstrumented runs, but prior reports: the minimal body keeps the chart."""
        self.state(labels=["token-usage-report"],
                   issues=[report_issue(41, "2026-08-20", "2026-08-20T08:00:00Z",
                                        "2026-08-20T08:00:20Z", 180000, 0.25, 0.95, {}),
                           report_issue(40, "2026-08-19", "2026-08-19T08:00:00Z",
                                        "2026-08-19T08:00:20Z", 150000, 0.2, 0.9, {})],
                   runs=[run(1003, "Deploy", "2026-08-20T15:00:00Z", "2026-08-20T15:02:00Z")],
                   artifacts={"1003": []})
        self.tool("run")
        body = self.created()[0]["body"]
        self.assertIn("none of the runs left a token-usage.jsonl", body)
        self.assertIn("**Not yet instrumented** (no run wrote a token-usage.jsonl): Deploy", body)
        self.assertIn("Previous report: [#41](https://github.com/octo/agents/issues/41)", body)
        self.assertIn('x-axis ["08-19", "08-20"]', body)  # no point for a report without data

    def test_failing_gh_is_retried_then_reported(self):
        self.state(labels=["token-usage-report"], issues=[], runs=[], artifacts={},
                   fail={"run list": {"stderr": "HTTP 503: Service Unavailable "
                                                "(https://api.github.com/repos/octo/agents)"},
                         "issue list": {"times": 1, "stderr": "HTTP 502: Bad Gateway"}})
        p = self.tool("run", "--retries", "2")
        self.assertEqual(len(self.calls("run list")), 3)  # 1 + 2 retries
        self.assertIn("listing workflow runs (gh run list): HTTP 503", p.stderr)
        body = self.created()[0]["body"]
        self.assertIn("**Warning:** listing workflow runs (gh run list): HTTP 503: Service "
                      "Unavailable", body)
        self.assertIn("(after 3 attempts)", body)
        self.assertIn("**No token usage data**", body)

    def test_permanent_failure_is_not_retried(self):
        self.state(labels=["token-usage-report"], issues=[], artifacts={"1003": []},
                   runs=[run(1003, "Deploy", "2026-08-20T15:00:00Z", "2026-08-20T15:02:00Z")],
                   fail={"api artifacts 1003": {"stderr": "gh: Resource not accessible by "
                                                          "integration (HTTP 403)"}})
        self.tool("collect")
        self.assertEqual(len(self.calls("api artifacts 1003")), 1)
        [r] = self.manifest()["runs"]
        self.assertEqual(r["status"], "download_failed")
        self.assertIn("HTTP 403", r["reason"])

    def test_issue_create_retry_does_not_duplicate(self):
        self.state(labels=["token-usage-report"], issues=[], runs=[], artifacts={},
                   fail={"issue create": {"times": 1, "stderr": "HTTP 502: Bad Gateway"}})
        self.tool("run")
        self.assertEqual(len(self.calls("issue create")), 2)
        self.assertEqual(len(self.created()), 1)

    def test_issue_create_failure_exits_1(self):
        self.state(labels=["token-usage-report"], issues=[], runs=[], artifacts={},
                   fail={"issue create": {"stderr": "HTTP 422: Validation Failed"}})
        p = self.tool("run", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("gh issue create failed after 1 attempt(s): HTTP 422", p.stderr)
        self.assertIn("issue.md", p.stderr)

    def test_body_stays_under_the_limit(self):
        runs, arts = [], {}
        for i in range(12):
            id_ = 1100 + i
            runs.append(run(id_, f"Agent {i:02d}", "2026-08-20T10:00:00Z",
                            "2026-08-20T10:10:00Z"))
            arts[str(id_)] = [artifact(9100 + i, "agent-artifacts")]
            self.serve(9100 + i, zip_bytes({LEGACY: SMOKE_CLAUDE}))
        self.state(labels=["token-usage-report"], issues=[], runs=runs, artifacts=arts)
        self.tool("run", "--max-chars", "9000")
        body = self.created()[0]["body"]
        self.assertLessEqual(ghr.body_size(body), 9000)
        self.assertRegex(body, r"\*\*Note:\*\* \d+ of \d+ collapsible section\(s\) were left out")
        self.assertEqual(ghr.extract_embedded(body)["totals"]["total_tokens"], 12 * 197558)
        full = (self.out / "report.md").read_text()
        self.assertGreater(len(full), 9000)
        self.assertEqual(full.count("<details><summary>workflow agent-"), 12)
        # Far too small for anything but the head: cut at a line, still valid and parseable.
        self.tool("render", "--max-chars", "2500")
        body = (self.out / "issue.md").read_text()
        self.assertLessEqual(ghr.body_size(body), 2500)
        self.assertIn("the report was cut here", body)
        self.assertIsNotNone(ghr.extract_embedded(body))

    def test_bad_input_gets_a_clear_message(self):
        self.state(labels=[], issues=[], runs=[], artifacts={})
        cases = [
            (["collect", "--gh", str(self.tmp / "no-gh")], 2, "--gh: "),
            (["collect", "--since", "yesterday"], 2, "--since: bad time 'yesterday'"),
            (["collect", "--limit", "0"], 2, "--limit: must be at least 1"),
            (["collect", "--bogus"], 2, "unrecognized arguments: --bogus"),
            (["render"], 2, "manifest.json not found"),
            (["post"], 2, "title.txt not found"),
            (["render", "--tokmeter", str(self.tmp / "none")], 2, "--tokmeter: "),
            ([], 2, "the following arguments are required: COMMAND"),
        ]
        for args, code, message in cases:
            with self.subTest(args=args):
                p = self.tool(*args, check=False)
                self.assertEqual(p.returncode, code, p.stderr)
                self.assertIn(message, p.stderr)
        self.out.mkdir(exist_ok=True)
        (self.out / "manifest.json").write_text("{not json")
        p = self.tool("render", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("manifest.json: not JSON", p.stderr)
        # An output folder that cannot be made (a file is in the way).
        (self.tmp / "afile").write_text("x")
        p = self.tool("collect", "--out", str(self.tmp / "afile" / "out"), check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"cannot use {self.tmp / 'afile' / 'out'}: Not a directory", p.stderr)
        # A folder that already has runs/ but no manifest is not overwritten.
        other = self.tmp / "mine"
        (other / "runs").mkdir(parents=True)
        p = self.tool("collect", "--out", str(other), check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("is not a previous collection", p.stderr)
        self.assertTrue((other / "runs").is_dir())

    def test_malformed_gh_json_is_reported(self):
        self.state(labels=["token-usage-report"], issues=[], runs=[], artifacts={},
                   raw_issue_list="[{\"number\": 4")
        p = self.tool("run", "--retries", "1")
        self.assertIn("malformed JSON from `gh issue list`", p.stderr)
        self.assertIn("malformed JSON from `gh issue list`", self.created()[0]["body"])

    def test_help_is_complete(self):
        p = self.tool("--help")
        for word in ("collect", "render", "post", "run", "Exit codes"):
            self.assertIn(word, p.stdout)
        p = self.tool("run", "--help", "--out", "x")
        for flag in ("--since", "--workflow", "--exclude-workflow", "--artifact", "--limit",
                     "--retries", "--retry-delay", "--repo", "--tokmeter", "--max-chars",
                     "--dry-run", "--label", "--out"):
            self.assertIn(flag, p.stdout)


class PiecesTest(unittest.TestCase):
    def test_embedded_json_survives_comment_closers(self):
        data = {"schema": "tokmeter-gh-report/1", "groups": [{"name": "a --> <b> & c"}]}
        text = ghr.embed(data)
        self.assertEqual(text.count("-->"), 1)
        self.assertEqual(ghr.extract_embedded("intro\n" + text + "outro")["groups"][0]["name"],
                         "a --> <b> & c")
        self.assertIsNone(ghr.extract_embedded("no figures here"))
        self.assertIsNone(ghr.extract_embedded("<!-- tokmeter-gh-report/1\n{broken\n-->"))

    def test_best_location_wins(self):
        tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, tmp, True)
        z = tmp / "a.zip"
        z.write_bytes(zip_bytes({
            "other/token-usage.jsonl": "x\n",
            AUDIT: "audit\n",
            LEGACY: "\n",  # best place, but empty: the next one is taken
            "../escape/token-usage.jsonl": "evil\n",
        }))
        chosen, blank, others = ghr.extract_token_usage(z, tmp / "out")
        self.assertEqual(chosen.relative_to(tmp / "out").as_posix(), AUDIT)
        self.assertFalse(blank)
        self.assertEqual(sorted(others), sorted([LEGACY, "other/token-usage.jsonl"]))
        self.assertFalse((tmp / "escape").exists())

    def test_transient_or_permanent(self):
        self.assertEqual(ghr.classify("gh: Server Error (HTTP 500)"), (False, False))
        self.assertEqual(ghr.classify("HTTP 403: API rate limit exceeded"), (False, False))
        self.assertEqual(ghr.classify("gh: Not Found (HTTP 404)"), (True, False))
        self.assertEqual(ghr.classify("gh: Artifact has expired (HTTP 410)"), (True, True))
        self.assertEqual(ghr.classify("HTTP 401: Bad credentials"), (True, False))


class WorkflowFileTest(unittest.TestCase):
    def test_parses_with_triggers_and_permissions(self):
        import yaml  # Debian's python3-yaml (scripts/setup)

        with open(WORKFLOW, encoding="utf-8") as f:
            wf = yaml.safe_load(f)
        on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
        self.assertEqual(on["schedule"], [{"cron": "0 8 * * *"}])
        self.assertIn("workflow_dispatch", on)
        self.assertEqual(wf["permissions"], {"actions": "read", "issues": "write",
                                             "contents": "read"})
        steps = [s for job in wf["jobs"].values() for s in job["steps"]]
        script = "\n".join(s.get("run", "") for s in steps)
        self.assertIn("cmake --install", script)
        self.assertIn("tokmeter-gh-report run", script)


if __name__ == "__main__":
    unittest.main()
