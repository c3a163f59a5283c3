#!/usr/bin/env bash
# 3000 joined threads in batches of 64 plus 200 detached ones, each leaking
# one 100-byte block (tests/programs/life_threads.c): with exact sampling
# the exit snapshot must hold all 3200 blocks, none lost with its thread.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

REAL_ENV=(MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=1)
real_run threads 90 -- "$TEST_PROGS/life_threads"
grep -qx 'threads 3200' "$WORK/threads.shim.out" || fail "output: $(cat "$WORK/threads.shim.out")"
last=$(snapshots "$WORK/threads.snaps" | grep '/life_threads\.' | tail -1)
report_json "$last" "$last.json"
got=$(jq_py "$last.json" 'inner("thread_leak")')
[[ $got == "320000 3200" ]] || fail "thread_leak holds '$got' (bytes count), expected '320000 3200' ($(jq_py "$last.json" 'dropped') events dropped)"
echo "ok: 3200 short-lived threads, every leak accounted for"
