#!/usr/bin/env bash
# A single-threaded program that counts its own threads finds one, even
# where the shim's collector runs from the start (MEMPROF_INTERVAL,
# MEMPROF_SIGNAL, dormant): stat, fstatat and opendir of its task
# directory make the collector a transient one and join it first
# (preload/threadcheck.c), with one line on stderr saying what that costs;
# periodic and signalled snapshots still come. Children made without the
# fork handlers (clone() without CLONE_VM, _Fork()) run with the shim
# inert: they exit 0 and write nothing. tests/programs/life_taskcheck.
source "$(dirname "$0")/common.sh"
P=$TEST_PROGS/life_taskcheck

for mode in stat joined clone; do
    "$P" $mode >"$WORK/plain.$mode.out" 2>&1 || fail "life_taskcheck $mode fails without the shim: $(cat "$WORK/plain.$mode.out")"
done

# taskcheck NAME MODE [VAR=VALUE...]: the program under the shim, into $WORK/NAME.
taskcheck() {
    local name=$1 mode=$2 rc=0
    shift 2
    local -a args=("$mode")
    [[ $mode == stat && $name == signal ]] && args+=("$(kill -l USR2)")
    shim_exec 60 "$WORK/$name" MEMPROF_SAMPLE=1 "$@" -- "$P" "${args[@]}" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    [[ $rc -eq 0 ]] && grep -qx "taskcheck ok" "$WORK/$name.out" ||
        fail "$name: status $rc: $(cat "$WORK/$name.out") $(head -3 "$WORK/$name.err")"
}

# triggers NAME: the triggers of NAME's snapshots, sorted, one line.
triggers() {
    local f
    for f in $(snapshots "$WORK/$1"); do
        "$MEMPROF_BIN" report --json "$f" >"$WORK/t.json" || fail "memprof report $f failed"
        python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["trigger"])' "$WORK/t.json"
    done | sort | tr '\n' ' '
}

taskcheck interval stat MEMPROF_INTERVAL=1
grep -q "counts its own threads (/proc/self/task) while single-threaded" "$WORK/interval.err" ||
    fail "interval: no line on stderr about the collector stepping aside: $(cat "$WORK/interval.err")"
[[ $(grep -c . "$WORK/interval.err") -eq 1 ]] || fail "interval: more on stderr than one line: $(cat "$WORK/interval.err")"
t=$(triggers interval)
[[ $t == *timer* && $t == *exit* ]] || fail "interval: expected timer and exit snapshots, got: $t"
echo "interval: one thread counted three ways; snapshots: $t"

taskcheck signal stat MEMPROF_SIGNAL=USR2 MEMPROF_INTERVAL=0
t=$(triggers signal)
[[ $t == *signal* && $t == *exit* ]] || fail "signal: expected signal and exit snapshots, got: $t"
echo "signal: one thread counted; snapshots: $t"

taskcheck dormant stat MEMPROF_START=off
echo "dormant: one thread counted"

# The default settings have no collector to stop: nothing said.
taskcheck default stat
[[ ! -s $WORK/default.err ]] || fail "default: the shim printed: $(cat "$WORK/default.err")"

# Threads created and joined: single-threaded again, the program counts
# one, twice (the collector comes back with the second thread), under the
# default settings and with a schedule; said once.
taskcheck joined joined
[[ $(grep -c "counts its own threads (/proc/self/task) while single-threaded" "$WORK/joined.err") -eq 1 ]] ||
    fail "joined: expected one line on stderr about the collector stepping aside: $(cat "$WORK/joined.err")"
taskcheck joined_interval joined MEMPROF_INTERVAL=1
echo "joined: one thread counted after a thread was joined, twice"

taskcheck clone clone
mapfile -t files < <(snapshots "$WORK/clone")
[[ ${#files[@]} -eq 1 ]] || fail "clone: expected the parent's exit snapshot alone, found: ${files[*]:-none}"
echo "clone: clone() and _Fork() children ran with the shim inert, one snapshot (the parent's)"
