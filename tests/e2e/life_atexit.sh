#!/usr/bin/env bash
# Allocation while the process exits (tests/programs/life_atexit.c): in an
# atexit handler (before the final snapshot, which must hold its leak), in
# the program's destructor, in a thread that allocates until exit_group, and
# in the destructor of liblife_late.so, preloaded after the shim so that its
# destructor runs after the shim's (fini runs in reverse order of init). Output and status must be unchanged, every time (10 runs).
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

REAL_ENV=(MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=0)
for i in $(seq 1 10); do
    real_run atexit$i 30 -- bash -c 'LD_PRELOAD=${LD_PRELOAD:+$LD_PRELOAD:}$1 exec "$2"' _ \
        "$TEST_PROGS/liblife_late.so" "$TEST_PROGS/life_atexit"
done
grep -qx 'late destructor ran' "$WORK/atexit1.shim.out" || fail "liblife_late's destructor did not run: $(cat "$WORK/atexit1.shim.out")"
last=$(snapshots "$WORK/atexit1.snaps" | grep '/life_atexit\.' | tail -1)
report_json "$last" "$last.json"
got=$(jq_py "$last.json" 'inner("atexit_leak")')
[[ $got == "21000 3" ]] || fail "atexit_leak holds '$got' in the exit snapshot, expected '21000 3'"
echo "ok: allocation during exit"
