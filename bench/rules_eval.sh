#!/usr/bin/env bash
# The detector rules against labeled days, run by scripts/bench: generates
# (once per seed, cached in $BUILD_DIR/rules_eval) 30 clean days and one day
# per pathology and strength, each in four formats (tokmeter JSONL,
# turn_summary lines, token-usage.jsonl runs, Claude Code transcripts), runs
# `tokmeter detect` on every day and format, and prints recall, below-threshold
# firings and false alarms per rule and format (bench/rules_eval/score.py).
#   RULES_EVAL_DAYS=N   clean days (default 30)
#   RULES_EVAL_SEED=S   generator seed (default 1)
#   RULES_EVAL_ARGS=... more score.py flags (--verbose, --require)
set -euo pipefail
BUILD_DIR="${BUILD_DIR:?}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cmake --build "$BUILD_DIR" --target tokmeter_cmd >/dev/null
CLI="$BUILD_DIR/src/cli/tokmeter"
DAYS="${RULES_EVAL_DAYS:-30}"
SEED="${RULES_EVAL_SEED:-1}"
DATA="$BUILD_DIR/rules_eval/seed-$SEED-days-$DAYS"
# Regenerated when the generator changes (its thresholds follow the rules).
STAMP="$(sha1sum "$ROOT/bench/rules_eval/gen.py" | cut -c1-12)"
if [ ! -f "$DATA/labels.json" ] || [ "$(cat "$DATA/.gen" 2>/dev/null)" != "$STAMP" ]; then
  /usr/bin/python3 "$ROOT/bench/rules_eval/gen.py" "$DATA" --days "$DAYS" --seed "$SEED"
  echo "$STAMP" >"$DATA/.gen"
fi
# shellcheck disable=SC2086
/usr/bin/python3 "$ROOT/bench/rules_eval/score.py" "$DATA" --tokmeter "$CLI" --check-read \
  ${RULES_EVAL_ARGS:-}
