#!/usr/bin/env bash
# `memprof folded` for heap, alloc and locks: every line has the folded
# shape ("root;...;leaf value", value after the last space), the values sum
# exactly to the totals of memprof's own reports and of the pprof export,
# and the planted culprit is the leaf of the largest line.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/export_lib.sh"
need_consumers

# Exact sampling: the leak (160 MiB) then outweighs each churn stack
# (128 MiB and 64 MiB) in alloc too, without sampling noise.
run_under_shim "$WORK/heap" MEMPROF_SAMPLE=1 -- "$TEST_PROGS/leak_malloc"
new=$(snapshot_of "$WORK/heap" 0002)
mp "$WORK/report.json" report "$new" --json --top 0
leaked=$(leak_field "$WORK/heap.out" bytes)

# --- heap: sums to report's total.bytes; with exact sampling, the leak's
# line is exactly what the program leaked
mp "$WORK/heap.folded" folded "$new"
mp "$WORK/heap_default.folded" folded "$new" --what heap
cmp -s "$WORK/heap.folded" "$WORK/heap_default.folded" || fail "folded without --what is not --what heap"
pycheck folded "$WORK/heap.folded" --leaf leak_plain_malloc --via main \
    --total "$(json_get "$WORK/report.json" 'd["total"]["bytes"]')" || fail "heap folded stacks: see above"
grep -Eq "(^|;)main;leak_plain_malloc ${leaked}\$" "$WORK/heap.folded" ||
    fail "heap: no line main;leak_plain_malloc $leaked (the exact leak): $(grep leak_plain "$WORK/heap.folded")"

# --- alloc: sums to pprof's alloc_space total; report's alloc_bytes of the
# culprit site is its line
mp "$WORK/alloc.folded" folded "$new" --what alloc
mp /dev/null pprof "$new" -o "$WORK/heap.pb.gz"
gopprof "$WORK/heap.raw" -raw "$WORK/heap.pb.gz"
pycheck folded "$WORK/alloc.folded" --leaf leak_plain_malloc --via main \
    --total "$(pycheck pprof-total "$WORK/heap.raw" alloc_space)" || fail "alloc folded stacks: see above"
rep_alloc=$(json_get "$WORK/report.json" \
    'sum(s["alloc_bytes"] for s in d["sites"] if s["frames"][0]["function"] == "leak_plain_malloc")')
expect_eq "report alloc_bytes of leak_plain_malloc vs the exact leak" "$rep_alloc" "$leaked"
grep -Eq "(^|;)main;churn [0-9]+\$" "$WORK/alloc.folded" ||
    fail "alloc: churn (freed, so only in alloc) has no line"
if grep -Eq ';churn [0-9]+$' "$WORK/heap.folded"; then
    fail "heap: churn freed everything, yet has a live line"
fi

# --- locks: sums to the wait of every waiter stack of every lock
run_under_shim "$WORK/locks" -- "$TEST_PROGS/lock_hot"
lsnap=$(snapshot_of "$WORK/locks" 0001)
mp "$WORK/locks.json" locks "$lsnap" --json --top 0
mp "$WORK/locks.folded" folded "$lsnap" --what locks
pycheck folded "$WORK/locks.folded" --leaf worker_hot --via thread_main \
    --total "$(json_get "$WORK/locks.json" 'sum(s["wait_ns"] for l in d["locks"] for s in l["sites"])')" ||
    fail "locks folded stacks: see above"
echo "export_folded: ok"
