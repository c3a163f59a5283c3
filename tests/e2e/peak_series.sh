#!/usr/bin/env bash
# The heap over time (tests/programs/peak_steps.c): a 2 s run that climbs
# to 120 MiB in 15 steps and falls to nothing gives a series of a few
# points a second that shows the climb (its highest point near the top) and
# the fall (its last point near zero), RSS too, and a peak at the top of
# the climb ranked to climb_steps; within 25% sampled (set_rate), exact
# (the peak) at MEMPROF_SAMPLE=1.
source "$(dirname "$0")/common.sh"
for mode in sampled exact; do
    two_rate_run "$mode" peak_steps STEPS bytes
    top=$value
    "$MEMPROF_BIN" report "${files[-1]}" --json >"$WORK/$mode.json" || fail "report exited $?"
    python3 "$E2E_DIR/reportcheck.py" series "$WORK/$mode.json" --min-points 6 ||
        fail "$mode: bad series; see $WORK/$mode.json"
    python3 - "$WORK/$mode.json" "$top" <<'PY' || fail "$mode: the series misses the climb or the fall"
import json, sys
d, top = json.load(open(sys.argv[1])), int(sys.argv[2])
heap = [p["heap_bytes"] for p in d["series"]]
assert max(heap) >= 0.5 * top, (max(heap), top)
assert heap[-1] <= 0.1 * top, heap
i = heap.index(max(heap))
assert all(a <= b for a, b in zip(heap[:i], heap[1:i + 1])) or len(heap) < 3, heap
PY
    "$MEMPROF_BIN" report "${files[-1]}" --what peak --json --top 0 >"$WORK/$mode.peak.json"
    python3 "$E2E_DIR/reportcheck.py" peak "$WORK/$mode.peak.json" --culprit climb_steps \
        --bytes "$top" --tol "$tol" || fail "$mode: see $WORK/$mode.peak.json"
done
echo "heap over time: climb and fall seen"
