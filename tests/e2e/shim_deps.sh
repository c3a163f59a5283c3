#!/usr/bin/env bash
# The shim's files call each other without a cycle (scripts/check-deps),
# and the check does catch one: two planted files that call each other.
source "$(dirname "$0")/common.sh"
ROOT=$(cd "$E2E_DIR/../.." && pwd)

"$ROOT/scripts/check-deps" "$ROOT" > "$WORK/deps.txt" 2> "$WORK/deps.err" ||
    fail "the shim's file graph has a cycle: $(cat "$WORK/deps.err")"
grep -q '^malloc_hooks.c *-> ' "$WORK/deps.txt" || fail "check-deps printed no graph"

mkdir -p "$WORK/tree"
cp -r "$ROOT/include" "$ROOT/preload" "$WORK/tree/"
cat > "$WORK/tree/preload/zz_ping.c" <<'C'
void mp_zz_pong(int n);
void mp_zz_ping(int n) { if (n) mp_zz_pong(n - 1); }
C
cat > "$WORK/tree/preload/zz_pong.c" <<'C'
void mp_zz_ping(int n);
void mp_zz_pong(int n) { if (n) mp_zz_ping(n - 1); }
C
if "$ROOT/scripts/check-deps" "$WORK/tree" > /dev/null 2> "$WORK/cycle.err"; then
    fail "check-deps passed a tree with a planted cycle"
fi
grep -q 'cycle among zz_ping.c, zz_pong.c' "$WORK/cycle.err" ||
    fail "check-deps did not name the planted cycle: $(cat "$WORK/cycle.err")"
echo "ok"
