#!/usr/bin/env bash
# `memprof pprof --what locks` of tests/programs/lock_hot (four threads
# hammering one mutex in worker_hot, a cold one in worker_cold), read by
# `go tool pprof`: worker_hot tops the delay and the contentions, -traces
# shows its stack, and the totals are exactly `memprof locks --json`'s.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/export_lib.sh"
need_consumers

run_under_shim "$WORK/run" -- "$TEST_PROGS/lock_hot"
snap=$(snapshot_of "$WORK/run" 0001)
mp "$WORK/locks.json" locks "$snap" --json --top 0
mp /dev/null pprof "$snap" --what locks -o "$WORK/locks.pb.gz"

gopprof "$WORK/top.txt" -top -unit=ns "$WORK/locks.pb.gz"
cat "$WORK/top.txt"
grep -q '^Type: delay$' "$WORK/top.txt" || fail "the locks profile's default sample type is not delay"
top=$(pycheck top-flat "$WORK/top.txt") || fail "see above"
expect_eq "go tool pprof -top (delay) first function" "$top" worker_hot

gopprof "$WORK/top_n.txt" -top -sample_index=contentions "$WORK/locks.pb.gz"
grep -q '^Type: contentions$' "$WORK/top_n.txt" ||
    fail "-sample_index=contentions did not select contentions"
top=$(pycheck top-flat "$WORK/top_n.txt") || fail "see above"
expect_eq "go tool pprof -top (contentions) first function" "$top" worker_hot

# exact totals: every waiter stack of every lock, as `memprof locks` counts
gopprof "$WORK/locks.raw" -raw "$WORK/locks.pb.gz"
expect_eq "pprof delay total vs sum of locks[].sites[].wait_ns" \
    "$(pycheck pprof-total "$WORK/locks.raw" delay)" \
    "$(json_get "$WORK/locks.json" 'sum(s["wait_ns"] for l in d["locks"] for s in l["sites"])')"
expect_eq "pprof contentions total vs sum of locks[].sites[].contentions" \
    "$(pycheck pprof-total "$WORK/locks.raw" contentions)" \
    "$(json_get "$WORK/locks.json" 'sum(s["contentions"] for l in d["locks"] for s in l["sites"])')"
expect_eq "pprof delay total vs sum of locks[].wait_ns" \
    "$(pycheck pprof-total "$WORK/locks.raw" delay)" \
    "$(json_get "$WORK/locks.json" 'sum(l["wait_ns"] for l in d["locks"])')"
hot_ns=$(json_get "$WORK/locks.json" 'd["locks"][0]["wait_ns"]')
((hot_ns > 0)) || fail "the hot lock has no wait time"

# -traces: the waiter stack, leaf first, labelled with the hot lock's address
gopprof "$WORK/traces.txt" -traces "$WORK/locks.pb.gz"
pycheck trace-has "$WORK/traces.txt" - worker_hot thread_main start_thread __GI___clone3 ||
    fail "pprof -traces does not show worker_hot's waiter stack"
hot_addr=$(json_get "$WORK/locks.json" 'd["locks"][0]["address"]')
grep -Eq "^ +lock: +${hot_addr}\$" "$WORK/traces.txt" ||
    fail "no sample carries the label lock=$hot_addr of the hot lock"
# -tagfocus on that label keeps exactly the hot lock's wait
gopprof "$WORK/hot.raw" -raw -tagfocus "lock=${hot_addr}" "$WORK/locks.pb.gz"
expect_eq "pprof delay of lock=$hot_addr vs locks[0].wait_ns" \
    "$(pycheck pprof-total "$WORK/hot.raw" delay)" "$hot_ns"
echo "export_pprof_locks: ok (worker_hot waited $hot_ns ns)"
