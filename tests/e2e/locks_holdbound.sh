#!/usr/bin/env bash
# Hold times are physically possible: 4 and then 8 threads (more than the
# cores, so holders are preempted right after their unlocks) on one mutex;
# the time memprof says the mutex was held while contended is more than 0
# and never more than the run's wall time (timed here around the whole
# process: memprof's sampled estimate is capped at the shim's own run
# time, which also covers the start-up and the exit snapshot, a few ms
# the program's own wall_ms leaves out; with every hold queued under
# load the estimate came 1-5 ms above it). Contended holds are
# sampled and weighted (lock_acct.c), so a third run with no work outside
# the critical section (every hold has the other threads queued) checks
# the estimate against the program's own total of its holds (self_hold_ns,
# timed inside the critical section; memprof's window is a little wider):
# within 0.5-2x, where a lost weight would be 1/32 of it.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/locks_checker.sh"
for run in "4 1500" "8 1500" "4 800 0"; do
    n=${run%% *}
    [[ $run == *" 0" ]] && n=${n}q
    t0=$(date +%s%N)
    # shellcheck disable=SC2086
    run_under_shim "$WORK/run$n" -- "$TEST_PROGS/lock_hold_bound" $run
    run_ms=$((($(date +%s%N) - t0 + 999999) / 1000000))
    mapfile -t files < <(snapshots "$WORK/run$n")
    [[ ${#files[@]} -eq 1 ]] || fail "expected 1 snapshot in $WORK/run$n, found ${#files[@]}"
    locks_json "$WORK/locks$n.json" "${files[0]}"
    wall_ms=$(awk '$1 == "wall_ms" {print $2}' "$WORK/run$n.out")
    self_ns=$(awk '$1 == "self_hold_ns" {print $2}' "$WORK/run$n.out")
    [[ $wall_ms =~ ^[0-9]+$ && $self_ns =~ ^[0-9]+$ ]] ||
        fail "lock_hold_bound printed no wall_ms or self_hold_ns"
    python3 - "$WORK/locks$n.json" "$run_ms" "$n" "$self_ns" "$wall_ms" <<'PY' || fail "hold bound with $n threads"
import json, sys
doc = json.load(open(sys.argv[1]))
wall_ns = int(sys.argv[2]) * 1000000
locks = doc["locks"]
if not locks:
    sys.exit("no contended lock with %s threads" % sys.argv[3])
hold = locks[0]["hold_ns"]
print("threads %s: held %.3f s while contended, run %.3f s (the program's own wall %.3f s)"
      % (sys.argv[3], hold / 1e9, wall_ns / 1e9, int(sys.argv[5]) / 1e3))
if hold <= 0:
    sys.exit("no hold time measured")
if hold > wall_ns:
    sys.exit("held longer than the run: %d ns > %d ns" % (hold, wall_ns))
self_ns = int(sys.argv[4])
print("program's own holds %.3f s: ratio %.2f" % (self_ns / 1e9, hold / self_ns))
if sys.argv[3].endswith("q") and not 0.5 * self_ns <= hold <= 2 * self_ns:
    sys.exit("sampled hold estimate %d ns is not near the program's own %d ns" % (hold, self_ns))
PY
done
