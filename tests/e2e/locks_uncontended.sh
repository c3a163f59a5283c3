#!/usr/bin/env bash
# A single-threaded program locking a lot has no contention: no lock listed.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/locks_checker.sh"
locks_of_run "$WORK/run" "$WORK/locks.json" -- "$TEST_PROGS/lock_uncontended"
lockcheck "$WORK/locks.json" --empty || fail "an uncontended program listed locks"
