#!/usr/bin/env bash
# The injector's failure paths leave the process running and untouched:
#  - a program that never reaches a safe point (one thread spinning in
#    user code: no system call, no malloc): attach gives up after
#    MEMPROF_ATTACH_WAIT with one line and exit 1, gdb interrupted while it
#    waited (no call in progress), the program unchanged and running;
#  - a gdb that hangs, ignores SIGINT and left the process stopped (a fake
#    one, first on PATH): it is killed at the deadline and the process is
#    resumed;
#  - a process that exits while gdb waits for its safe point.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/attach_lib.sh"

cat >"$WORK/spin.c" <<'C'
#include <stdio.h>
int main(void) { volatile unsigned long x = 0; for (;;) x++; }
C
gcc -O1 -o "$WORK/spin" "$WORK/spin.c" || fail "cannot build the spinner"

state() { sed -n 's/^State:\s*\(.\).*/\1/p' "/proc/$1/status"; }

# expect_refusal NAME WORD PID: attach exits 1 with one line saying WORD,
# within 30 s.
expect_refusal() {
    local name=$1 word=$2 pid=$3 rc=0 t0=$SECONDS
    shift 3
    timeout -k 5 60 "$@" "$MEMPROF_BIN" attach "$pid" -o "$WORK/snaps" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    [[ $rc -eq 1 ]] || fail "$name: attach exited $rc: $(cat "$WORK/$name.err")"
    [[ $(wc -l <"$WORK/$name.err") -eq 1 ]] && grep -qi -- "$word" "$WORK/$name.err" ||
        fail "$name: expected one line saying '$word': $(cat "$WORK/$name.err")"
    (( SECONDS - t0 < 30 )) || fail "$name: attach took $((SECONDS - t0)) s"
    echo "$name: $(cat "$WORK/$name.err") ($((SECONDS - t0)) s)"
}

"$WORK/spin" &
TGT_PID=$!
sleep 0.2
expect_refusal spin 'no safe point' "$TGT_PID" env MEMPROF_ATTACH_WAIT=2
[[ $(state "$TGT_PID") == R ]] || fail "the spinner is in state $(state "$TGT_PID") after the refused attach"
! mapped "$TGT_PID" || fail "libmemprof.so got mapped into the spinner"
! grep -q '^TracerPid:\s*[1-9]' "/proc/$TGT_PID/status" || fail "the spinner is still traced"

mkdir -p "$WORK/fakebin"
cat >"$WORK/fakebin/gdb" <<'SH'
#!/bin/bash
# A gdb that stops its target, then hangs and will not be interrupted.
pid=
while [[ $# -gt 0 ]]; do [[ $1 == -p ]] && pid=$2; shift; done
trap '' INT
kill -STOP "$pid"
echo "memprof-attach: attached" >&"$MP_ATTACH_FD"
echo "memprof-attach: waiting" >&"$MP_ATTACH_FD"
exec sleep 1000
SH
chmod +x "$WORK/fakebin/gdb"
expect_refusal hung-gdb 'no safe point' "$TGT_PID" env MEMPROF_ATTACH_WAIT=1 PATH="$WORK/fakebin:$PATH"
sleep 0.1
[[ $(state "$TGT_PID") == R ]] || fail "the process was left in state $(state "$TGT_PID") by a hung gdb"
pgrep -f "$WORK/fakebin/gdb" >/dev/null && fail "the hung gdb was not killed"
kill "$TGT_PID"
wait "$TGT_PID" 2>/dev/null || true
TGT_PID=

# Exits while gdb waits for a safe point: killed once gdb traces it.
(exec "$WORK/spin") &
TGT_PID=$!
sleep 0.2
(
    for _ in $(seq 1 1000); do
        grep -q '^TracerPid:\s*[1-9]' "/proc/$TGT_PID/status" 2>/dev/null && break
        sleep 0.02
    done
    sleep 0.3
    kill -9 "$TGT_PID"
) &
rc=0
timeout -k 5 60 env MEMPROF_ATTACH_WAIT=5 "$MEMPROF_BIN" attach "$TGT_PID" -o "$WORK/snaps" >"$WORK/exit.out" 2>"$WORK/exit.err" || rc=$?
[[ $rc -eq 1 ]] || fail "attach to a process that died exited $rc: $(cat "$WORK/exit.err")"
[[ $(wc -l <"$WORK/exit.err") -eq 1 ]] && grep -q 'exited during the attach' "$WORK/exit.err" ||
    fail "expected one line saying it exited: $(cat "$WORK/exit.err")"
echo "exited: $(cat "$WORK/exit.err")"
wait "$TGT_PID" 2>/dev/null || true
TGT_PID=
echo "ok: the injector's failures leave the process running"
