#!/usr/bin/env bash
# Issue-3 analyzer timings, run by scripts/bench: generates (once, cached in
# $BUILD_DIR/corpus) a 500 MB Claude-Code-style tree and 1 GB of tokmeter
# JSONL with reader_benchmark's deterministic generators, then times
#   reader_benchmark summarize   (ReadInputs alone: the readers)
#   tokmeter daily --format json (the whole command: readers + analysis)
#   and tokmeter report / top / spikes / detect on the JSONL
# on a warm page cache (one untimed run first), in fresh processes: wall
# time, MB/s and peak RSS (the child's ru_maxrss).
set -euo pipefail
BUILD_DIR="${BUILD_DIR:?}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cmake --build "$BUILD_DIR" --target tokmeter_cmd reader_benchmark >/dev/null
GEN="$BUILD_DIR/bench/reader_benchmark"
CLI="$BUILD_DIR/src/cli/tokmeter"
CORPUS="$BUILD_DIR/corpus"
mkdir -p "$CORPUS"
[ -d "$CORPUS/claude" ] || "$GEN" gen-claude "$CORPUS/claude" 500
[ -f "$CORPUS/spans.jsonl" ] || "$GEN" gen-jsonl "$CORPUS/spans.jsonl" 1000

# run LABEL BYTES CMD...: one warm-up, then one measured run.
run() {
  local label="$1" bytes="$2"
  shift 2
  "$@" >/dev/null 2>&1
  /usr/bin/python3 "$ROOT/bench/timed_run.py" --width 46 "$label" "$bytes" "$@"
}
claude_bytes=$(du -sb "$CORPUS/claude" | cut -f1)
jsonl_bytes=$(stat -c %s "$CORPUS/spans.jsonl")
echo "corpora: Claude Code $((claude_bytes / 1000000)) MB, tokmeter JSONL $((jsonl_bytes / 1000000)) MB"
echo "targets: Claude Code <= 0.3 s and <= 64 MiB; tokmeter JSONL read >= 1 GB/s"
run "readers: Claude Code (summarize, 2 threads)" "$claude_bytes" "$GEN" summarize "$CORPUS/claude" --threads=2
run "readers: tokmeter JSONL (summarize, 2 threads)" "$jsonl_bytes" "$GEN" summarize "$CORPUS/spans.jsonl" --threads=2
run "tokmeter daily: Claude Code" "$claude_bytes" "$CLI" daily "$CORPUS/claude" --format json
run "tokmeter daily: tokmeter JSONL" "$jsonl_bytes" "$CLI" daily "$CORPUS/spans.jsonl" --format json
# The other commands on the same 1 GB: report and top --window hold only
# their period (the day of the last event and the one before; the last
# hour), spikes, monthly and detect stream (keep no event).
run "tokmeter report: tokmeter JSONL" "$jsonl_bytes" "$CLI" report "$CORPUS/spans.jsonl" --format json
run "tokmeter top --window 1h: tokmeter JSONL" "$jsonl_bytes" "$CLI" top "$CORPUS/spans.jsonl" --window 1h --format json
run "tokmeter spikes: tokmeter JSONL" "$jsonl_bytes" "$CLI" spikes "$CORPUS/spans.jsonl" --format json
run "tokmeter detect: tokmeter JSONL" "$jsonl_bytes" "$CLI" detect "$CORPUS/spans.jsonl" --format json
