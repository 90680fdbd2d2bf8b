#!/usr/bin/env bash
# Codex reader, run by scripts/bench: generates (once, cached in
# $BUILD_DIR/corpus) two Codex CLI session trees with tests/readers/
# codex_tree.py — 14 days for the comparison, a 3x larger one for speed —
# then
#   1. compares `tokmeter daily` and ccusage 20's `codex daily` with the
#      generator's ground truth, per day and bucket (ccusage from npm, into
#      $BUILD_DIR/npm; skipped when npm cannot fetch it);
#   2. times `tokmeter daily` and `ccusage codex daily` on the larger tree
#      (one warm-up, then one measured run each: wall time, MB/s, peak RSS).
set -euo pipefail
BUILD_DIR="${BUILD_DIR:?}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=/usr/bin/python3
cmake --build "$BUILD_DIR" --target tokmeter_cmd >/dev/null
CLI="$BUILD_DIR/src/cli/tokmeter"
GEN="$ROOT/tests/readers/codex_tree.py"
CORPUS="$BUILD_DIR/corpus"
mkdir -p "$CORPUS"
[ -f "$CORPUS/codex14/truth.json" ] || "$PY" "$GEN" gen "$CORPUS/codex14" --days 14 --seed 7
[ -f "$CORPUS/codex-big/truth.json" ] || "$PY" "$GEN" gen "$CORPUS/codex-big" --days 14 --seed 11 --scale 3

# ccusage 20.0.24: the last 20.x release with a linux-x64 binary on npm.
CCUSAGE="$BUILD_DIR/npm/node_modules/.bin/ccusage"
if [ ! -x "$CCUSAGE" ] && command -v npm >/dev/null 2>&1; then
  npm install --silent --prefix "$BUILD_DIR/npm" ccusage@20.0.24 >/dev/null 2>&1 || true
fi
cc_args=()
if [ -x "$CCUSAGE" ] && HOME=/nonexistent "$CCUSAGE" --version >/dev/null 2>&1; then
  cc_args=(--ccusage "$CCUSAGE")
else
  echo "ccusage not available (npm install ccusage@20.0.24 failed): comparing with the truth only"
fi

echo "== per day: generator truth vs tokmeter vs ccusage (tokens; cost truth/tokmeter in USD)"
"$PY" "$GEN" compare "$CORPUS/codex14" --tokmeter "$CLI" "${cc_args[@]}"

echo "== speed on the larger tree"
bytes=$(du -sb "$CORPUS/codex-big/.codex" | cut -f1)
echo "corpus: $((bytes / 1000000)) MB of Codex session logs"
# run LABEL HOME CMD...: CMD with HOME set (one warm-up, one measured run).
run() {
  local label="$1" home="$2"
  shift 2
  HOME="$home" "$@" >/dev/null 2>&1 || true
  HOME="$home" "$PY" "$ROOT/bench/timed_run.py" --width 40 "$label" "$bytes" "$@"
}
run "tokmeter daily (Codex tree)" "$HOME" "$CLI" daily --format json "$CORPUS/codex-big/.codex/sessions"
if [ ${#cc_args[@]} -gt 0 ]; then
  run "ccusage codex daily --offline" "$CORPUS/codex-big" "$CCUSAGE" codex daily --json --offline \
    --timezone UTC
fi
