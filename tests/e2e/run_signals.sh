#!/usr/bin/env bash
# `memprof run` and signals: SIGTERM/SIGHUP sent to the launcher go on to
# the program, whose status the launcher returns (128+N); if the launcher
# is SIGKILLed, the program gets SIGTERM rather than running on unnoticed.
source "$(dirname "$0")/common.sh"

gone_within() {   # PID SECONDS: true when PID has exited within SECONDS
    local pid=$1 t
    for t in $(seq $(( $2 * 10 ))); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

# program_of LAUNCHER WHAT: the pid of the sleep that memprof run LAUNCHER
# started, once it is there (20 s at most: a loaded machine can take a
# while to fork and exec it), else fail WHAT.
program_of() {
    local i child
    for ((i = 0; i < 200; i++)); do
        child=$(pgrep -P "$1" -x sleep || true)
        [[ -n $child ]] && { echo "$child"; return 0; }
        sleep 0.1
    done
    fail "$2: no sleep under memprof run $1 after 20 s"
}

for sig in TERM HUP; do
    "$MEMPROF_BIN" run -o "$WORK/snaps" -- sleep 30 &
    launcher=$!
    child=$(program_of "$launcher" "$sig")
    kill -"$sig" "$launcher"
    rc=0; wait "$launcher" || rc=$?
    want=$((128 + $(kill -l "$sig")))
    [[ $rc -eq $want ]] || fail "$sig: memprof run exited $rc, expected $want"
    gone_within "$child" 5 || fail "$sig: the program $child outlived memprof run"
done

"$MEMPROF_BIN" run -o "$WORK/snaps" -- sleep 30 &
launcher=$!
child=$(program_of "$launcher" KILL)
kill -KILL "$launcher"
wait "$launcher" 2>/dev/null || true
gone_within "$child" 5 || fail "KILL: the program $child outlived a killed memprof run"
echo "ok: memprof run forwards TERM and HUP, and its program does not outlive it"
