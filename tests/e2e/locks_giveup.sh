#!/usr/bin/env bash
# Failed trylocks the caller gives up on are not waits: give_up_once (EBUSY,
# a second of other work, then an uncontended lock) and give_up_loop
# (memcached's skip-busy-items loop) appear nowhere; the genuinely
# contended lock of worker_hot ranks first.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/locks_checker.sh"
locks_of_run "$WORK/run" "$WORK/locks.json" -- "$TEST_PROGS/lock_trylock_giveup"
lockcheck "$WORK/locks.json" --first worker_hot --waiter worker_hot \
    --absent give_up_once --absent give_up_loop ||
    fail "lock_trylock_giveup: see above; report in $WORK/locks.json"
