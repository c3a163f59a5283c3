#!/usr/bin/env bash
# exit() from a signal handler that interrupted the shim's own work
# (tests/programs/life_exit_handler.c): a single-threaded program at
# MEMPROF_SAMPLE=1, whose thread folds its own events under the consumer
# lock (no collector thread: ring.c), is stopped by a SIGALRM handler
# calling exit(0) at a random moment of its churn, 30 times. Every run
# ends with status 0 and one readable exit snapshot; none waits for the
# lock the interrupted fold holds (it did, on about 1 run in 10).
source "$(dirname "$0")/common.sh"

for i in $(seq 1 30); do
    dir=$WORK/run$i
    mkdir -p "$dir"
    us=$((2000 + RANDOM % 6000))
    rc=0
    timeout -k 5 20 env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$dir" MEMPROF_SAMPLE=1 \
        "$TEST_PROGS/life_exit_handler" "$us" >"$dir.out" 2>"$dir.err" || rc=$?
    [[ $rc -ne 124 && $rc -ne 137 ]] || fail "run $i (alarm after $us us) hung at exit"
    [[ $rc -eq 0 ]] || fail "run $i: status $rc: $(head -3 "$dir.err")"
    mapfile -t files < <(snapshots "$dir")
    [[ ${#files[@]} -eq 1 ]] || fail "run $i: ${#files[@]} exit snapshots, expected 1"
    "$MEMPROF_BIN" report "${files[0]}" >"$dir.txt" || fail "run $i: memprof report exited $?"
done
