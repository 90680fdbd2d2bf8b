#!/usr/bin/env python3
"""tokmeter-gh-report: the daily token usage report of a GitHub repository's agentic workflows.

  collect  find the last report issue, list the workflow runs completed since, download their
           artifacts and extract token-usage.jsonl into OUT/runs/{workflow}/{run}/, write
           OUT/manifest.json (every run, with or without logs, and why)
  render   run `tokmeter report` over the collected logs and compose the issue body
           (OUT/issue.md, OUT/title.txt; the full body, never cut, in OUT/report.md)
  post     create the label if it is missing, then the issue (`gh issue create`)
  run      collect, render and post

Everything GitHub goes through the GitHub CLI (`gh`, authenticated by GH_TOKEN); the numbers come
from the `tokmeter` command. Only the Python standard library is used. docs/GH_REPORT.md has the
flow, the manifest format and the embedded-JSON convention.

Exit codes: 0 done (also when there is no data, and when single runs could not be fetched: those
are listed in the manifest and the report); 1 the issue could not be created, or tokmeter failed;
2 bad flags or input (the message names the flag or file).
"""

import argparse
import datetime as dt
import fnmatch
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path, PurePosixPath

PROG = "tokmeter-gh-report"
MANIFEST_SCHEMA = "tokmeter-gh-report-manifest/1"
EMBED_SCHEMA = "tokmeter-gh-report/1"
DEFAULT_LABEL = "token-usage-report"
TITLE_PREFIX = "Token Usage Report: "
GITHUB_BODY_LIMIT = 65536  # characters in an issue body

# Artifacts that can hold token-usage.jsonl, in the order they are tried (fnmatch patterns).
# gh-aw uploads the agent's sandbox as `agent-artifacts` (newer releases: `agent`); older
# firewall releases uploaded their logs as a separate `firewall-audit-logs` artifact.
DEFAULT_ARTIFACTS = ("agent-artifacts", "agent", "firewall-audit-logs*", "firewall-logs*")

# Where the api-proxy's token-usage.jsonl sits inside an artifact, best first (matched as a
# path suffix). Any other `token-usage.jsonl` is taken after these.
TOKEN_USAGE_LOCATIONS = (
    "sandbox/firewall/logs/api-proxy-logs/token-usage.jsonl",  # first releases
    "sandbox/firewall/audit/api-proxy-logs/token-usage.jsonl",  # firewall >= 0.27.7 (audit dir)
    "sandbox/firewall-audit-logs/api-proxy-logs/token-usage.jsonl",
    "api-proxy-logs/token-usage.jsonl",  # the root of a firewall-audit-logs artifact
)
TOKEN_USAGE_NAME = "token-usage.jsonl"

# Completed runs that never started a job: nothing to collect, left out of the report.
NOT_RUN_CONCLUSIONS = ("skipped", "startup_failure", "action_required")

RUN_FIELDS = ("databaseId,workflowName,workflowDatabaseId,status,conclusion,createdAt,"
              "updatedAt,url,event,number,headBranch")

# Why a run has no usable log (manifest `status`), and how the report words it.
STATUS_TEXT = {
    "ok": "token-usage.jsonl found",
    "no_artifact": "no artifact",
    "no_token_usage": "no token-usage.jsonl in its artifacts",
    "empty": "empty token-usage.jsonl",
    "expired": "artifact expired",
    "download_failed": "download failed",
}
# Statuses that say the workflow does not write token logs (as opposed to: logs lost or unknown).
NOT_INSTRUMENTED = ("no_artifact", "no_token_usage")


class UsageError(Exception):
    """Bad flags or input: the message names what and where; exit 2."""


class ToolError(Exception):
    """A step that cannot go on (tokmeter failed, the issue was not created); exit 1."""


class GhError(Exception):
    """A failed `gh` call. `permanent`: retrying cannot help (not found, gone, no permission)."""

    def __init__(self, message, permanent=False, expired=False):
        super().__init__(message)
        self.permanent = permanent
        self.expired = expired


def log(msg):
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ time --


def parse_time(text, what):
    """RFC 3339 or YYYY-MM-DD (midnight UTC) -> aware UTC datetime; UsageError naming `what`."""
    s = (text or "").strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            return dt.datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        t = dt.datetime.fromisoformat(s)
    except ValueError:
        t = None
    if t is None or t.tzinfo is None:
        raise UsageError(f"{what}: bad time '{text}' (expected YYYY-MM-DD or RFC 3339, "
                         "e.g. 2026-08-20T08:00:00Z)")
    return t.astimezone(dt.timezone.utc)


def maybe_time(text):
    try:
        return parse_time(text, "time")
    except UsageError:
        return None


def iso(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc():
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


# -------------------------------------------------------------------- gh --

# Failures worth another try: GitHub's 5xx and rate limits, network trouble.
TRANSIENT = re.compile(
    r"HTTP 5\d\d|HTTP 429|rate limit|timed? ?out|timeout|connection (reset|refused)|"
    r"\bEOF\b|TLS handshake|temporar|try again|unexpected end of JSON", re.I)
# Failures that another try cannot fix: the thing is not there, or we may not see it.
PERMANENT = re.compile(
    r"HTTP (400|401|403|404|410|422)\b|Not Found|Bad credentials|could not resolve to a "
    r"Repository|unknown (command|flag|shorthand flag)|authentication|gh auth login|"
    r"already exists", re.I)


def classify(stderr):
    """GhError flags for a failed call's stderr: (permanent, expired)."""
    expired = bool(re.search(r"HTTP 410\b|artifact (has )?expired", stderr, re.I))
    if TRANSIENT.search(stderr):
        return False, expired
    return bool(PERMANENT.search(stderr)), expired


def first_line(text, limit=300):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    s = lines[0] if lines else ""
    return s if len(s) <= limit else s[:limit] + "…"


class Gh:
    """Runs `gh`, retrying transient failures with exponential backoff."""

    def __init__(self, binary, repo, retries, retry_delay, timeout):
        path = shutil.which(binary)
        if path is None:
            raise UsageError(f"--gh: '{binary}' not found (the GitHub CLI; install it, e.g. "
                             "`apt-get install gh`, or pass --gh PATH)")
        self.binary = path
        self.repo = repo
        self.retries = retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.calls = 0

    def repo_args(self):
        return ["-R", self.repo] if self.repo else []

    def api_path(self, path):
        """An API path with the repository filled in (else gh fills `{owner}/{repo}`)."""
        return path.replace("{owner}/{repo}", self.repo) if self.repo else path

    def once(self, args, stdout_path=None):
        """One call: stdout as text (or written to stdout_path). Raises GhError."""
        self.calls += 1
        cmd = [self.binary] + args
        try:
            if stdout_path is not None:
                with open(stdout_path, "wb") as f:
                    p = subprocess.run(cmd, stdout=f, stderr=subprocess.PIPE,
                                       stdin=subprocess.DEVNULL, timeout=self.timeout)
                out = None
            else:
                p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, timeout=self.timeout)
                out = p.stdout.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            raise GhError(f"`gh {' '.join(args[:2])}` timed out after {self.timeout:g} s")
        except OSError as e:
            raise GhError(f"cannot run {self.binary}: {e.strerror}", permanent=True)
        if p.returncode != 0:
            err = p.stderr.decode("utf-8", "replace")
            permanent, expired = classify(err)
            raise GhError(first_line(err) or f"`gh {' '.join(args[:2])}` exited with "
                          f"{p.returncode}", permanent, expired)
        return out

    def retry(self, fn, what):
        """fn() until it returns, a permanent GhError, or retries+1 attempts; (value, attempts)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn(), attempt
            except GhError as e:
                if e.permanent or attempt > self.retries:
                    e.attempts = attempt
                    raise
                delay = min(self.retry_delay * 2 ** (attempt - 1), 60.0)
                log(f"{what}: {e} (attempt {attempt} of {self.retries + 1}; "
                    f"retrying in {delay:g} s)")
                time.sleep(delay)

    def run(self, args, what):
        return self.retry(lambda: self.once(args), what)[0]

    def json(self, args, what):
        def call():
            text = self.once(args)
            try:
                return json.loads(text)
            except ValueError as e:
                raise GhError(f"malformed JSON from `gh {' '.join(args[:2])}`: {e}")
        return self.retry(call, what)[0]


# ----------------------------------------------------------- embedded JSON --

EMBED_RE = re.compile(r"<!--\s*" + re.escape(EMBED_SCHEMA) + r"\s*")


def embed(data):
    """The HTML comment that carries a report's figures in its issue body (invisible there)."""
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    # `<` and `>` occur only inside JSON strings, where \u escapes mean the same: the comment
    # cannot be closed early by a workflow name.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"<!-- {EMBED_SCHEMA}\n{text}\n-->\n"


def extract_embedded(body):
    """The figures embedded in an issue body, or None."""
    m = EMBED_RE.search(body or "")
    if not m:
        return None
    try:
        data, _ = json.JSONDecoder().raw_decode(body, m.end())
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("schema") != EMBED_SCHEMA:
        return None
    return data


# ---------------------------------------------------------------- collect --


def slug(name):
    s = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.")
    return s or "workflow"


def safe_member(name):
    """A zip member path that stays inside the folder it is extracted to, else None."""
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or any(part in ("..", "") for part in p.parts) or not p.parts:
        return None
    if re.match(r"^[A-Za-z]:", p.parts[0]):
        return None
    return p


def location_rank(member):
    for i, loc in enumerate(TOKEN_USAGE_LOCATIONS):
        if member == loc or member.endswith("/" + loc):
            return i
    return len(TOKEN_USAGE_LOCATIONS)


def is_blank_file(path):
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 16)
            if not chunk:
                return True
            if chunk.strip():
                return False


def extract_token_usage(zip_path, dest):
    """Extracts the best token-usage.jsonl of an artifact zip into dest.

    Returns (chosen, blank, others): chosen is the extracted Path or None, blank whether it has no
    non-blank line, others the member names of further candidates (not extracted). Raises
    zipfile.BadZipFile (also for a CRC error) and OSError.
    """
    with zipfile.ZipFile(zip_path) as z:
        cands = []
        for info in z.infolist():
            if info.is_dir() or PurePosixPath(info.filename).name != TOKEN_USAGE_NAME:
                continue
            p = safe_member(info.filename)
            if p is not None:
                cands.append((location_rank(str(p)), str(p), info))
        cands.sort(key=lambda c: (c[0], c[1]))
        chosen, blank, others = None, True, []
        for _, name, info in cands:
            if chosen is not None and not blank:
                others.append(name)
                continue
            target = dest.joinpath(*PurePosixPath(name).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            if chosen is not None:
                if is_blank_file(target):  # keep the better-placed blank one
                    others.append(name)
                    target.unlink()
                    continue
                others.append(chosen.relative_to(dest).as_posix())
                chosen.unlink()
            chosen = target
            blank = is_blank_file(target)
        return chosen, blank, others


class Collector:
    def __init__(self, args, gh):
        self.args = args
        self.gh = gh
        self.out = Path(args.out)
        self.patterns = args.artifact or list(DEFAULT_ARTIFACTS)
        self.errors = []

    def error(self, what, e):
        msg = f"{what}: {e}"
        if getattr(e, "attempts", 1) > 1:
            msg += f" (after {e.attempts} attempts)"
        log(msg)
        self.errors.append(msg)

    # -- previous reports --

    def reports(self):
        """Report issues, newest first: number, title, url, created_at, data (embedded or None)."""
        try:
            issues = self.gh.json(
                ["issue", "list", "--label", self.args.label, "--state", "all", "--limit",
                 str(self.args.history), "--json", "number,title,url,createdAt,body"]
                + self.gh.repo_args(), "listing report issues")
        except GhError as e:
            self.error("listing previous report issues (gh issue list)", e)
            return []
        if not isinstance(issues, list):
            self.error("listing previous report issues (gh issue list)",
                       "expected a JSON array")
            return []
        out = []
        for i in issues:
            if not isinstance(i, dict) or not str(i.get("title", "")).startswith(TITLE_PREFIX):
                continue
            created = maybe_time(str(i.get("createdAt", "")))
            if created is None:
                continue
            out.append({"number": i.get("number"), "title": i.get("title"), "url": i.get("url"),
                        "created_at": iso(created), "data": extract_embedded(i.get("body"))})
        out.sort(key=lambda r: r["created_at"], reverse=True)
        return out

    # -- runs --

    def list_runs(self, since, until):
        try:
            runs = self.gh.json(["run", "list", "--limit", str(self.args.limit), "--json",
                                 RUN_FIELDS] + self.gh.repo_args(), "listing workflow runs")
        except GhError as e:
            self.error("listing workflow runs (gh run list)", e)
            return [], False
        if not isinstance(runs, list):
            self.error("listing workflow runs (gh run list)", "expected a JSON array")
            return [], False
        include = {w.lower() for w in self.args.workflow or []}
        exclude = {w.lower() for w in self.args.exclude_workflow or []}
        picked, oldest = [], None
        for r in runs:
            if not isinstance(r, dict) or not isinstance(r.get("databaseId"), int):
                continue
            created = maybe_time(str(r.get("createdAt", "")))
            updated = maybe_time(str(r.get("updatedAt", ""))) or created
            if created is None:
                continue
            oldest = created if oldest is None else min(oldest, created)
            name = str(r.get("workflowName") or "(unnamed)")
            if include and name.lower() not in include:
                continue
            if name.lower() in exclude:
                continue
            if r.get("status") != "completed" or r.get("conclusion") in NOT_RUN_CONCLUSIONS:
                continue
            if not (since <= updated <= until):
                continue
            picked.append(dict(r, workflowName=name, _created=created, _updated=updated))
        # gh lists the newest first: a full page whose oldest run is still in the window may
        # have left older runs of the window out.
        truncated = len(runs) >= self.args.limit and oldest is not None and oldest >= since
        if truncated:
            log(f"warning: gh run list returned --limit {self.args.limit} runs, all since "
                f"{iso(since)}: older runs of the window may be missing (raise --limit)")
        picked.sort(key=lambda r: (r["_created"], r["databaseId"]))
        return picked, truncated

    def workflow_dirs(self, runs):
        """Workflow name -> folder name under runs/, unique per workflow."""
        dirs, used = {}, {}
        for r in runs:
            name = r["workflowName"]
            if name in dirs:
                continue
            d = slug(name)
            if d in used and used[d] != name:
                d = f"{d}-{r.get('workflowDatabaseId') or len(used)}"
            used[d] = name
            dirs[name] = d
        return dirs

    def artifacts(self, run_id):
        items, page = [], 1
        while True:
            data = self.gh.json(
                ["api", self.gh.api_path(f"repos/{{owner}}/{{repo}}/actions/runs/{run_id}/"
                                         f"artifacts?per_page=100&page={page}")],
                f"run {run_id}: listing artifacts")
            got = data.get("artifacts") if isinstance(data, dict) else None
            if not isinstance(got, list):
                raise GhError("malformed artifact list (no `artifacts` array)")
            items += [a for a in got if isinstance(a, dict) and "id" in a]
            total = data.get("total_count")
            if not got or not isinstance(total, int) or len(items) >= total or page >= 50:
                return items
            page += 1

    def download(self, run_id, artifact, run_dir):
        """Downloads and extracts one artifact; (chosen, blank, others, attempts)."""
        zip_path = run_dir / f".{artifact['id']}.zip"
        dest = run_dir / safe_dir_name(str(artifact.get("name", artifact["id"])))
        what = f"run {run_id}: downloading artifact {artifact.get('name')}"

        def attempt():
            self.gh.once(["api", self.gh.api_path(
                f"repos/{{owner}}/{{repo}}/actions/artifacts/{artifact['id']}/zip")],
                stdout_path=zip_path)
            try:
                return extract_token_usage(zip_path, dest)
            except (zipfile.BadZipFile, EOFError) as e:
                shutil.rmtree(dest, ignore_errors=True)
                raise GhError(f"not a valid zip archive ({e})")

        try:
            (chosen, blank, others), attempts = self.gh.retry(attempt, what)
        finally:
            if not self.args.keep_archives:
                zip_path.unlink(missing_ok=True)
        return chosen, blank, others, attempts

    def collect_run(self, r, wdir):
        run_id = r["databaseId"]
        rec = {"id": run_id, "workflow": r["workflowName"], "workflow_dir": wdir,
               "number": r.get("number"), "url": r.get("url"), "event": r.get("event"),
               "branch": r.get("headBranch"), "conclusion": r.get("conclusion"),
               "created_at": iso(r["_created"]), "updated_at": iso(r["_updated"]),
               "status": None, "reason": None, "token_usage_file": None, "other_files": [],
               "artifacts": []}
        run_dir = self.out / "runs" / wdir / str(run_id)
        try:
            arts = self.artifacts(run_id)
        except GhError as e:
            rec["status"], rec["reason"] = "download_failed", f"listing its artifacts: {e}"
            return rec
        names = [str(a.get("name")) for a in arts]
        matching, seen = [], set()
        for pat in self.patterns:
            for a in arts:
                if fnmatch.fnmatchcase(str(a.get("name")), pat) and a["id"] not in seen:
                    matching.append(a)
                    seen.add(a["id"])
        for a in arts:
            rec["artifacts"].append({"id": a["id"], "name": a.get("name"),
                                     "size_in_bytes": a.get("size_in_bytes"),
                                     "expired": bool(a.get("expired")),
                                     "result": "matched" if a["id"] in seen else "not matched"})
        if not matching:
            rec["status"] = "no_artifact"
            rec["reason"] = ("no artifacts" if not arts else
                             f"no artifact named {' or '.join(self.patterns)} "
                             f"(it has {', '.join(sorted(names))})")
            return rec
        results = {r["id"]: r for r in rec["artifacts"]}
        expired, failed, empty, absent = [], [], [], []
        for a in matching:
            res = results[a["id"]]
            name = str(a.get("name"))
            if a.get("expired"):
                res["result"] = "expired"
                expired.append(name)
                continue
            run_dir.mkdir(parents=True, exist_ok=True)
            try:
                chosen, blank, others, attempts = self.download(run_id, a, run_dir)
            except GhError as e:
                if e.expired:
                    res["result"] = "expired"
                    expired.append(name)
                else:
                    res["result"] = f"download failed: {e}"
                    res["attempts"] = getattr(e, "attempts", 1)
                    failed.append(f"{name}: {e} (after {res['attempts']} attempt(s))")
                continue
            except OSError as e:
                res["result"] = f"cannot write: {e}"
                failed.append(f"{name}: cannot write {e.filename}: {e.strerror}")
                continue
            res["attempts"] = attempts
            if chosen is None:
                res["result"] = "no token-usage.jsonl"
                absent.append(name)
                continue
            rel = chosen.relative_to(self.out).as_posix()
            rec["other_files"] += [f"{name}/{o}" for o in others]
            if blank:
                res["result"] = "empty token-usage.jsonl"
                empty.append(rel)
                if rec["token_usage_file"] is None:
                    rec["token_usage_file"] = rel
                continue
            res["result"] = "token-usage.jsonl"
            rec["token_usage_file"] = rel
            for later in matching[matching.index(a) + 1:]:
                if results[later["id"]]["result"] == "matched":
                    results[later["id"]]["result"] = "not needed"
            rec["status"], rec["reason"] = "ok", rel
            return rec
        # No usable log: the most telling reason first.
        if empty:
            rec["status"], rec["reason"] = "empty", f"{empty[0]} has no line"
        elif failed:
            rec["status"], rec["reason"] = "download_failed", "; ".join(failed)
        elif expired:
            rec["status"], rec["reason"] = "expired", f"artifact {', '.join(expired)} expired"
        else:
            rec["status"] = "no_token_usage"
            rec["reason"] = f"no {TOKEN_USAGE_NAME} in {', '.join(absent)}"
        return rec

    def collect(self):
        a = self.args
        self.out.mkdir(parents=True, exist_ok=True)
        runs_dir = self.out / "runs"
        manifest_path = self.out / "manifest.json"
        if runs_dir.exists():
            if not manifest_path.exists():
                raise UsageError(f"--out: {runs_dir} is not a previous collection "
                                 f"({manifest_path} is missing); choose another --out")
            shutil.rmtree(runs_dir)
        runs_dir.mkdir()
        # What an earlier collection here left: never mix it with this one.
        for stale in ("previous.json", "report.json", "report.md", "issue.md", "title.txt",
                      "issue-url.txt"):
            (self.out / stale).unlink(missing_ok=True)

        collected_at = parse_time(a.now, "--now") if a.now else now_utc()
        reports = self.reports()
        last = reports[0] if reports else None
        if a.since:
            since, since_from = parse_time(a.since, "--since"), "--since"
        elif last is not None:
            t = maybe_time(str((last["data"] or {}).get("collected_at", "")))
            since = t or parse_time(last["created_at"], "issue createdAt")
            since_from = f"report #{last['number']}"
        else:
            since, since_from = collected_at - dt.timedelta(days=1), "24 hours back: no earlier report"
        log(f"collecting runs completed from {iso(since)} ({since_from}) to {iso(collected_at)}")

        baseline = next((r for r in reports if r["data"] and not r["data"].get("no_data")
                         and isinstance(r["data"].get("totals"), dict)), None)
        if baseline is not None:
            write_json(self.out / "previous.json", baseline["data"])
        history = []
        for r in reports[:a.history]:
            d = r["data"]
            if not d or d.get("no_data") or not isinstance(d.get("totals"), dict):
                continue
            history.append({"number": r["number"], "url": r["url"],
                            "date": str(d.get("date") or r["created_at"][:10]),
                            "total_tokens": d["totals"].get("total_tokens"),
                            "cost_usd": d["totals"].get("cost_usd")})
        history.reverse()

        runs, truncated = self.list_runs(since, collected_at)
        dirs = self.workflow_dirs(runs)
        records = []
        for i, r in enumerate(runs, 1):
            rec = self.collect_run(r, dirs[r["workflowName"]])
            log(f"[{i}/{len(runs)}] {r['workflowName']} run {r['databaseId']}: "
                f"{STATUS_TEXT[rec['status']]}"
                + ("" if rec["status"] == "ok" else f" ({rec['reason']})"))
            records.append(rec)

        def ref(r):
            return None if r is None else {"number": r["number"], "url": r["url"],
                                           "created_at": r["created_at"],
                                           "date": (r["data"] or {}).get("date")}

        manifest = {
            "schema": MANIFEST_SCHEMA,
            "repository": a.repo,
            "collected_at": iso(collected_at),
            "since": iso(since),
            "since_from": since_from,
            "artifact_patterns": list(self.patterns),
            "previous_report": ref(last),
            "baseline_report": ref(baseline),
            "history": history,
            "list_truncated": truncated,
            "errors": self.errors,
            "counts": {s: sum(1 for r in records if r["status"] == s) for s in STATUS_TEXT},
            "runs": records,
        }
        write_json(manifest_path, manifest, indent=2)
        c = manifest["counts"]
        log(f"{len(records)} run(s): {c['ok']} with token logs, {len(records) - c['ok']} "
            f"without; manifest {manifest_path}")
        return manifest


def safe_dir_name(name):
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return s or "artifact"


def write_json(path, data, indent=None):
    tmp = Path(str(path) + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=indent, sort_keys=indent is None)
            f.write("\n")
        os.replace(tmp, path)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}")


# ----------------------------------------------------------------- render --


def body_size(text):
    """Length as GitHub may count it (UTF-16 code units; never less than characters)."""
    return len(text.encode("utf-16-le")) // 2


def thousands(n):
    return f"{int(n):,}" if isinstance(n, (int, float)) else "–"


def usd(v):
    if not isinstance(v, (int, float)):
        return "unpriced"
    return f"${v:.4f}" if 0 < v < 0.01 else f"${v:.2f}"


def md_escape(s):
    return re.sub(r"([\\*\[\]|<>])", r"\\\1", str(s))


def find_tokmeter(flag):
    if flag:
        if shutil.which(flag) is None:
            raise UsageError(f"--tokmeter: '{flag}' not found or not executable")
        return shutil.which(flag)
    beside = Path(os.path.realpath(__file__)).parent / "tokmeter"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("tokmeter")
    if found is None:
        raise UsageError("tokmeter not found beside this program or on PATH (pass --tokmeter)")
    return found


def run_tokmeter(binary, args, cwd):
    try:
        p = subprocess.run([binary] + args, cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    except OSError as e:
        raise ToolError(f"cannot run {binary}: {e.strerror}")
    if p.returncode != 0:
        err = p.stderr.decode("utf-8", "replace").strip()
        raise (UsageError if p.returncode == 2 else ToolError)(
            f"`tokmeter {args[0]}` failed ({p.returncode}): {err}")
    return p.stdout.decode("utf-8")


def load_manifest(out):
    path = Path(out) / "manifest.json"
    try:
        with open(path, encoding="utf-8") as f:
            m = json.load(f)
    except FileNotFoundError:
        raise UsageError(f"--out: {path} not found (run `{PROG} collect --out {out}` first)")
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}")
    except ValueError as e:
        raise UsageError(f"{path}: not JSON ({e})")
    if not isinstance(m, dict) or m.get("schema") != MANIFEST_SCHEMA or \
            not isinstance(m.get("runs"), list):
        raise UsageError(f"{path}: not a {PROG} manifest (schema {MANIFEST_SCHEMA})")
    for r in m["runs"]:
        if not isinstance(r, dict) or r.get("status") not in STATUS_TEXT:
            raise UsageError(f"{path}: a run without a known status: {str(r)[:200]}")
    return m


def split_sections(md):
    """Markdown -> (preamble, [section text starting with '## ']) at level-2 headings."""
    parts = re.split(r"(?m)^(?=## )", md)
    return parts[0], parts[1:]


def run_link(r):
    label = f"#{r['number']}" if r.get("number") is not None else str(r["id"])
    return f"[{label}]({r['url']})" if r.get("url") else label


def coverage_section(m):
    """'Runs collected': what was looked at, which workflows are not instrumented, failures."""
    runs = m["runs"]
    lines = ["## Runs collected", ""]
    since = f"{m['since']} ({m.get('since_from')})"
    if not runs:
        lines += [f"No completed workflow runs between {since} and {m['collected_at']}.", ""]
    else:
        wf = {}
        for r in runs:
            wf.setdefault(r["workflow"], []).append(r)
        ok = sum(1 for r in runs if r["status"] == "ok")
        lines.append(f"{len(runs)} completed run(s) of {len(wf)} workflow(s) between {since} "
                     f"and {m['collected_at']}: **{ok} with token logs**, {len(runs) - ok} "
                     "without.")
        lines.append("")
        not_instr = [(w, rs) for w, rs in sorted(wf.items())
                     if all(r["status"] in NOT_INSTRUMENTED for r in rs)]
        if not_instr:
            items = []
            for w, rs in not_instr:
                why = sorted({STATUS_TEXT[r["status"]] for r in rs})
                items.append(f"{md_escape(w)} ({len(rs)} run(s): {', '.join(why)})")
            lines.append("**Not yet instrumented** (no run wrote a token-usage.jsonl): "
                         + "; ".join(items) + ".")
            lines.append("")
        failed = [r for r in runs if r["status"] == "download_failed"]
        if failed:
            lines.append(f"**Download failed** for {len(failed)} run(s); their tokens are "
                         "missing from the figures below:")
            for r in failed:
                lines.append(f"- {md_escape(r['workflow'])} {run_link(r)}: "
                             f"{md_escape(r['reason'])}")
            lines.append("")
        rows = []
        for w, rs in sorted(wf.items()):
            n_ok = sum(1 for r in rs if r["status"] == "ok")
            why = {}
            for r in rs:
                if r["status"] != "ok":
                    why[STATUS_TEXT[r["status"]]] = why.get(STATUS_TEXT[r["status"]], 0) + 1
            reasons = ", ".join(f"{k} ×{v}" if v > 1 else k for k, v in sorted(why.items()))
            folder = rs[0]["workflow_dir"]
            rows.append(f"| {md_escape(w)} | `{folder}` | {len(rs)} | {n_ok} | "
                        f"{reasons or '–'} |")
        lines += ["<details><summary>Runs per workflow</summary>", "",
                  "| Workflow | Report name | Runs | With token logs | Without (why) |",
                  "| --- | --- | ---: | ---: | --- |"] + rows + [""]
        missing = [r for r in runs if r["status"] != "ok"]
        if missing:
            lines += ["| Run | Workflow | Why no token log | Detail |", "| --- | --- | --- | --- |"]
            lines += [f"| {run_link(r)} | {md_escape(r['workflow'])} | "
                      f"{STATUS_TEXT[r['status']]} | {md_escape(r['reason'])} |" for r in missing]
            lines.append("")
        lines += ["</details>", ""]
    if m.get("list_truncated"):
        lines += ["**Warning:** `gh run list` hit its limit; older runs of this period may be "
                  "missing (raise `--limit`).", ""]
    for e in m.get("errors") or []:
        lines += [f"**Warning:** {md_escape(e)}", ""]
    return "\n".join(lines) + "\n"


def chart_section(m, current, date, max_points=30):
    """'History': a Mermaid xychart of total tokens per report, when prior reports exist."""
    points = [dict(h) for h in (m.get("history") or [])
              if isinstance(h.get("total_tokens"), (int, float))]
    if current is not None:
        points.append({"number": None, "url": None, "date": date,
                       "total_tokens": current["total_tokens"],
                       "cost_usd": current.get("cost_usd")})
    points = points[-max_points:]
    if len(points) < 2:
        return None
    top = max(p["total_tokens"] for p in points)
    scale, unit = next(((s, u) for s, u in ((1e9, "B"), (1e6, "M"), (1e3, "K")) if top >= s),
                       (1, ""))
    labels = [str(p["date"])[5:10] or "?" for p in points]
    for i, p in enumerate(points):
        if labels.count(labels[i]) > 1:
            labels[i] += f" #{p['number']}" if p["number"] else " now"
    values = [round(p["total_tokens"] / scale, 2) for p in points]
    ceiling = max(values) * 1.1 or 1
    lines = ["## History", "",
             "```mermaid", "xychart-beta",
             f'    title "Total tokens per report ({unit or "tokens"})"',
             "    x-axis [" + ", ".join(f'"{lab}"' for lab in labels) + "]",
             f'    y-axis "Tokens{f" ({unit})" if unit else ""}" 0 --> {ceiling:.4g}',
             "    line [" + ", ".join(f"{v:g}" for v in values) + "]", "```", "",
             "<details><summary>Figures</summary>", "",
             "| Report | Date | Total tokens | Cost |", "| --- | --- | ---: | ---: |"]
    for p in points:
        ref = f"[#{p['number']}]({p['url']})" if p.get("url") else "this report"
        lines.append(f"| {ref} | {p['date']} | {thousands(p['total_tokens'])} | "
                     f"{usd(p.get('cost_usd'))} |")
    lines += ["", "</details>", ""]
    return "\n".join(lines) + "\n"


def summary_data(m, report, title, date, window):
    """The figures embedded in the issue (the next report's trend baseline and history point)."""
    counts = m.get("counts") or {}
    data = {"schema": EMBED_SCHEMA, "title": title, "date": date,
            "collected_at": m["collected_at"], "window": window,
            "runs": {"completed": len(m["runs"]), "with_logs": counts.get("ok", 0)}}
    if report is None or report.get("no_data"):
        data["no_data"] = True
        return data
    keep = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
            "total_tokens", "requests", "cost_usd", "cache_hit_rate")
    t = report.get("totals") or {}
    data["no_data"] = False
    data["period"] = report.get("period")
    data["totals"] = {k: t.get(k) for k in keep}
    groups = sorted((g for g in report.get("groups") or [] if isinstance(g, dict)),
                    key=lambda g: -(g.get("total_tokens") or 0))
    data["groups"] = [{"name": g.get("name"), "total_tokens": g.get("total_tokens"),
                       "cost_usd": g.get("cost_usd"), "runs": g.get("runs")}
                      for g in groups[:200]]
    return data


def fit(main, tail, limit):
    """Cuts `main` so that main + tail stays within `limit`: whole <details> blocks first, from
    the last one back, then (only if that is not enough) the text itself. Adds a note saying so."""
    if body_size(main) + body_size(tail) <= limit:
        return main, 0
    blocks = list(re.finditer(r"<details>.*?</details>\n*", main, re.S))
    note_fmt = ("> **Note:** {n} of {m} collapsible section(s) were left out to keep this issue "
                "within {limit:,} characters (GitHub's limit for an issue body is "
                f"{GITHUB_BODY_LIMIT:,}); the full report is `report.md` in the collector's "
                "output folder.\n\n")
    text = main
    for k in range(1, len(blocks) + 1):
        drop = blocks[-k:]
        text = main[:drop[0].start()] + note_fmt.format(n=k, m=len(blocks), limit=limit)
        pos = drop[0].end()
        for b in drop[1:]:
            text += main[pos:b.start()]
            pos = b.end()
        text += main[pos:]
        if body_size(text) + body_size(tail) <= limit:
            return text, k
    # Even without any collapsible section it is too long: cut the text at a line.
    note = (f"\n\n> **Note:** the report was cut here to keep this issue within {limit:,} "
            f"characters (GitHub's limit for an issue body is {GITHUB_BODY_LIMIT:,}); the full "
            "report is `report.md` in the collector's output folder.\n\n")
    budget = limit - body_size(tail) - body_size(note) - 32
    cut = text[:max(budget, 0)]
    while body_size(cut) > budget:
        cut = cut[:-max(1, (body_size(cut) - budget))]
    cut = cut[:cut.rfind("\n") + 1] if "\n" in cut else ""
    if cut.count("```") % 2:
        cut += "```\n"
    cut += "</details>\n" * max(0, cut.count("<details>") - cut.count("</details>"))
    return cut + note, len(blocks)


def render(args, m=None):
    out = Path(args.out)
    binary = find_tokmeter(args.tokmeter) if args.tokmeter else None
    if m is None:
        m = load_manifest(out)
    collected = parse_time(m.get("collected_at", ""), f"{out / 'manifest.json'}: collected_at")
    if args.date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.date):
        raise UsageError(f"--date: bad date '{args.date}' (expected YYYY-MM-DD)")
    date = args.date or collected.strftime("%Y-%m-%d")
    title = TITLE_PREFIX + date
    files = [r["token_usage_file"] for r in m["runs"] if r["status"] == "ok"]
    for f in files:
        if not (out / f).is_file():
            raise UsageError(f"{out / 'manifest.json'}: {f} is listed but missing under {out}")
    # The window holds every event of the collected runs: from the earliest run's start (a run
    # may have started before the window opened) to the collection.
    starts = [parse_time(r["created_at"], "created_at") for r in m["runs"] if r["status"] == "ok"]
    since = min(starts + [parse_time(m["since"], "since")])
    window = {"since": iso(since), "until": iso(collected)}
    prev = m.get("previous_report")
    base = m.get("baseline_report")

    report = md = None
    (out / "report.json").unlink(missing_ok=True)
    if files:
        binary = binary or find_tokmeter(None)
        common = files + ["--path-tags", "runs/{workflow}/{run}/**", "--since", window["since"],
                          "--until", window["until"], "--top", str(args.top)]
        if args.pricing:
            common += ["--pricing", os.path.abspath(args.pricing)]
        if base and (out / "previous.json").is_file():
            common += ["--previous", "previous.json"]
        if prev and prev.get("url"):
            common += ["--previous-url", prev["url"]]
        text = run_tokmeter(binary, ["report"] + common + ["--format", "json"], out)
        try:
            report = json.loads(text)
        except ValueError as e:
            raise ToolError(f"`tokmeter report --format json` printed no JSON: {e}")
        md = run_tokmeter(binary, ["report"] + common + ["--format", "md"], out)
        (out / "report.json").write_text(text, encoding="utf-8")

    current = None
    if report is not None and not report.get("no_data"):
        current = report.get("totals")
    chart = chart_section(m, current, date)
    coverage = coverage_section(m)

    parts = [f"# {title}\n\n"]
    if md is not None:
        preamble, sections = split_sections(md)
        preamble = re.sub(r"\A# .*\n+", "", preamble)  # our title replaces tokmeter's
        parts.append(preamble)
        if base and prev and base.get("number") != prev.get("number"):
            parts.append(f"Trend baseline: [#{base['number']}]({base['url']}), the last report "
                         "with data.\n\n")
        parts.append(coverage)
        trend = next((i for i, s in enumerate(sections) if s.startswith("## Trend")), 0)
        for i, s in enumerate(sections):
            parts.append(s)
            if i == trend and chart:
                parts.append(chart)
        if not sections and chart:
            parts.append(chart)
    else:
        gap = ("no completed workflow runs" if not m["runs"] else
               "none of the runs left a token-usage.jsonl")
        parts.append(f"**No token usage data** for this period: {gap}.\n\n")
        parts.append(f"Window: {window['since']} → {m['collected_at']} (UTC)\n\n")
        if prev and prev.get("url"):
            parts.append(f"Previous report: [#{prev['number']}]({prev['url']})\n\n")
        parts.append(coverage)
        if chart:
            parts.append(chart)
        parts.append(f"_Collected by {PROG} at {m['collected_at']}._\n")
    full = "".join(parts)
    tail = "\n" + embed(summary_data(m, report, title, date, window))
    body, dropped = fit(full, tail, args.max_chars)
    if dropped:
        log(f"the body was over {args.max_chars:,} characters: {dropped} section(s) left out "
            f"(the full report is in {out / 'report.md'})")
    try:
        (out / "report.md").write_text(full + tail, encoding="utf-8")
        (out / "issue.md").write_text(body + tail, encoding="utf-8")
        (out / "title.txt").write_text(title + "\n", encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot write {e.filename}: {e.strerror}")
    log(f"rendered {out / 'issue.md'} ({body_size(body + tail):,} characters): {title}")
    return title


# ------------------------------------------------------------------- post --


def ensure_label(gh, label):
    try:
        gh.run(["label", "create", label, "--color", "0E8A16", "--description",
                "Daily token usage report (tokmeter)"] + gh.repo_args(),
               f"creating label {label}")
        log(f"created label {label}")
    except GhError as e:
        if "already exists" not in str(e):
            log(f"warning: cannot create label {label}: {e}")


def find_issue(gh, title, label):
    try:
        issues = gh.json(["issue", "list", "--label", label, "--state", "all", "--limit", "10",
                          "--json", "number,title,url"] + gh.repo_args(),
                         "looking for the issue just created")
    except GhError:
        return None
    for i in issues if isinstance(issues, list) else []:
        if isinstance(i, dict) and i.get("title") == title:
            return i.get("url")
    return None


def post(args, gh):
    out = Path(args.out)
    try:
        title = (out / "title.txt").read_text(encoding="utf-8").strip()
        body_path = out / "issue.md"
        body = body_path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise UsageError(f"--out: {e.filename} not found (run `{PROG} render --out {out}` "
                         "first)")
    except OSError as e:
        raise UsageError(f"cannot read {e.filename}: {e.strerror}")
    if body_size(body) > GITHUB_BODY_LIMIT:
        raise UsageError(f"{body_path}: {body_size(body):,} characters, over GitHub's "
                         f"{GITHUB_BODY_LIMIT:,} (render with a smaller --max-chars)")
    if args.dry_run:
        log(f"dry run: would create '{title}' with label {args.label} from {body_path}")
        return None
    ensure_label(gh, args.label)
    # Creating an issue is not idempotent: after a failed attempt, look for the issue before
    # trying again (the request may have succeeded while its answer was lost).
    known = find_issue(gh, title, args.label)
    attempt = 0
    while True:
        attempt += 1
        try:
            url = gh.once(["issue", "create", "--title", title, "--label", args.label,
                           "--body-file", str(body_path)] + gh.repo_args()).strip()
            break
        except GhError as e:
            found = find_issue(gh, title, args.label)
            if found and found != known:
                url = found
                break
            if e.permanent or attempt > gh.retries:
                raise ToolError(f"gh issue create failed after {attempt} attempt(s): {e} "
                                f"(the body is in {body_path})")
            delay = min(gh.retry_delay * 2 ** (attempt - 1), 60.0)
            log(f"gh issue create: {e} (attempt {attempt}; retrying in {delay:g} s)")
            time.sleep(delay)
    url = first_line(url) or url
    try:
        (out / "issue-url.txt").write_text(url + "\n", encoding="utf-8")
    except OSError:
        pass
    log(f"created {url}")
    print(url)
    return url


# -------------------------------------------------------------------- CLI --


def positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: '{text}'")
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: '{text}'")
    return v


def non_negative(kind):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: '{text}'")
        if v < 0 or (isinstance(v, float) and not math.isfinite(v)):
            raise argparse.ArgumentTypeError(f"must be 0 or more: '{text}'")
        return v
    return parse


def parsers():
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("common options")
    g.add_argument("--out", default="token-usage-report", metavar="DIR",
                   help="folder for the manifest, the logs (DIR/runs/) and the issue body "
                        "(default: token-usage-report)")
    g.add_argument("--label", default=DEFAULT_LABEL,
                   help=f"label of the report issues (default: {DEFAULT_LABEL})")

    ghp = argparse.ArgumentParser(add_help=False)
    g = ghp.add_argument_group("GitHub CLI options")
    g.add_argument("--repo", metavar="OWNER/NAME",
                   help="repository (default: gh's: GH_REPO, else the git remote of the "
                        "current folder)")
    g.add_argument("--gh", default="gh", metavar="PATH", help="the gh command (default: gh)")
    g.add_argument("--retries", type=non_negative(int), default=3, metavar="N",
                   help="retries of a gh call that failed transiently: HTTP 5xx or 429, rate "
                        "limit, network error, corrupt download (default: 3)")
    g.add_argument("--retry-delay", type=non_negative(float), default=2.0, metavar="SECONDS",
                   help="first retry delay, doubled on each retry, at most 60 (default: 2)")
    g.add_argument("--gh-timeout", type=non_negative(float), default=600.0, metavar="SECONDS",
                   help="time limit of one gh call (default: 600)")

    col = argparse.ArgumentParser(add_help=False)
    g = col.add_argument_group("collect options")
    g.add_argument("--since", metavar="TIME",
                   help="collect runs completed from TIME (RFC 3339 or YYYY-MM-DD, UTC) "
                        "(default: when the last report was collected, else 24 hours ago)")
    g.add_argument("--workflow", action="append", metavar="NAME",
                   help="only this workflow (its name; repeatable)")
    g.add_argument("--exclude-workflow", action="append", metavar="NAME",
                   help="leave this workflow out, e.g. the report's own (repeatable)")
    g.add_argument("--artifact", action="append", metavar="PATTERN",
                   help="artifact names to search, tried in order (fnmatch pattern, "
                        "repeatable; default: " + ", ".join(DEFAULT_ARTIFACTS) + ")")
    g.add_argument("--limit", type=positive_int, default=1000, metavar="N",
                   help="runs listed by gh run list, newest first (default: 1000)")
    g.add_argument("--history", type=positive_int, default=30, metavar="N",
                   help="previous report issues read for the trend chart (default: 30)")
    g.add_argument("--keep-archives", action="store_true",
                   help="keep the downloaded artifact zips (default: only token-usage.jsonl "
                        "is kept)")
    g.add_argument("--now", metavar="TIME", help=argparse.SUPPRESS)  # tests: a fixed clock

    ren = argparse.ArgumentParser(add_help=False)
    g = ren.add_argument_group("render options")
    g.add_argument("--tokmeter", metavar="PATH",
                   help="the tokmeter command (default: the one beside this program, else "
                        "on PATH)")
    g.add_argument("--pricing", metavar="FILE", help="price table for tokmeter (--pricing)")
    g.add_argument("--top", type=positive_int, default=5, metavar="N",
                   help="optimization opportunities listed (default: 5)")
    g.add_argument("--date", metavar="YYYY-MM-DD",
                   help="date in the title (default: the collection's date, UTC)")
    g.add_argument("--max-chars", type=positive_int, default=GITHUB_BODY_LIMIT, metavar="N",
                   help="body size limit; collapsible sections are left out (with a note) "
                        f"to stay under it (default: {GITHUB_BODY_LIMIT}, GitHub's limit)")

    pst = argparse.ArgumentParser(add_help=False)
    g = pst.add_argument_group("post options")
    g.add_argument("--dry-run", action="store_true",
                   help="do everything but create the label and the issue")

    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n")[0] + "\n\n" + "\n".join(
            __doc__.split("\n\n")[1].splitlines()),
        epilog="Exit codes: 0 done (also with no data, and when single runs failed: they are "
               "in the manifest and the report); 1 the issue was not created, or tokmeter "
               "failed; 2 bad flags or input. Details: docs/GH_REPORT.md.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    sub.add_parser("collect", parents=[common, ghp, col], help="download the runs' token logs",
                   description="Finds the last report issue, lists the workflow runs completed "
                   "since, downloads their artifacts and extracts token-usage.jsonl into "
                   "OUT/runs/{workflow}/{run}/; writes OUT/manifest.json.")
    sub.add_parser("render", parents=[common, ren], help="compose the issue body",
                   description="Runs `tokmeter report` over OUT/runs and composes the issue "
                   "body: OUT/issue.md (within --max-chars), OUT/report.md (never cut), "
                   "OUT/title.txt, OUT/report.json.")
    sub.add_parser("post", parents=[common, ghp, pst], help="create the issue",
                   description="Creates the label if it is missing, then the issue "
                   "OUT/title.txt with the body OUT/issue.md; prints its URL.")
    sub.add_parser("run", parents=[common, ghp, col, ren, pst], help="collect, render, post",
                   description="collect, render and post in one go.")
    return p


def main(argv=None):
    p = parsers()
    args = p.parse_args(argv)
    try:
        if args.command in ("collect", "run"):
            gh = Gh(args.gh, args.repo, args.retries, args.retry_delay, args.gh_timeout)
            manifest = Collector(args, gh).collect()
            if args.command == "collect":
                return 0
            render(args, manifest)
            post(args, gh)
        elif args.command == "render":
            render(args)
        elif args.command == "post":
            gh = None if args.dry_run else Gh(args.gh, args.repo, args.retries,
                                              args.retry_delay, args.gh_timeout)
            post(args, gh)
        return 0
    except UsageError as e:
        log(str(e))
        return 2
    except ToolError as e:
        log(str(e))
        return 1
    except OSError as e:  # the output folder or a file in it
        log(f"cannot use {e.filename}: {e.strerror}" if e.filename else str(e))
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except Exception as e:  # a bug: say what, without a traceback
        log(f"internal error: {type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
