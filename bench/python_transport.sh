#!/usr/bin/env bash
# Issue-14 targets, run by scripts/bench: what the httpx transport adds to a
# provider call, network excluded, next to the same client without it (a bare
# httpx.MockTransport): <= 20 us per request with a JSON body, stream usage
# extraction >= 500 MB/s. Builds the _tokmeter module in the Release benchmark
# tree and runs bench/python_transport_bench.py (Debian's python3 and
# python3-httpx).
set -euo pipefail
BUILD_DIR="${BUILD_DIR:?}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cmake --build "$BUILD_DIR" --target _tokmeter >/dev/null
PYTHONPATH="$BUILD_DIR/bindings/python" /usr/bin/python3 "$ROOT/bench/python_transport_bench.py"
