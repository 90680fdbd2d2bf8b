"""A stand-in for the GitHub CLI (`gh`) that tokmeter-gh-report's tests put on PATH.

It answers from FAKE_GH_DIR/state.json (written by the test) the way gh 2.23 and later do:

  issue list --label L --state all --limit N --json FIELDS   issues with label L, newest first
  issue create --title T --label L --body-file F             adds the issue, prints its URL
  label create NAME ...                                      "already exists" when it does
  run list --limit N --json FIELDS                           runs, newest first
  api repos/O/R/actions/runs/ID/artifacts?per_page=&page=    the run's artifacts (REST shape)
  api repos/O/R/actions/artifacts/ID/zip                     the zip bytes FAKE_GH_DIR/<ID>.zip

state.json["fail"] maps a call key (`issue list`, `run list`, `api artifacts 12`, `api zip 9002`,
`issue create`, `label create`) to {"times": N (omit: always), "stderr": ..., "code": ...}: the
first N such calls fail like gh does (message on stderr, non-zero exit). Every call is appended
to FAKE_GH_DIR/calls.jsonl, so a test can count attempts.
"""

import json
import os
import re
import sys
from pathlib import Path

STATE_DIR = Path(os.environ["FAKE_GH_DIR"])


def load():
    with open(STATE_DIR / "state.json", encoding="utf-8") as f:
        return json.load(f)


def save(state):
    with open(STATE_DIR / "state.json", "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1)


def opt(args, *names, default=None):
    for i, a in enumerate(args):
        if a in names and i + 1 < len(args):
            return args[i + 1]
        for n in names:
            if n.startswith("--") and a.startswith(n + "="):
                return a[len(n) + 1:]
    return default


def pick(obj, fields):
    return {k: obj[k] for k in fields.split(",") if k in obj}


def fail(state, key):
    """Fails this call (exits) if state.json says so for its key."""
    rule = state.get("fail", {}).get(key)
    if not rule:
        return
    seen = 0
    with open(STATE_DIR / "calls.jsonl", encoding="utf-8") as f:
        for line in f:
            if json.loads(line)["key"] == key:
                seen += 1
    if rule.get("times") is None or seen <= rule["times"]:
        sys.stderr.write(rule.get("stderr", "HTTP 502: Bad Gateway") + "\n")
        sys.exit(rule.get("code", 1))


def main(args):
    state = load()
    if len(args) >= 2 and args[0] in ("issue", "run", "label"):
        key = f"{args[0]} {args[1]}"
    elif args and args[0] == "api":
        m = re.search(r"actions/runs/(\d+)/artifacts", args[1])
        z = re.search(r"actions/artifacts/(\d+)/zip", args[1])
        key = f"api artifacts {m.group(1)}" if m else f"api zip {z.group(1)}" if z else "api ?"
    else:
        key = " ".join(args[:2])
    with open(STATE_DIR / "calls.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"key": key, "args": args}) + "\n")
    fail(state, key)
    repo = opt(args, "-R", "--repo")
    if repo is not None and repo != state.get("repo", "octo/agents"):
        sys.stderr.write(f"GraphQL: Could not resolve to a Repository with the name '{repo}'.\n")
        return 1

    if key == "issue list":
        label = opt(args, "--label", "-l")
        limit = int(opt(args, "--limit", "-L", default="30"))
        issues = [i for i in state.get("issues", []) if label in i.get("labels", [])]
        issues.sort(key=lambda i: i["createdAt"], reverse=True)
        if "raw_issue_list" in state:
            sys.stdout.write(state["raw_issue_list"])
            return 0
        print(json.dumps([pick(i, opt(args, "--json")) for i in issues[:limit]]))
        return 0
    if key == "issue create":
        title, label = opt(args, "--title", "-t"), opt(args, "--label", "-l")
        if label not in state.setdefault("labels", []):
            sys.stderr.write(f"could not add label: '{label}' not found\n")
            return 1
        with open(opt(args, "--body-file", "-F"), encoding="utf-8") as f:
            body = f.read()
        number = max([i["number"] for i in state.get("issues", [])] + [100]) + 1
        url = f"https://github.com/{state.get('repo', 'octo/agents')}/issues/{number}"
        state.setdefault("issues", []).append({
            "number": number, "title": title, "url": url, "labels": [label], "body": body,
            "createdAt": state.get("now", "2026-08-21T08:00:30Z")})
        save(state)
        (STATE_DIR / f"issue-{number}.md").write_text(body, encoding="utf-8")
        print(url)
        return 0
    if key == "label create":
        if args[2] in state.setdefault("labels", []):
            sys.stderr.write(f"label with name \"{args[2]}\" already exists; use `--force` to "
                             "update its color and description\n")
            return 1
        state["labels"].append(args[2])
        save(state)
        return 0
    if key == "run list":
        limit = int(opt(args, "--limit", "-L", default="20"))
        runs = sorted(state.get("runs", []), key=lambda r: r["createdAt"], reverse=True)
        print(json.dumps([pick(r, opt(args, "--json")) for r in runs[:limit]]))
        return 0
    if key.startswith("api artifacts "):
        run_id = key.split()[-1]
        arts = state.get("artifacts", {}).get(run_id, [])
        page = int(re.search(r"[?&]page=(\d+)", args[1]).group(1))
        per = int(re.search(r"[?&]per_page=(\d+)", args[1]).group(1))
        print(json.dumps({"total_count": len(arts),
                          "artifacts": arts[(page - 1) * per:page * per]}))
        return 0
    if key.startswith("api zip "):
        art = key.split()[-1]
        path = STATE_DIR / f"{art}.zip"
        if not path.exists():
            sys.stderr.write("gh: Not Found (HTTP 404)\n")
            return 1
        sys.stdout.buffer.write(path.read_bytes())
        return 0
    sys.stderr.write(f"fake gh: unexpected call {args}\n")
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
