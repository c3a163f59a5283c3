#!/usr/bin/env bash
# Plain malloc leak of mixed sizes.
source "$(dirname "$0")/common.sh"
check_planted_leak leak_malloc leak_plain_malloc leak_malloc.c

# The CI gate on the same exact-mode snapshots: `--fail-over` trips (exit 3)
# below the growth and passes above it.
mapfile -t files < <(snapshots "$WORK/exact")
leaked=$(leak_field "$WORK/exact.out" bytes)
rc=0
"$MEMPROF_BIN" diff "${files[@]}" --fail-over $((leaked / 2)) >/dev/null || rc=$?
[[ $rc -eq 3 ]] || fail "diff --fail-over $((leaked / 2)) exited $rc with $leaked bytes leaked, expected 3"
"$MEMPROF_BIN" diff "${files[@]}" --fail-over $((leaked * 2)) >/dev/null ||
    fail "diff --fail-over $((leaked * 2)) exited $? with $leaked bytes leaked, expected 0"
echo "ok: --fail-over gate"
