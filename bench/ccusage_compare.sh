#!/usr/bin/env bash
# tokmeter next to ccusage 20, run by scripts/bench (BUILD_DIR set) or by hand
# (BUILD_DIR=build/bench bash bench/ccusage_compare.sh). ccusage is installed
# from npm into $BUILD_DIR/ccusage (pinned; never into the library).
#
# 1. Speed: `tokmeter daily` with no argument vs `ccusage daily`, both with
#    HOME at the 500 MB generated ~/.claude/projects of bench/analyzer.sh, in
#    the same run, warm page cache (one untimed run each first). Target:
#    tokmeter >= 2.5x faster. Also checks that tokmeter with no argument
#    gives the same totals as with the path.
# 2. Blocks: `tokmeter blocks --now` vs `ccusage blocks --offline` on the
#    generated tree and on bench/ccusage_blocks.py's edge-case transcripts:
#    boundaries, entries, tokens, cost; docs/BLOCKS.md explains every
#    difference it prints.
set -euo pipefail
BUILD_DIR="${BUILD_DIR:?}"
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CCUSAGE_VERSION=20.0.24  # 20.0.26 ships no linux binary
cmake --build "$BUILD_DIR" --target tokmeter_cmd reader_benchmark >/dev/null
GEN="$BUILD_DIR/bench/reader_benchmark"
CLI="$BUILD_DIR/src/cli/tokmeter"
CORPUS="$BUILD_DIR/corpus"
CC_DIR="$BUILD_DIR/ccusage"
CC="$CC_DIR/node_modules/.bin/ccusage"
if [ ! -x "$CC" ] || ! grep -q "\"version\": \"$CCUSAGE_VERSION\"" \
    "$CC_DIR/node_modules/ccusage/package.json" 2>/dev/null; then
  mkdir -p "$CC_DIR"
  (cd "$CC_DIR" && npm install --no-audit --no-fund --silent "ccusage@$CCUSAGE_VERSION" >/dev/null)
fi
mkdir -p "$CORPUS"
[ -d "$CORPUS/claude" ] || "$GEN" gen-claude "$CORPUS/claude" 500
# A home whose ~/.claude is the generated tree (no copy).
HOME500="$CORPUS/home500"
mkdir -p "$HOME500"
ln -sfn ../claude "$HOME500/.claude"
# Only HOME says where the logs are.
clean_env=(env -u CLAUDE_CONFIG_DIR -u CODEX_HOME -u XDG_CONFIG_HOME -u CCUSAGE_OFFLINE)

# timed LABEL CMD...: one warm-up, then one measured run; prints the wall time.
timed() {
  local label="$1"
  shift
  "$@" >/dev/null 2>&1
  /usr/bin/python3 - "$label" "$@" <<'PY'
import resource, subprocess, sys, time
label, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
wall = time.monotonic() - t0
print(f"{label:<52} {wall:7.3f} s")
PY
}

bytes=$(du -sbL "$HOME500/.claude/projects" | cut -f1)
echo "corpus: generated Claude Code tree, $((bytes / 1000000)) MB, HOME=$HOME500"
tm=$(timed "tokmeter daily (no argument)" "${clean_env[@]}" HOME="$HOME500" "$CLI" daily --format json)
cc=$(timed "ccusage $CCUSAGE_VERSION daily --offline" "${clean_env[@]}" HOME="$HOME500" "$CC" daily --json --offline)
echo "$tm"
echo "$cc"
/usr/bin/python3 - "$tm" "$cc" <<'PY'
import sys
t = float(sys.argv[1].split()[-2]); c = float(sys.argv[2].split()[-2])
r = c / t
print(f"tokmeter is {r:.1f}x faster than ccusage daily  [{'ok  ' if r >= 2.5 else 'MISS'} >= 2.5x]")
PY
# Zero-argument use reads the same as the path.
a=$("${clean_env[@]}" HOME="$HOME500" "$CLI" daily --format json 2>/dev/null |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["total_tokens"])')
b=$("${clean_env[@]}" HOME="$HOME500" "$CLI" daily --format json "$HOME500/.claude/projects" |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["total_tokens"])')
c=$("${clean_env[@]}" HOME="$HOME500" "$CC" daily --json --offline 2>/dev/null |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["totalTokens"])')
echo "daily totals: tokmeter no argument $a, tokmeter with the path $b [$([ "$a" = "$b" ] && echo 'ok  ' || echo MISS) equal]; ccusage $c (docs/BLOCKS.md: why they differ)"

# Blocks.
EDGE="$CORPUS/edge-home"
rm -rf "$EDGE"
/usr/bin/python3 "$ROOT/bench/ccusage_blocks.py" gen-edge "$EDGE" >/dev/null
for home in "$EDGE" "$HOME500"; do
  echo "blocks on $(basename "$home"):"
  "${clean_env[@]}" HOME="$home" "$CLI" blocks --format json --now >"$CORPUS/blocks.tokmeter.json" 2>/dev/null
  "${clean_env[@]}" HOME="$home" "$CC" blocks --json --offline >"$CORPUS/blocks.ccusage.json" 2>/dev/null
  /usr/bin/python3 "$ROOT/bench/ccusage_blocks.py" compare "$CORPUS/blocks.tokmeter.json" \
    "$CORPUS/blocks.ccusage.json"
done
