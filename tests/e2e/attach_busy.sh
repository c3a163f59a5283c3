#!/usr/bin/env bash
# memprof attach in the middle of malloc churn and lock contention: five
# threads that never sleep (so the safe point is a malloc entry), four of
# them fighting over one mutex in busy_locked. After the attach, two
# snapshots a second apart: `memprof locks` must rank that mutex first with
# busy_locked on its waiters' stacks, and the heap diff must net churn to
# about nothing. Detach while they run; the program finishes with the
# output and status of a plain run.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/attach_lib.sh"

prog=$TEST_PROGS/attach_target
rc=$(plain_run busy "" "$prog" busy 1)   # the output does not depend on the time
[[ $rc -eq 0 ]] || fail "plain run exited $rc"

snaps=$WORK/snaps
tgt_start busy "$prog" busy 60 "$WORK/busy.stop"
sleep 0.5
t0=$(date +%s.%N)
attach_ok "$TGT_PID" -o "$snaps" --interval 0
echo "attach took $(echo "$(date +%s.%N) - $t0" | bc) s"
old=$(snap "$TGT_PID")
sleep 1
new=$(snap "$TGT_PID")
"$MEMPROF_BIN" locks "$old" "$new" --json >"$WORK/locks.json" || fail "memprof locks exited $?"
python3 - "$WORK/locks.json" <<'PY' || fail "the contended mutex is not ranked first (see $WORK/locks.json)"
import json, sys
locks = json.load(open(sys.argv[1]))["locks"]
assert locks, "no contended lock recorded after the attach"
top = locks[0]
stacks = [top["frames"]] + [s["frames"] for s in top["sites"]]
names = {f["function"] for st in stacks for f in st}
assert "busy_locked" in names, names
assert top["contentions"] > 0 and top["wait_ns"] > 0, top
print("ok: rank 1 lock", top["address"], top["contentions"], "contentions")
PY
"$MEMPROF_BIN" report "$new" --json >"$WORK/report.json" || fail "memprof report exited $?"
jsoncheck_attached() {
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["attached"] is True' "$1"
}
jsoncheck_attached "$WORK/report.json" || fail "the snapshot does not say attached"
detach_ok "$TGT_PID"
sleep 0.5   # the threads run on unprofiled for a while
touch "$WORK/busy.stop"
tgt_finish
[[ $TGT_RC -eq 0 ]] || fail "the target exited $TGT_RC"
cmp -s "$WORK/busy.plain.out" "$WORK/busy.out" || fail "output differs: $(cat "$WORK/busy.out")"
[[ ! -s $WORK/busy.err ]] || fail "stderr: $(cat "$WORK/busy.err")"
echo "ok: attached to a busy multi-threaded program, its lock ranked, detached"
