#!/usr/bin/env bash
# `memprof pprof` of a planted heap leak, read by `go tool pprof`: the leak
# function tops inuse_space, -sample_index=alloc_space works, -traces shows
# its stack, the totals are exactly `memprof report`'s, and -diff_base of the
# OLD (SIGUSR2) snapshot against NEW (exit) puts the leak first.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/export_lib.sh"
need_consumers

culprit=leak_plain_malloc
# At SAMPLED_RATE: the leak's estimate is checked within 25% (common.sh).
run_under_shim "$WORK/run" MEMPROF_SAMPLE="$SAMPLED_RATE" -- "$TEST_PROGS/leak_malloc"
old=$(snapshot_of "$WORK/run" 0001)
new=$(snapshot_of "$WORK/run" 0002)

mp "$WORK/report.json" report "$new" --json --top 0
mp /dev/null pprof "$new" -o "$WORK/heap.pb.gz"
mp /dev/null pprof "$old" -o "$WORK/old.pb.gz"
mp /dev/null pprof "$new" --what alloc -o "$WORK/alloc.pb.gz"
# gzip, as profile.proto requires on disk
timeout 10 gzip -t "$WORK/heap.pb.gz" || fail "heap.pb.gz is not valid gzip"

# --- inuse_space (the default for --what heap): the leak is on top
gopprof "$WORK/top.txt" -top -unit=B "$WORK/heap.pb.gz"
cat "$WORK/top.txt"
grep -q '^Type: inuse_space$' "$WORK/top.txt" ||
    fail "the heap profile's default sample type is not inuse_space"
top=$(pycheck top-flat "$WORK/top.txt") || fail "see above"
expect_eq "go tool pprof -top (inuse_space) first function" "$top" "$culprit"

# --- exact totals: pprof's inuse columns are report's totals
gopprof "$WORK/heap.raw" -raw "$WORK/heap.pb.gz"
inuse=$(pycheck pprof-total "$WORK/heap.raw" inuse_space) || fail "see above"
inuse_n=$(pycheck pprof-total "$WORK/heap.raw" inuse_objects) || fail "see above"
rep_bytes=$(json_get "$WORK/report.json" 'd["total"]["bytes"]')
rep_count=$(json_get "$WORK/report.json" 'd["total"]["count"]')
expect_eq "pprof inuse_space total vs report total.bytes" "$inuse" "$rep_bytes"
expect_eq "pprof inuse_objects total vs report total.count" "$inuse_n" "$rep_count"
# the planted leak is ~160 MiB; the estimate within 25% (see common.sh)
leaked=$(leak_field "$WORK/run.out" bytes)
culprit_bytes=$(json_get "$WORK/report.json" \
    'sum(s["bytes"] for s in d["sites"] if s["frames"] and s["frames"][0]["function"] == "'$culprit'")')
pycheck approx "$culprit_bytes" "$leaked" "$SAMPLED_TOL" || fail "report's estimate of the leak is off"
# and pprof's -top line for it carries the same bytes
grep -Eq "^ *${culprit_bytes}B .* ${culprit}\$" "$WORK/top.txt" ||
    fail "pprof -top does not show $culprit with report's $culprit_bytes bytes"

# the gauges must also be right as Go's tools compute them: pprof's own
# "Total samples" line (with -unit=B, no rounding) agrees
grep -q "Total samples = ${rep_bytes}B" "$WORK/top.txt" ||
    fail "pprof's Total samples line is not ${rep_bytes}B"

# --- alloc_space: selectable, and at least what is live
gopprof "$WORK/top_alloc.txt" -top -unit=B -sample_index=alloc_space "$WORK/heap.pb.gz"
grep -q '^Type: alloc_space$' "$WORK/top_alloc.txt" ||
    fail "-sample_index=alloc_space did not select alloc_space"
alloc=$(pycheck pprof-total "$WORK/heap.raw" alloc_space) || fail "see above"
((alloc >= inuse)) || fail "alloc_space total $alloc < inuse_space total $inuse"
# churn allocated 192 MiB and freed it: it shows in alloc_space only
grep -Eq ' churn$' "$WORK/top_alloc.txt" || fail "churn is missing from alloc_space"
# --what alloc writes the same numbers with alloc_space as the default
gopprof "$WORK/alloc_top.txt" -top -unit=B "$WORK/alloc.pb.gz"
grep -q '^Type: alloc_space$' "$WORK/alloc_top.txt" ||
    fail "--what alloc: the default sample type is not alloc_space"
gopprof "$WORK/alloc.raw" -raw "$WORK/alloc.pb.gz"
expect_eq "--what alloc alloc_space total" \
    "$(pycheck pprof-total "$WORK/alloc.raw" alloc_space)" "$alloc"
# report's per-site alloc_bytes are the same estimates
rep_alloc_culprit=$(json_get "$WORK/report.json" \
    'sum(s["alloc_bytes"] for s in d["sites"] if s["frames"] and s["frames"][0]["function"] == "'$culprit'")')
grep -Eq "^ *${rep_alloc_culprit}B .* ${culprit}\$" "$WORK/top_alloc.txt" ||
    fail "pprof alloc_space does not show $culprit with report's alloc_bytes $rep_alloc_culprit"

# --- -traces: the culprit's whole stack, leaf first
gopprof "$WORK/traces.txt" -traces -unit=B "$WORK/heap.pb.gz"
pycheck trace-has "$WORK/traces.txt" "${culprit_bytes}B" \
    "$culprit" main __libc_start_call_main __libc_start_main _start ||
    fail "pprof -traces does not show the leak's stack"
# -list works from the Line records (file:line of the culprit)
gopprof "$WORK/peek.txt" -peek "^${culprit}\$" "$WORK/heap.pb.gz"
grep -Eq "\| +main\$" "$WORK/peek.txt" || { cat "$WORK/peek.txt"; fail "-peek does not show main calling $culprit"; }

# --- -diff_base OLD: the leak is the top positive
gopprof "$WORK/diff.txt" -top -unit=B -diff_base "$WORK/old.pb.gz" "$WORK/heap.pb.gz"
cat "$WORK/diff.txt"
top=$(pycheck top-flat "$WORK/diff.txt") || fail "see above"
expect_eq "go tool pprof -diff_base first function" "$top" "$culprit"
grep -Eq "^ *${culprit_bytes}B .* ${culprit}\$" "$WORK/diff.txt" ||
    fail "the diff does not credit $culprit with its $culprit_bytes bytes"
# the long-lived baseline state is in both snapshots: it cancels out
if grep -q 'keep_long_lived_state' "$WORK/diff.txt"; then
    fail "keep_long_lived_state did not change between the snapshots, yet the diff lists it"
fi
mp "$WORK/diff.json" diff "$old" "$new" --json --top 0
gopprof "$WORK/diff.raw" -raw -diff_base "$WORK/old.pb.gz" "$WORK/heap.pb.gz"
expect_eq "pprof -diff_base inuse_space net vs memprof diff total.bytes_delta" \
    "$(pycheck pprof-total "$WORK/diff.raw" inuse_space)" \
    "$(json_get "$WORK/diff.json" 'd["total"]["bytes_delta"]')"
echo "export_pprof_heap: ok ($culprit: $culprit_bytes of $inuse bytes live)"
