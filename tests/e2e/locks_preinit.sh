#!/usr/bin/env bash
# Lock calls in the executable's .preinit_array, before any constructor
# (the shim's too): every hook reaches the real function (a trylock of a
# held lock is EBUSY, not a stand-in's 0), and a mutex contended later in
# main is still profiled and ranked first.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/locks_checker.sh"
"$TEST_PROGS/lock_preinit" > "$WORK/plain.out" ||
    fail "lock_preinit fails without the shim: $(cat "$WORK/plain.out")"
locks_of_run "$WORK/run" "$WORK/locks.json" -- "$TEST_PROGS/lock_preinit"
grep -qx 'preinit ok' "$WORK/run.out" ||
    fail "lock calls before constructors under the shim: $(cat "$WORK/run.out")"
lockcheck "$WORK/locks.json" --kind mutex --first contend_after_preinit \
    --waiter contend_after_preinit || fail "lock_preinit: see above; report in $WORK/locks.json"
