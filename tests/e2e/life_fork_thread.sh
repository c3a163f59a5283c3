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
    plain_ok "$mode" "$WORK/$mode.plain" "$TEST_PROGS/life_fork_thread" "$mode"
    for env in MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=1; do
        out=$WORK/$mode.${env%%=*}
        t0=$(date +%s%N)
        same_as_plain "$mode $env" "$WORK/$mode.plain" "$out" "$env" -- "$TEST_PROGS/life_fork_thread" "$mode"
        ms=$((($(date +%s%N) - t0) / 1000000))
        echo "$mode $env: $ms ms: $(tail -1 "$out.out")"
        # at once: within a second (threads: its workers sleep 200 ms first)
        limit=$([[ $mode == threads ]] && echo 1200 || echo 1000)
        ((ms < limit)) || fail "$mode $env: took $ms ms (the child should end at once)"
        n=$(snapshots "$out.snaps" | grep -c '/life_fork_thread\.' || true)
        ((n >= 2)) || fail "$mode $env: $n exit snapshots, expected the parent's and the child's"
    done
done
echo "ok: a child forked from a thread ends with its last thread, under the shim too"
