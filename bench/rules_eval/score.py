#!/usr/bin/env python3
"""Scores `tokmeter detect` against the labeled days of gen.py.

    score.py DATADIR [--tokmeter BIN] [--require] [--check-read] [--verbose]

Runs `tokmeter detect --format json` (BIN, else $TOKMETER_BIN, else
`tokmeter` on PATH) on each day and format of DATADIR and prints, per rule
and format: the injections at the documented strength and how many were
found (recall), the below-threshold injections that fired anyway, and the
false alarms: pathology findings on clean days, or on injected days findings
that correspond to no injection (a finding naming an injected session, job,
workflow or run, or a spike overlapping an injection's time range, is caused
by it). Recommendation rules are counted apart, never as false alarms.

--check-read also checks the harness itself: every line of every format
read (no skipped line, no empty input) and the totals per format equal to
the generator's own. --require exits 1 when recall is below 100 % or there
is a false alarm.
"""

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys

PATHOLOGY_KINDS = ("spike", "loop", "fanout", "context_bloat", "retry_storm", "background",
                   "cache_miss_streak", "large_run", "output_ratio_rise")
RECOMMENDATION_KINDS = ("high_io_ratio", "no_cache", "low_cache", "many_small_requests",
                        "increasing", "data_gap")
FORMATS = ("tokmeter", "turn_summary", "token_usage", "claude")
# Where each format's files are in a day, and the flags it is read with.
INPUTS = {
    "tokmeter": ("tokmeter", []),
    "turn_summary": ("turn_summary", []),
    "token_usage": ("token_usage", ["--path-tags", "runs/{workflow}/{run}/*"]),
    "claude": ("claude", []),
}
# The most specific key names a culprit best in a subject.
SPECIFIC = ("run", "session", "job", "workflow")


def parse_time(s):
    if not s:
        return None
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def run_tokmeter(binary, command, path, flags):
    cmd = [binary, command, path, "--format", "json"] + flags
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr))
    return json.loads(p.stdout)


def values(v):
    return v if isinstance(v, list) else [v]


def key_matches(finding, keys):
    """The finding names one of `keys` ({name: value or [values]})."""
    fk = finding.get("keys")
    if isinstance(fk, dict) and fk:
        return any(str(fk.get(k)) in [str(x) for x in values(v)] for k, v in keys.items()
                   if k in fk)
    subject = finding.get("subject", "")
    for k in SPECIFIC:
        if k in keys:
            return any(str(x) in subject for x in values(keys[k]))
    return False


def time_matches(finding, lab, slack):
    t = parse_time(finding.get("time"))
    return t is not None and parse_time(lab["start"]) - slack <= t <= parse_time(lab["end"]) + slack


def finds(finding, lab, window):
    if finding["kind"] != lab["kind"]:
        return False
    if key_matches(finding, lab["keys"]):
        return True
    return lab["kind"] in ("spike", "retry_storm") and time_matches(finding, lab, window)


def caused_by(finding, labs, window):
    """A finding another injection of the day explains."""
    for lab in labs:
        if key_matches(finding, lab["related"]) or key_matches(finding, lab["keys"]):
            return True
        if finding["kind"] == "spike" and time_matches(finding, lab, window):
            return True
    return False


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("datadir")
    ap.add_argument("--tokmeter", default=os.environ.get("TOKMETER_BIN") or shutil.which("tokmeter"))
    ap.add_argument("--require", action="store_true",
                    help="exit 1 unless recall is 100 %% and there is no false alarm")
    ap.add_argument("--check-read", action="store_true",
                    help="check that every line is read and the totals match the generator's")
    ap.add_argument("--verbose", action="store_true", help="list every miss and false alarm")
    ap.add_argument("--json", help="also write the scores as JSON to this file")
    a = ap.parse_args(argv)
    if not a.tokmeter:
        ap.error("no tokmeter binary: --tokmeter BIN or $TOKMETER_BIN")
    with open(os.path.join(a.datadir, "labels.json")) as f:
        labels = json.load(f)
    window = labels["rules"]["window_s"]

    # (rule, format) -> counters
    rows = {}
    recs = {}  # (kind, format) -> findings of recommendation rules
    notes = []
    read_problems = []

    def row(kind, fmt):
        return rows.setdefault((kind, fmt), {"documented": 0, "found": 0, "below": 0,
                                             "below_fired": 0, "fa_clean": 0, "fa_injected": 0})

    for day, info in sorted(labels["days"].items()):
        for fmt in FORMATS:
            sub, flags = INPUTS[fmt]
            path = os.path.join(a.datadir, day, sub)
            doc = run_tokmeter(a.tokmeter, "detect", path, flags)
            findings = doc.get("findings", [])
            if a.check_read:
                want = info["totals"][fmt]
                got = doc.get("totals", {}).get("total_tokens")
                bad = [i for i in doc.get("inputs", []) if i.get("skipped_lines") or i.get("empty")]
                if bad:
                    read_problems.append("%s %s: %d inputs with skipped lines or empty, e.g. %s"
                                         % (day, fmt, len(bad), bad[0]["path"]))
                if got != want["tokens"]:
                    read_problems.append("%s %s: total_tokens %s, generator %d"
                                         % (day, fmt, got, want["tokens"]))
                rl = doc.get("totals", {}).get("rate_limited")
                if rl != want["rate_limited"]:
                    read_problems.append("%s %s: rate_limited %s, generator %d"
                                         % (day, fmt, rl, want["rate_limited"]))
                tc = doc.get("totals", {}).get("tool_calls")
                if fmt != "token_usage" and tc != want["tool_calls"]:
                    read_problems.append("%s %s: tool_calls %s, generator %d"
                                         % (day, fmt, tc, want["tool_calls"]))
            labs = info["labels"][fmt]
            used = set()
            for lab in labs:
                if not lab["applicable"]:
                    continue
                r = row(lab["kind"], fmt)
                hit = [i for i, f in enumerate(findings) if finds(f, lab, window)]
                used.update(hit)
                if lab["strength"] == "below":
                    r["below"] += 1
                    if hit:
                        r["below_fired"] += 1
                        notes.append("%s %s: %s below the threshold fired: %s"
                                     % (day, fmt, lab["kind"], findings[hit[0]]["subject"]))
                else:
                    r["documented"] += 1
                    if hit:
                        r["found"] += 1
                    else:
                        notes.append("%s %s: %s (%s) missed, keys %s"
                                     % (day, fmt, lab["kind"], lab["strength"], lab["keys"]))
            for i, f in enumerate(findings):
                k = f["kind"]
                # Info findings are totals to review (large_run, the
                # recommendation rules), not alarms.
                if k in RECOMMENDATION_KINDS or f.get("severity") == "info":
                    if i not in used:
                        recs.setdefault((k, fmt), []).append((day, f["subject"]))
                    continue
                if k not in PATHOLOGY_KINDS or i in used:
                    continue
                if info["clean"]:
                    row(k, fmt)["fa_clean"] += 1
                    notes.append("%s %s: false alarm on a clean day: %s %s"
                                 % (day, fmt, k, f["subject"]))
                elif not caused_by(f, labs, window):
                    row(k, fmt)["fa_injected"] += 1
                    notes.append("%s %s: false alarm on an injected day: %s %s"
                                 % (day, fmt, k, f["subject"]))

    days = labels["days"]
    n_clean = sum(1 for d in days.values() if d["clean"])
    print("rules evaluation: %d days (%d clean, %d injected), tokmeter %s"
          % (len(days), n_clean, len(days) - n_clean, a.tokmeter))
    hdr = ("rule", "format", "documented", "found", "recall", "below", "below fired",
           "false alarms clean", "false alarms injected")
    table = []
    kinds = list(PATHOLOGY_KINDS) + ["low_cache"]
    for k in kinds:
        for fmt in FORMATS:
            r = rows.get((k, fmt))
            if not r:
                continue
            recall = "%.0f %%" % (100.0 * r["found"] / r["documented"]) if r["documented"] else "-"
            table.append((k, fmt, r["documented"], r["found"], recall, r["below"],
                          r["below_fired"], r["fa_clean"], r["fa_injected"]))
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *table)] if table else []
    line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, hdr))
    print(line)
    print("-" * len(line))
    for t in table:
        print("  ".join(("%-*s" if i < 2 else "%*s") % (w, x)
                        for i, (w, x) in enumerate(zip(widths, t))))
    if recs:
        print("\nrecommendation findings (not false alarms): kind, format: count on clean / "
              "injected days")
        for (k, fmt), lst in sorted(recs.items()):
            clean = sum(1 for d, _ in lst if days[d]["clean"])
            print("  %-20s %-13s %4d / %d" % (k, fmt, clean, len(lst) - clean))
    if a.verbose and notes:
        print("\ndetails:")
        for n in notes:
            print("  " + n)
    if read_problems:
        print("\nreading problems (the harness's lines or totals):")
        for p in read_problems:
            print("  " + p)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": [dict(zip(hdr, t)) for t in table], "notes": notes,
                       "read_problems": read_problems,
                       "recommendations": {"%s/%s" % k: len(v) for k, v in recs.items()}},
                      f, indent=1)
    failed = bool(read_problems)
    if a.require:
        for r in rows.values():
            if r["found"] < r["documented"] or r["fa_clean"] or r["fa_injected"]:
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
