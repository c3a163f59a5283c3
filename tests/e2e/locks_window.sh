#!/usr/bin/env bash
# `memprof locks OLD NEW` reports only the contention between the two
# snapshots: phase_one's lock before the SIGUSR2 snapshot, phase_two's after.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/locks_checker.sh"
run_under_shim "$WORK/run" -- "$TEST_PROGS/lock_window"
mapfile -t files < <(snapshots "$WORK/run")
[[ ${#files[@]} -eq 2 ]] || fail "expected 2 snapshots (signal, exit), found ${#files[@]}"
locks_json "$WORK/old.json" "${files[0]}"
lockcheck "$WORK/old.json" --first phase_one --has phase_one --absent phase_two ||
    fail "OLD snapshot: see above"
locks_json "$WORK/window.json" "${files[0]}" "${files[1]}"
lockcheck "$WORK/window.json" --first phase_two --waiter phase_two --absent phase_one ||
    fail "OLD..NEW window: see above"
