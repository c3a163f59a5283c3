#!/usr/bin/env bash
# Holders in the lock exports: in lock_wait10ms hold_long holds the mutex
# that wait_short waits for. `pprof --what locks` blames the waiter,
# `--what locks-holders` the holder (Go's mutex profile view), as read by
# `go tool pprof -top`; the folded export agrees, and both views carry the
# same total delay.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/export_lib.sh"
need_consumers

run_under_shim "$WORK/run" -- "$TEST_PROGS/lock_wait10ms"
snap=$(snapshot_of "$WORK/run" 0001)
mp /dev/null pprof "$snap" --what locks -o "$WORK/waiters.pb.gz"
mp /dev/null pprof "$snap" --what locks-holders -o "$WORK/holders.pb.gz"

gopprof "$WORK/w.txt" -top -unit=ns "$WORK/waiters.pb.gz"
gopprof "$WORK/h.txt" -top -unit=ns "$WORK/holders.pb.gz"
cat "$WORK/h.txt"
grep -q '^Type: delay$' "$WORK/h.txt" || fail "the holders profile's default type is not delay"
expect_eq "waiters -top first function" "$(pycheck top-flat "$WORK/w.txt")" wait_short
expect_eq "holders -top first function" "$(pycheck top-flat "$WORK/h.txt")" hold_long
grep -q 'wait_short' "$WORK/h.txt" && fail "the holders view names the waiter"

gopprof "$WORK/w.raw" -raw "$WORK/waiters.pb.gz"
gopprof "$WORK/h.raw" -raw "$WORK/holders.pb.gz"
expect_eq "delay total, holders vs waiters" "$(pycheck pprof-total "$WORK/h.raw" delay)" \
    "$(pycheck pprof-total "$WORK/w.raw" delay)"

mp "$WORK/h.folded" folded "$snap" --what locks-holders
grep -q 'hold_long' "$WORK/h.folded" || fail "folded --what locks-holders has no hold_long"
