#!/usr/bin/env bash
# Writer contention on a rwlock: ranked first, kind rwlock, waiters and
# holders in writer_hot.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/locks_checker.sh"
locks_of_run "$WORK/run" "$WORK/locks.json" -- "$TEST_PROGS/lock_rwlock"
lockcheck "$WORK/locks.json" --kind rwlock --first writer_hot --waiter writer_hot \
    --holder writer_hot || fail "lock_rwlock: see above; report in $WORK/locks.json"
