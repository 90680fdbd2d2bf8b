#!/usr/bin/env bash
# Issue-15 export throughput, run by scripts/bench: `tokmeter export` of the
# 500 MB Claude-Code-style corpus (generated once by reader_benchmark
# gen-claude into $BUILD_DIR/corpus, shared with analyzer.sh) to a local
# OTLP/HTTP receiver that discards what it gets (bench/otlp_receiver.cc):
# spans and metrics (the default), spans only, metrics only, and OTLP JSON
# files. One warm-up run, then one measured run each, in fresh processes:
# wall time, input MB/s, peak RSS. Target: >= 100 MB/s (spans and metrics).
set -euo pipefail
BUILD_DIR="${BUILD_DIR:?}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cmake --build "$BUILD_DIR" --target tokmeter_cmd reader_benchmark otlp_receiver >/dev/null
GEN="$BUILD_DIR/bench/reader_benchmark"
CLI="$BUILD_DIR/src/cli/tokmeter"
CORPUS="$BUILD_DIR/corpus"
mkdir -p "$CORPUS"
[ -d "$CORPUS/claude" ] || "$GEN" gen-claude "$CORPUS/claude" 500

# The receiver: its port on the first line of its stdout; it stops when its
# stdin (a FIFO we hold open) closes.
work=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
mkfifo "$work/in"
"$BUILD_DIR/bench/otlp_receiver" <"$work/in" >"$work/port" 2>"$work/receiver.txt" &
exec 3>"$work/in"
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
endpoint="http://127.0.0.1:$(head -1 "$work/port")"

bytes=$(du -sb "$CORPUS/claude" | cut -f1)
echo "corpus: Claude Code $((bytes / 1000000)) MB; receiver $endpoint; target >= 100 MB/s"
# run LABEL CMD...: one warm-up, then one measured run.
run() {
  local label="$1"
  shift
  "$@" >/dev/null 2>&1
  /usr/bin/python3 "$ROOT/bench/timed_run.py" --width 44 "$label" "$bytes" "$@"
}
run "tokmeter export: spans + metrics -> receiver" "$CLI" export "$CORPUS/claude" --endpoint "$endpoint" --quiet
run "tokmeter export: spans -> receiver" "$CLI" export "$CORPUS/claude" --endpoint "$endpoint" --signals traces --quiet
run "tokmeter export: metrics -> receiver" "$CLI" export "$CORPUS/claude" --endpoint "$endpoint" --signals metrics --quiet
run "tokmeter export: spans + metrics -> OTLP JSON" "$CLI" export "$CORPUS/claude" --traces-file "$work/traces.jsonl" --metrics-file "$work/metrics.jsonl" --quiet
"$CLI" export "$CORPUS/claude" --endpoint "$endpoint" --format json --quiet |
  /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print("one export:", d["events"], "events,", d["spans"]["accepted"], "spans accepted in", d["spans"]["requests"], "requests,", d["metrics"]["accepted"], "metric points accepted")'
ls -l "$work"/*.jsonl | awk '{print "OTLP JSON:", $5, "bytes", $9}'
exec 3>&-
wait
cat "$work/receiver.txt"
