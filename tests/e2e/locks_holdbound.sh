#!/usr/bin/env bash
# Hold times are physically possible: 4 and then 8 threads (more than the
# cores, so holders are preempted right after their unlocks) on one mutex;
# the time memprof says the mutex was held while contended is more than 0
# and never more than the program's own wall time.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/locks_checker.sh"
for n in 4 8; do
    locks_of_run "$WORK/run$n" "$WORK/locks$n.json" -- "$TEST_PROGS/lock_hold_bound" "$n" 1500
    wall_ms=$(awk '$1 == "wall_ms" {print $2}' "$WORK/run$n.out")
    [[ $wall_ms =~ ^[0-9]+$ ]] || fail "lock_hold_bound printed no wall_ms"
    python3 - "$WORK/locks$n.json" "$wall_ms" "$n" <<'PY' || fail "hold bound with $n threads"
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
PY
done
