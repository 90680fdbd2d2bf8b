# Shared by scripts/{demo,test,bench}: paths and the configure/build helpers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${TOKMETER_JOBS:-$(nproc)}"
PYTHON=/usr/bin/python3   # Debian's interpreter: pybind11-dev builds against it

# configure DIR [cmake args...]
configure() {
  local dir="$1"; shift
  cmake -S "$ROOT" -B "$dir" -G Ninja -DPython_EXECUTABLE="$PYTHON" -DPYTHON_EXECUTABLE="$PYTHON" "$@" >/dev/null
}
build() {
  local dir="$1"; shift
  cmake --build "$dir" -j "$JOBS" "$@"
}
step() { printf '\n== %s\n' "$*"; }
