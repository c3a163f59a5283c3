#!/usr/bin/env bash
# An idle profiled process costs nothing (SPEC "Safety in someone else's
# process"; issue 11 item 7): the shim's thread wakes only when there is
# work. tests/programs/idle_sleep naps in one-second steps (its main thread
# wakes once a second, which is the program's own business); every other
# thread of it is the collector or a worker blocked on a condition
# variable. Their context switches over WINDOW seconds are counted from
# /proc/PID/task/TID/status: with no periodic snapshot due they must stay
# at a handful, single-threaded and with idle threads. With a snapshot due
# every second the same count must show those wake-ups (so the count can
# see them), and the snapshots must be there.
source "$(dirname "$0")/common.sh"

WINDOW=5
MAX_IDLE=3

# switches PID: voluntary + nonvoluntary context switches of every thread
# but the main one.
switches() {
    local pid=$1 total=0 tid v n
    for tid in $(ls "/proc/$pid/task"); do
        [[ $tid == "$pid" ]] && continue
        v=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$pid/task/$tid/status" 2>/dev/null) || v=0
        n=$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "/proc/$pid/task/$tid/status" 2>/dev/null) || n=0
        total=$((total + ${v:-0} + ${n:-0}))
    done
    echo "$total"
}

# measure NAME THREADS [VAR=VALUE...]: prints the wake-ups of the shim's
# side of idle_sleep over WINDOW seconds.
measure() {
    local name=$1 threads=$2
    shift 2
    local out=$WORK/$name
    mkdir -p "$out"
    env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$out" "$@" \
        "$TEST_PROGS/idle_sleep" $((WINDOW + 4)) "$threads" >"$out.out" 2>"$out.err" &
    local pid=$!
    for _ in $(seq 100); do
        grep -q ready "$out.out" 2>/dev/null && break
        sleep 0.05
    done
    grep -q ready "$out.out" || fail "$name: idle_sleep never got ready"
    sleep 1   # start-up (constructors, the first module scan) is not idleness
    local before after
    before=$(switches "$pid")
    sleep "$WINDOW"
    after=$(switches "$pid")
    wait "$pid" || fail "$name: idle_sleep exited with status $?"
    [[ ! -s $out.err ]] || fail "$name: the program printed: $(head -3 "$out.err")"
    echo $((after - before))
}

for threads in 0 4; do
    got=$(measure "idle$threads" "$threads")
    echo "idle, $threads threads: $got wake-ups in $WINDOW s"
    ((got <= MAX_IDLE)) ||
        fail "idle with $threads threads: the shim's threads woke $got times in $WINDOW s (at most $MAX_IDLE)"
    [[ -n $(ls "$WORK/idle$threads"/*.mprof 2>/dev/null) ]] || fail "idle$threads: no exit snapshot"
done

got=$(measure due 0 MEMPROF_INTERVAL=1)
echo "a snapshot due every second: $got wake-ups in $WINDOW s"
((got >= WINDOW - 1)) || fail "with MEMPROF_INTERVAL=1 only $got wake-ups were counted in $WINDOW s"
((got <= 12 * WINDOW)) || fail "with MEMPROF_INTERVAL=1 the collector woke $got times in $WINDOW s"
n=$(ls "$WORK/due"/*.mprof | wc -l)
((n >= WINDOW + 1)) || fail "with MEMPROF_INTERVAL=1 only $n snapshots were written"
