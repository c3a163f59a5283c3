#!/usr/bin/env bash
# One mutex hammered by four threads in worker_hot beside a rarely contended
# one: the hot lock ranks first, and both its waiter and its holder stacks
# are in worker_hot.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/locks_checker.sh"
locks_of_run "$WORK/run" "$WORK/locks.json" -- "$TEST_PROGS/lock_hot"
lockcheck "$WORK/locks.json" --kind mutex --first worker_hot --waiter worker_hot \
    --holder worker_hot || fail "lock_hot: see above; report in $WORK/locks.json"
