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

for sig in TERM HUP; do
    "$MEMPROF_BIN" run -o "$WORK/snaps" -- sleep 30 &
    launcher=$!
    sleep 0.5
    child=$(pgrep -P "$launcher" sleep || true)
    [[ -n $child ]] || fail "$sig: no sleep under memprof run $launcher"
    kill -"$sig" "$launcher"
    rc=0; wait "$launcher" || rc=$?
    want=$((128 + $(kill -l "$sig")))
    [[ $rc -eq $want ]] || fail "$sig: memprof run exited $rc, expected $want"
    gone_within "$child" 5 || fail "$sig: the program $child outlived memprof run"
done

"$MEMPROF_BIN" run -o "$WORK/snaps" -- sleep 30 &
launcher=$!
sleep 0.5
child=$(pgrep -P "$launcher" sleep || true)
[[ -n $child ]] || fail "KILL: no sleep under memprof run $launcher"
kill -KILL "$launcher"
wait "$launcher" 2>/dev/null || true
gone_within "$child" 5 || fail "KILL: the program $child outlived a killed memprof run"
echo "ok: memprof run forwards TERM and HUP, and its program does not outlive it"
