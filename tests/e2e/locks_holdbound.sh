#!/usr/bin/env bash
# Hold times are physically possible: 4 and then 8 threads (more than the
# cores, so holders are preempted right after their unlocks) on one mutex;
# the time memprof says the mutex was held while contended is more than 0
# and never more than the program's own wall time. Contended holds are
# sampled and weighted (lock_acct.c), so the estimate is also checked
# against the program's own total of its holds (self_hold_ns, timed inside
# the critical section): nearly every hold here has waiters, and memprof's
# window is a little wider (it starts when the real lock returns), so the
# estimate lies near that total (within 0.4-2x: one sampled hold that
# was preempted counts 32 times); a lost weight is 1/32 of it.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/locks_checker.sh"
for n in 4 8; do
    locks_of_run "$WORK/run$n" "$WORK/locks$n.json" -- "$TEST_PROGS/lock_hold_bound" "$n" 1500
    wall_ms=$(awk '$1 == "wall_ms" {print $2}' "$WORK/run$n.out")
    self_ns=$(awk '$1 == "self_hold_ns" {print $2}' "$WORK/run$n.out")
    [[ $wall_ms =~ ^[0-9]+$ && $self_ns =~ ^[0-9]+$ ]] ||
        fail "lock_hold_bound printed no wall_ms or self_hold_ns"
    python3 - "$WORK/locks$n.json" "$wall_ms" "$n" "$self_ns" <<'PY' || fail "hold bound with $n threads"
import json, sys
doc = json.load(open(sys.argv[1]))
wall_ns = int(sys.argv[2]) * 1000000
locks = doc["locks"]
if not locks:
    sys.exit("no contended lock with %s threads" % sys.argv[3])
hold = locks[0]["hold_ns"]
print("threads %s: held %.3f s while contended, wall %.3f s" % (sys.argv[3], hold / 1e9,
                                                              wall_ns / 1e9))
if hold <= 0:
    sys.exit("no hold time measured")
if hold > wall_ns:
    sys.exit("held longer than the run: %d ns > %d ns" % (hold, wall_ns))
self_ns = int(sys.argv[4])
print("program's own holds %.3f s: ratio %.2f" % (self_ns / 1e9, hold / self_ns))
if not 0.4 * self_ns <= hold <= 2 * self_ns:   # a preempted sampled hold counts 32 times
    sys.exit("sampled hold estimate %d ns is not near the program's own %d ns" % (hold, self_ns))
PY
done
