#!/usr/bin/env bash
# The demo's program under `memprof run` with periodic snapshots: the slow
# leak in cache_insert_leak must rank first between the first and the last
# snapshot, in JSON and in the text scripts/demo prints.
source "$(dirname "$0")/common.sh"

server=${EXAMPLES:?}/leaky_server
[[ -x $server ]] || fail "no $server"
rc=0
"$MEMPROF_BIN" run -o "$WORK/snaps" --interval 1 -- "$server" 4 >"$WORK/out" 2>"$WORK/err" || rc=$?
[[ $rc -eq 0 ]] || { cat "$WORK/err" >&2; fail "memprof run exited $rc, the program exits 0"; }
grep -q '^leaky_server: served for 4 s' "$WORK/out" || fail "the program's output did not come through"

mapfile -t files < <(snapshots "$WORK/snaps")
# 4 s at one per second, plus the exit snapshot; allow for timer phase.
[[ ${#files[@]} -ge 3 ]] || fail "expected at least 3 snapshots, found ${#files[@]}"
"$MEMPROF_BIN" diff "${files[0]}" "${files[-1]}" --json >"$WORK/diff.json" || fail "diff --json failed"
jsoncheck rank1 "$WORK/diff.json" --culprit cache_insert_leak --file leaky_server.c ||
    fail "the demo's leak is not rank 1"

"$MEMPROF_BIN" diff "${files[0]}" "${files[-1]}" --top 5 >"$WORK/diff.txt" || fail "diff failed"
first=$(grep -m1 -E '[A-Za-z_.]+:[0-9]+' "$WORK/diff.txt" || true)
[[ $first == *cache_insert_leak* && $first == *leaky_server.c:* ]] ||
    { cat "$WORK/diff.txt" >&2; fail "the first site row of the text diff is not cache_insert_leak at leaky_server.c:LINE"; }
echo "ok: $first"
