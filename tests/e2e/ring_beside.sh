#!/usr/bin/env bash
# A single-threaded program beside a collector thread (issue 15): at
# MEMPROF_SAMPLE=1, 2M malloc/free pairs of tests/programs/solo_folds
# are 4M events. The thread folds them itself while the collector sleeps
# (ring.c, collector_away), so the process's voluntary context switches
# stay far below one per half ring (2048 events, ~1950 here: what pushing
# every event to the collector cost in doorbells and sleeps); the collector
# still wakes for the heap series (its points show the run), and the exit
# snapshot's totals are exact: 2M allocations counted at churn_slots,
# none of them live.
source "$(dirname "$0")/common.sh"
pairs=2000000
run_under_shim "$WORK/exact" MEMPROF_SAMPLE=1 -- "$TEST_PROGS/solo_folds" $pairs
wakes=$(leak_field "$WORK/exact.out" voluntary WAKES)
echo "voluntary context switches: $wakes for $pairs pairs"
((wakes < 400)) || fail "$wakes voluntary context switches for $pairs pairs (< 400: folded beside the collector)"
mapfile -t files < <(snapshots "$WORK/exact")
[[ ${#files[@]} -eq 1 ]] || fail "expected one exit snapshot, found ${#files[@]}"
"$MEMPROF_BIN" report "${files[0]}" --json --what alloc --top 0 >"$WORK/alloc.json" ||
    fail "report exited $?"
python3 - "$WORK/alloc.json" $pairs <<'PY' || fail "the totals at churn_slots are not exact; see $WORK/alloc.json"
import json, sys
d, pairs = json.load(open(sys.argv[1])), int(sys.argv[2])
mine = [s for s in d["sites"] if s["frames"] and s["frames"][0]["function"] == "churn_slots"]
assert len(mine) == 1, [s["frames"][:1] for s in d["sites"]][:5]
assert mine[0]["count"] == pairs and mine[0]["live_bytes"] == 0, mine[0]
assert len(d["series"]) >= 2, d["series"]
PY
echo "ok: folded beside the collector, exact totals"
