#!/usr/bin/env bash
# A program's own SIGURG, the shim's doorbell signal (tests/programs/
# sig_urg.c). The collector reads its doorbell through a signalfd, which
# also dequeues signals sent to the whole process: before the fix it took
# a quarter of a server's out-of-band SIGURGs (F_SETOWN) from under its
# handler, and every SIGURG a program blocking it in all threads waited
# for with sigtimedwait. Now the first one that is not a doorbell is given
# back and the collector stops reading the signal (SPEC: the shim never
# changes the program's signal behaviour). Checked: the same output and
# status as plain (every OOB byte noticed, every sigtimedwait answered),
# and after the switch the collector still wakes: a `memprof snapshot`
# request is answered and holds exactly the 100 blocks leaked after it.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

REAL_ENV=(MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=1)
real_run oob 90 -- "$TEST_PROGS/sig_urg" oob 300
grep -qx 'unnoticed 0 of 300' "$WORK/oob.shim.out" || fail "oob: $(cat "$WORK/oob.shim.out")"
real_run wait 60 -- "$TEST_PROGS/sig_urg" wait
grep -qx 'got 3 of 3' "$WORK/wait.shim.out" || fail "wait: $(cat "$WORK/wait.shim.out")"
echo "ok: every SIGURG reached the program"

mkdir -p "$WORK/hold"
LD_PRELOAD=$MEMPROF_SHIM MEMPROF_OUT=$WORK/hold MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=0 \
    "$TEST_PROGS/sig_urg" oob 50 hold >"$WORK/hold.out" 2>"$WORK/hold.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do
    grep -q holding "$WORK/hold.out" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
done
grep -qx 'unnoticed 0 of 50' "$WORK/hold.out" && grep -q holding "$WORK/hold.out" ||
    fail "hold run: $(cat "$WORK/hold.out" "$WORK/hold.err")"
rc=0
timeout 20 "$MEMPROF_BIN" snapshot "$pid" >"$WORK/snap.out" 2>"$WORK/snap.err" || rc=$?
[[ $rc -eq 0 ]] || fail "memprof snapshot after the program's SIGURGs: status $rc: $(cat "$WORK/snap.err")"
f=$(cat "$WORK/snap.out")
report_json "$f" "$WORK/snap.json"
got=$(jq_py "$WORK/snap.json" 'inner("oob_leak")')
[[ $got == "400000 100" ]] ||
    fail "oob_leak holds '$got' in the requested snapshot, expected '400000 100' ($(jq_py "$WORK/snap.json" 'dropped') events dropped)"
echo "ok: the collector still answers and drains after giving SIGURG back"
