#!/usr/bin/env bash
# Issue-5 target, run by scripts/bench: a Python `with tokmeter.span()` adding
# 4 counters <= 1 us. Builds the _tokmeter module in the Release benchmark
# tree and runs bench/python_span_bench.py against it (Debian's python3).
set -euo pipefail
BUILD_DIR="${BUILD_DIR:?}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cmake --build "$BUILD_DIR" --target _tokmeter >/dev/null
PYTHONPATH="$BUILD_DIR/bindings/python" /usr/bin/python3 "$ROOT/bench/python_span_bench.py"
