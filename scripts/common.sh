# Shared by scripts/{demo,test,bench}: paths and the configure/build helpers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${TOKMETER_JOBS:-$(nproc)}"
PYTHON=/usr/bin/python3   # Debian's interpreter: pybind11-dev builds against it

# ccache, when the machine has it, makes rebuilds in several build trees cheap;
# it is optional (scripts/setup does not install it).
LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$ROOT"
  LAUNCHER=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

# configure DIR [cmake args...]
configure() {
  local dir="$1"; shift
  cmake -S "$ROOT" -B "$dir" -G Ninja -DPython_EXECUTABLE="$PYTHON" "${LAUNCHER[@]}" "$@" >/dev/null
}
build() {
  local dir="$1"; shift
  cmake --build "$dir" -j "$JOBS" "$@"
}
step() { printf '\n== %s\n' "$*"; }
