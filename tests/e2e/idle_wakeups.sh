#!/usr/bin/env bash
# An idle profiled process costs nothing (SPEC "Safety in someone else's
# process"; issue 11 item 7): the shim's thread wakes only when there is
# work. tests/programs/idle_sleep naps in one-second steps (its main thread
# wakes once a second, which is the program's own business); every other
# thread of it is the collector or a worker blocked on a condition
# variable. Their context switches over WINDOW seconds are counted from
# /proc/PID/task/TID/status: with no periodic snapshot due they must stay
# at a handful, single-threaded and with idle threads. With a snapshot due
# every second (MEMPROF_INTERVAL set: the collector thread runs from the
# start) the same count must show those wake-ups (so the count can see
# them), and the snapshots must be there.
source "$(dirname "$0")/common.sh"

WINDOW=5
MAX_IDLE=3

# switches PID: "TID COUNT" lines, voluntary + nonvoluntary context
# switches of every thread but the main one.
switches() {
    local pid=$1 tid
    for tid in $(ls "/proc/$pid/task"); do
        [[ $tid == "$pid" ]] && continue
        awk -v t="$tid" '/^(non)?voluntary_ctxt_switches/ {s += $2} END {print t, s}' \
            "/proc/$pid/task/$tid/status" 2>/dev/null || true
    done
}

# delta BEFORE AFTER: the sum of the increases of the threads in both.
delta() {
    awk 'NR == FNR {b[$1] = $2; next} ($1 in b) {d += $2 - b[$1]} END {print d + 0}' "$1" "$2"
}

# measure NAME THREADS [VAR=VALUE...]: prints the wake-ups of the shim's
# side of idle_sleep over WINDOW seconds, and writes how many snapshots
# it wrote meanwhile into $WORK/NAME.snaps. idle_sleep runs until the
# window has closed (its stop file), not for a fixed time a loaded machine
# could outlast.
measure() {
    local name=$1 threads=$2
    shift 2
    local out=$WORK/$name
    mkdir -p "$out"
    env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$out" "$@" \
        "$TEST_PROGS/idle_sleep" 120 "$threads" "$out.stop" >"$out.out" 2>"$out.err" &
    local pid=$!
    for _ in $(seq 600); do   # 30 s: a loaded machine starts it slowly
        grep -q ready "$out.out" 2>/dev/null && break
        sleep 0.05
    done
    grep -q ready "$out.out" || fail "$name: idle_sleep never got ready"
    sleep 1   # start-up (constructors, the first module scan) is not idleness
    local tasks
    tasks=$(ls "/proc/$pid/task" | wc -l)
    echo "$tasks" >"$out.tasks"
    switches "$pid" >"$out.before"
    local n0
    n0=$(snapshots "$out" | wc -l)
    sleep "$WINDOW"
    switches "$pid" >"$out.after"
    echo $(($(snapshots "$out" | wc -l) - n0)) >"$out.snaps"
    kill -0 "$pid" 2>/dev/null || fail "$name: idle_sleep ended inside the window"
    touch "$out.stop"
    wait "$pid" || fail "$name: idle_sleep exited with status $?"
    [[ ! -s $out.err ]] || fail "$name: the program printed: $(head -3 "$out.err")"
    delta "$out.before" "$out.after"
}

for threads in 0 4; do
    got=$(measure "idle$threads" "$threads")
    echo "idle, $threads threads: $got wake-ups in $WINDOW s"
    ((got <= MAX_IDLE)) ||
        fail "idle with $threads threads: the shim's threads woke $got times in $WINDOW s (at most $MAX_IDLE)"
    [[ -n $(ls "$WORK/idle$threads"/*.mprof 2>/dev/null) ]] || fail "idle$threads: no exit snapshot"
done
# With the defaults, a single-threaded program has no shim thread at all
# (collector.c: the thread starts with the program's first one).
[[ $(cat "$WORK/idle0.tasks") -eq 1 ]] || fail "single-threaded idle_sleep has $(cat "$WORK/idle0.tasks") threads under the shim"
[[ $(cat "$WORK/idle4.tasks") -eq 6 ]] || fail "idle_sleep with 4 threads has $(cat "$WORK/idle4.tasks") threads under the shim, expected 6 (with the collector)"

got=$(measure due 0 MEMPROF_INTERVAL=1)
echo "a snapshot due every second: $got wake-ups in $WINDOW s"
((got >= WINDOW - 1)) || fail "with MEMPROF_INTERVAL=1 only $got wake-ups were counted in $WINDOW s"
((got <= 12 * WINDOW)) || fail "with MEMPROF_INTERVAL=1 the collector woke $got times in $WINDOW s"
n=$(cat "$WORK/due.snaps")
((n >= WINDOW - 1)) || fail "with MEMPROF_INTERVAL=1 only $n snapshots were written in $WINDOW s"
