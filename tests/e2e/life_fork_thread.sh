#!/usr/bin/env bash
# A process ends when its last thread of its own ends, however it ends
# (SPEC "Safety in someone else's process"; issue 16 item 1): a thread
# forks, and in the child that thread (its only one) returns from its start
# routine, or starts two threads and returns before them, or calls
# pthread_exit (tests/programs/life_fork_thread.c). Plain, the child exits
# 0 at once; under the shim too, with the default settings (the collector
# thread comes with the child's first thread) and with MEMPROF_INTERVAL=1
# (the collector runs from the start in the child): within a second, with
# the same output as plain (the lines the child printed without flushing
# are flushed by glibc's exit(0) on the child's own last thread, with its
# own stdout), and with an exit snapshot from parent and child.
source "$(dirname "$0")/common.sh"

for mode in return threads exit; do
    rc=0
    timeout -k 5 20 "$TEST_PROGS/life_fork_thread" "$mode" >"$WORK/$mode.plain" 2>&1 || rc=$?
    [[ $rc -eq 0 ]] || fail "$mode: plain run exited $rc: $(cat "$WORK/$mode.plain")"
    for env in MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=1; do
        out=$WORK/$mode.${env%%=*}
        mkdir -p "$out.snaps"
        t0=$(date +%s%N)
        rc=0
        timeout -k 5 20 env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$out.snaps" "$env" \
            "$TEST_PROGS/life_fork_thread" "$mode" >"$out.out" 2>"$out.err" || rc=$?
        ms=$((($(date +%s%N) - t0) / 1000000))
        echo "$mode $env: status $rc in $ms ms: $(tail -1 "$out.out")"
        [[ $rc -eq 0 ]] || fail "$mode $env: status $rc: $(cat "$out.out" "$out.err")"
        # at once: within a second (threads: its workers sleep 200 ms first)
        limit=$([[ $mode == threads ]] && echo 1200 || echo 1000)
        ((ms < limit)) || fail "$mode $env: took $ms ms (the child should end at once)"
        cmp -s "$WORK/$mode.plain" "$out.out" ||
            fail "$mode $env: output differs from plain: $(cat "$out.out")"
        [[ ! -s $out.err ]] || fail "$mode $env: the shim printed: $(head -3 "$out.err")"
        n=$(snapshots "$out.snaps" | grep -c '/life_fork_thread\.' || true)
        ((n >= 2)) || fail "$mode $env: $n exit snapshots, expected the parent's and the child's"
    done
done
echo "ok: a child forked from a thread ends with its last thread, under the shim too"
