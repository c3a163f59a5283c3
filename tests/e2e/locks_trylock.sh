#!/usr/bin/env bash
# A lock only ever taken by trylock-spinning is still reported contended.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/locks_checker.sh"
locks_of_run "$WORK/run" "$WORK/locks.json" -- "$TEST_PROGS/lock_trylock_spin"
lockcheck "$WORK/locks.json" --first spin_worker --waiter spin_worker ||
    fail "lock_trylock_spin: see above; report in $WORK/locks.json"
