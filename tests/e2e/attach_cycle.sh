#!/usr/bin/env bash
# The attach/detach cycle, over and over on one process (flakes are bugs):
# 20 times attach, snapshot, churn, detach on an idle program (attached from
# its read()), then 3 times on a busy multi-threaded one (attached at a
# malloc entry, while its threads allocate and contend). Every cycle must
# succeed, leave no thread or socket behind, and the programs must end with
# the output and status of a plain run. Then the same on sleep(1), whose
# thread is back in restart_syscall after the first attach (as after a
# SIGSTOP/SIGCONT): it must be taken as a safe point again; requests to a
# detached or preloaded single-threaded process say which it is.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/attach_lib.sh"

prog=$TEST_PROGS/attach_target
cycles=20
cmds=
for i in $(seq 1 $cycles); do cmds+="churn"$'\n'; done
rc=$(plain_run cyc "${cmds}quit" "$prog" cmd)
[[ $rc -eq 0 ]] || fail "plain run exited $rc"

snaps=$WORK/snaps
tgt_start cyc "$prog" cmd
tgt_wait_line cyc '^READY$'
for i in $(seq 1 $cycles); do
    attach_ok "$TGT_PID" -o "$snaps" --interval 0
    tgt_send churn
    tgt_wait_line cyc "^CHURNED $i\$"
    f=$(snap "$TGT_PID")
    if (( i % 5 == 1 )); then   # reading one symbolizes it: not every time
        "$MEMPROF_BIN" report "$f" --json >"$WORK/r.json" || fail "cycle $i: report exited $?"
        python3 - "$WORK/r.json" <<'PY' || fail "cycle $i: the snapshot does not say attached, or shows an earlier attach's peak or series"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["attached"] is True
t0 = r["attach_time_ns"]
# Only this attach's: its peak came with this cycle's churn, its series
# starts at the attach (an earlier attach's points came before it).
assert r["peak"]["time_ns"] > t0, (r["peak"], t0)
assert r["series"] and r["series"][0]["t_ns"] >= t0, (r["series"][:1], t0)
PY
    fi
    detach_ok "$TGT_PID"
    ! has_socket "$TGT_PID" || fail "cycle $i: socket left after detach"
    single_threaded_again "$TGT_PID" "cycle $i"
done
n=$(snapshots "$snaps" | wc -l)
[[ $n -eq $((2 * cycles)) ]] || fail "expected $((2 * cycles)) snapshots (one per snapshot, one per detach), found $n"
# A re-attach starts its own schedule: --interval 0 after --interval 1
# has no timer snapshot left over from the first.
attach_ok "$TGT_PID" -o "$WORK/sched" --interval 1
sleep 1.6
detach_ok "$TGT_PID"
n1=$(snapshots "$WORK/sched" | wc -l)
attach_ok "$TGT_PID" -o "$WORK/sched" --interval 0
sleep 2.5
detach_ok "$TGT_PID"
for f in $(snapshots "$WORK/sched" | tail -n +$((n1 + 1))); do
    "$MEMPROF_BIN" report "$f" --json | python3 -c 'import json, sys; t = json.load(sys.stdin)["trigger"]; assert t != "timer", t' ||
        fail "a timer snapshot after a re-attach with --interval 0: $f"
done
tgt_send quit
tgt_finish
[[ $TGT_RC -eq 0 ]] || fail "the idle target exited $TGT_RC"
cmp -s "$WORK/cyc.plain.out" "$WORK/cyc.out" || fail "idle target: output differs from the plain run"
[[ ! -s $WORK/cyc.err ]] || fail "idle target: stderr: $(cat "$WORK/cyc.err")"

rc=$(plain_run busyc '' "$prog" busy 0.5)
[[ $rc -eq 0 ]] || fail "plain busy run exited $rc"
tgt_start busyc "$prog" busy 60 "$WORK/busyc.stop"
sleep 0.3
for i in 1 2 3; do
    attach_ok "$TGT_PID" -o "$WORK/busy.snaps" --interval 0
    snap "$TGT_PID" >/dev/null
    detach_ok "$TGT_PID"
    ! has_socket "$TGT_PID" || fail "busy cycle $i: socket left after detach"
done
# Detached, the shim stays mapped: a request says the process was
# detached, not that it is single-threaded.
rc=0
"$MEMPROF_BIN" snapshot "$TGT_PID" >/dev/null 2>"$WORK/detached.err" || rc=$?
[[ $rc -eq 1 ]] || fail "memprof snapshot of a detached process exited $rc"
grep -q "^memprof: process $TGT_PID has memprof loaded but no request channel: it was detached" "$WORK/detached.err" ||
    fail "memprof snapshot of a detached process said: $(cat "$WORK/detached.err")"
touch "$WORK/busyc.stop"
tgt_finish
[[ $TGT_RC -eq 0 ]] || fail "the busy target exited $TGT_RC"
cmp -s "$WORK/busyc.plain.out" "$WORK/busyc.out" || fail "busy target: output differs"

# --- sleep(1): nanosleep, then restart_syscall once it was stopped
expect_refusal() {   # PID COMMAND REGEX: memprof COMMAND PID exits 1 saying REGEX
    local rc=0
    "$MEMPROF_BIN" "$2" "$1" >/dev/null 2>"$WORK/refusal.err" || rc=$?
    [[ $rc -eq 1 ]] || fail "memprof $2 $1 exited $rc"
    grep -q "$3" "$WORK/refusal.err" || fail "memprof $2 $1 said: $(cat "$WORK/refusal.err")"
}
sleep 120 &
TGT_PID=$!
for i in 1 2 3; do
    attach_ok "$TGT_PID" -o "$WORK/sleep.snaps"
    detach_ok "$TGT_PID"
    expect_refusal "$TGT_PID" snapshot "^memprof: process $TGT_PID has memprof loaded but no request channel: it was detached"
done
[[ $(cut -d' ' -f1 "/proc/$TGT_PID/syscall") == 219 ]] ||
    fail "sleep's thread is not in restart_syscall after a detach: $(cat "/proc/$TGT_PID/syscall")"
kill "$TGT_PID"
wait "$TGT_PID" 2>/dev/null || true
sleep 120 &
TGT_PID=$!
sleep 0.2
kill -STOP "$TGT_PID"
kill -CONT "$TGT_PID"
attach_ok "$TGT_PID" -o "$WORK/sleep.snaps"
detach_ok "$TGT_PID"
kill "$TGT_PID"
wait "$TGT_PID" 2>/dev/null || true
# preloaded, single-threaded: not attached, so nothing to detach
MEMPROF_OUT=$WORK/pre.snaps LD_PRELOAD=$MEMPROF_SHIM sleep 120 &
TGT_PID=$!
for ((i = 0; i < 250; i++)); do mapped "$TGT_PID" 2>/dev/null && break; sleep 0.02; done
expect_refusal "$TGT_PID" detach "^memprof: process $TGT_PID is not attached: it was started under memprof"
expect_refusal "$TGT_PID" snapshot "^memprof: process $TGT_PID is profiled but single-threaded"
kill "$TGT_PID"
wait "$TGT_PID" 2>/dev/null || true
TGT_PID=
# A SIGSTOP sent while the attach runs is the sender's: however the attach
# ends, the process is left stopped (it was resumed by memprof's clean-up).
for delay in 0.1 0.4; do
    sleep 120 &
    TGT_PID=$!
    rc=0
    ( "$MEMPROF_BIN" attach "$TGT_PID" -o "$WORK/stop.snaps" --interval 0 >/dev/null 2>&1 ) &
    att=$!
    sleep "$delay"
    kill -STOP "$TGT_PID"
    wait "$att" || rc=$?
    sleep 0.3
    state=$(awk '{print $3}' "/proc/$TGT_PID/stat")
    [[ $state == T || $state == t ]] ||
        fail "SIGSTOP $delay s into an attach (status $rc) was lost: the process is in state $state"
    kill -CONT "$TGT_PID"
    kill "$TGT_PID"
    wait "$TGT_PID" 2>/dev/null || true
    TGT_PID=
done
echo "ok: $cycles idle and 3 busy attach/detach cycles, 3 on sleep(1) and one after SIGSTOP; a SIGSTOP during an attach stays"
