#!/usr/bin/env bash
# `tokmeter watch` following one file that grows: paced at 200,000 appended
# tokmeter JSONL lines/s (the lag from the last write to the alert the last
# line raises) and as fast as the writer goes (lines/s through the rules and
# budgets), with watch's peak RSS (target < 64 MiB). Run by scripts/bench;
# by hand: BUILD_DIR=build/bench bash bench/watch_benchmark.sh [LINES] [RATE].
set -euo pipefail
BUILD_DIR="${BUILD_DIR:?}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cmake --build "$BUILD_DIR" --target tokmeter_cmd >/dev/null
/usr/bin/python3 "$ROOT/bench/watch_benchmark.py" "$BUILD_DIR/src/cli/tokmeter" "$@"
