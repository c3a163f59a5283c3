#!/usr/bin/env bash
# `memprof flame` SVGs (heap, alloc, locks, and the differential OLD NEW):
# each is well-formed XML by xmllint, self-contained (no external URL,
# link, image, import or script), interactive (the inline search and zoom
# script), names the planted culprit as a frame, and its root frame holds
# the total that memprof's reports give.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/export_lib.sh"
need_consumers

run_under_shim "$WORK/heap" -- "$TEST_PROGS/leak_malloc"
old=$(snapshot_of "$WORK/heap" 0001)
new=$(snapshot_of "$WORK/heap" 0002)
mp "$WORK/report.json" report "$new" --json --top 0
run_under_shim "$WORK/locks" -- "$TEST_PROGS/lock_hot"
lsnap=$(snapshot_of "$WORK/locks" 0001)
mp "$WORK/locks.json" locks "$lsnap" --json --top 0

mp /dev/null flame "$new" -o "$WORK/heap.svg"
check_svg "$WORK/heap.svg" --frame leak_plain_malloc --frame main \
    --root-value "$(json_get "$WORK/report.json" 'd["total"]["bytes"]')"
# without -o the SVG goes to standard output, the same document
mp "$WORK/heap_stdout.svg" flame "$new" --what heap
cmp -s "$WORK/heap.svg" "$WORK/heap_stdout.svg" || fail "flame to stdout differs from flame -o"

mp /dev/null flame "$new" --what alloc -o "$WORK/alloc.svg"
mp "$WORK/alloc.folded" folded "$new" --what alloc
check_svg "$WORK/alloc.svg" --frame leak_plain_malloc --frame churn \
    --root-value "$(awk '{s += $NF} END {printf "%d", s}' "$WORK/alloc.folded")"

mp /dev/null flame "$lsnap" --what locks -o "$WORK/locks.svg"
check_svg "$WORK/locks.svg" --frame worker_hot --frame thread_main \
    --root-value "$(json_get "$WORK/locks.json" 'sum(s["wait_ns"] for l in d["locks"] for s in l["sites"])')"

# differential: coloured by growth, the leak red, the unchanged baseline not
mp /dev/null flame "$old" "$new" -o "$WORK/diff.svg"
check_svg "$WORK/diff.svg" --frame leak_plain_malloc --frame keep_long_lived_state \
    --red leak_plain_malloc --not-red keep_long_lived_state \
    --root-value "$(json_get "$WORK/report.json" 'd["total"]["bytes"]')"
grep -q 'Differential' "$WORK/diff.svg" || fail "the differential SVG does not say it is one"

# a lock flame of the program with no heap leak still works in differential
# form against itself: nothing grew, so nothing is red
mp /dev/null flame "$lsnap" "$lsnap" --what locks -o "$WORK/locks_same.svg"
check_svg "$WORK/locks_same.svg" --frame worker_hot --not-red worker_hot --not-red all
echo "export_flame: ok"
