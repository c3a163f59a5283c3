#!/usr/bin/env bash
# A 512 MiB transient peak freed between snapshots must not outrank the real
# (smaller) leak, and must net to zero. And the exit snapshot still knows
# the peak: `report --what peak` ranks transient_peak first with the bytes
# it held (within 25% sampled (set_rate), exact at MEMPROF_SAMPLE=1), the
# peak's bytes include the leak allocated on top of it, its time lies in
# the run, and the series and the peak line show in text.
source "$(dirname "$0")/common.sh"
check_planted_leak transient_peak leak_under_peak transient_peak.c --zero transient_peak

peak_field() {
    local v
    v=$(sed -n "s/^PEAK .*$2=\([0-9]*\).*/\1/p" "$1")
    [[ -n "$v" ]] || fail "no PEAK line with $2= in $1"
    echo "$v"
}

for mode in sampled exact; do
    set_rate "$mode"
    mapfile -t files < <(snapshots "$WORK/$mode")
    last=${files[-1]}
    peak=$(peak_field "$WORK/$mode.out" bytes)
    leak=$(leak_field "$WORK/$mode.out" bytes)
    "$MEMPROF_BIN" report "$last" --what peak --json --top 0 >"$WORK/$mode.peak.json" ||
        fail "report --what peak exited $?"
    python3 "$E2E_DIR/reportcheck.py" peak "$WORK/$mode.peak.json" --culprit transient_peak \
        --bytes "$peak" --tol "$tol" --at-least $((peak + leak)) ||
        fail "$mode: the peak is wrong; see $WORK/$mode.peak.json"
    "$MEMPROF_BIN" report "$last" --json >"$WORK/$mode.heap.json" || fail "report --json exited $?"
    python3 "$E2E_DIR/reportcheck.py" series "$WORK/$mode.heap.json" --min-points 2 ||
        fail "$mode: bad series; see $WORK/$mode.heap.json"
    "$MEMPROF_BIN" report "$last" >"$WORK/$mode.txt" || fail "report exited $?"
    grep -q '^peak heap: .* after start; now ' "$WORK/$mode.txt" ||
        fail "$mode: text report has no peak line: $(head -5 "$WORK/$mode.txt")"
    # The live heap now does not contain the transient peak.
    ! grep -q 'transient_peak (transient_peak.c' "$WORK/$mode.txt" ||
        fail "$mode: the freed peak shows in the live heap"
    # memprof html's data model carries the peak and its call tree.
    "$MEMPROF_BIN" html "$last" -o "$WORK/$mode.html" || fail "html exited $?"
    grep -q "\"peak\": {\"bytes\": [1-9]" "$WORK/$mode.html" || fail "$mode: html has no peak"
    grep -q '"peak": {"unit": "bytes"' "$WORK/$mode.html" || fail "$mode: html has no peak tree"
done
echo "transient peak: found at both rates"
