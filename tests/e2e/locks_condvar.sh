#!/usr/bin/env bash
# Waiters woken by a broadcast pile up on the mutex inside pthread_cond_wait
# (glibc's internal re-lock, invisible to the mutex hook): the cond-wait hook
# must charge that queueing to the mutex, with the waiting stack in
# wait_for_round.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/locks_checker.sh"
locks_of_run "$WORK/run" "$WORK/locks.json" -- "$TEST_PROGS/lock_condvar"
lockcheck "$WORK/locks.json" --kind mutex --waiter wait_for_round ||
    fail "lock_condvar: see above; report in $WORK/locks.json"
