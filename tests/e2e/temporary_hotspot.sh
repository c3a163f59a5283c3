#!/usr/bin/env bash
# `report --what temporary` ranks the site of short-lived allocations first
# (handle_request: a million buffers freed at once), with their count
# within 25% sampled (set_rate) and 95..100% of it at MEMPROF_SAMPLE=1;
# fill_cache's blocks, held 3 ms, are freed but never temporary.
source "$(dirname "$0")/common.sh"
for mode in sampled exact; do
    two_rate_run "$mode" temporary_hotspot TEMPORARY count
    n=$value
    [[ ${#files[@]} -eq 1 ]] || fail "expected only the exit snapshot, found ${files[*]:-none}"
    "$MEMPROF_BIN" report "${files[0]}" --what temporary --json --top 0 >"$WORK/$mode.temp.json" ||
        fail "report --what temporary exited $?"
    "$MEMPROF_BIN" report "${files[0]}" --what alloc --json --top 0 >"$WORK/$mode.alloc.json" ||
        fail "report --what alloc exited $?"
    python3 "$E2E_DIR/reportcheck.py" temporary "$WORK/$mode.temp.json" --culprit handle_request \
        --count "$n" --tol "$tol" --never fill_cache --alloc-report "$WORK/$mode.alloc.json" ||
        fail "$mode: see $WORK/$mode.temp.json"
    "$MEMPROF_BIN" report "${files[0]}" --what temporary --top 1 >"$WORK/$mode.txt"
    grep -q '^temporary (freed within 1.0 ms): ' "$WORK/$mode.txt" ||
        fail "$mode: no temporary summary line: $(cat "$WORK/$mode.txt")"
    grep -q ' handle_request (temporary_hotspot.c' "$WORK/$mode.txt" ||
        fail "$mode: handle_request is not in the text ranking"
done
echo "temporary hot spot: found at both rates"
