#!/usr/bin/env bash
# Writer contention on a rwlock: ranked first, kind rwlock, the biggest
# waiter and holder stacks in writer_hot. (No --first: the first contention,
# which names the site, may fall on a reader.)
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/locks_checker.sh"
locks_of_run "$WORK/run" "$WORK/locks.json" -- "$TEST_PROGS/lock_rwlock"
lockcheck "$WORK/locks.json" --kind rwlock --waiter writer_hot --holder writer_hot \
    || fail "lock_rwlock: see above; report in $WORK/locks.json"
