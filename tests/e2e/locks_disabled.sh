#!/usr/bin/env bash
# MEMPROF_LOCKS=0: the same contended program records no lock at all.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/locks_checker.sh"
locks_of_run "$WORK/run" "$WORK/locks.json" MEMPROF_LOCKS=0 -- "$TEST_PROGS/lock_hot"
lockcheck "$WORK/locks.json" --empty || fail "MEMPROF_LOCKS=0 still recorded locks"
grep -q '"lock_profiling": *false' "$WORK/locks.json" || fail "lock_profiling is not false"
