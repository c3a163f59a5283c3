#!/usr/bin/env bash
# C++ locks go through the pthread PLT entries: std::mutex contention in
# cxx_worker_hot ranks first, std::shared_mutex contention is seen too.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/locks_checker.sh"
locks_of_run "$WORK/run" "$WORK/locks.json" -- "$TEST_PROGS/lock_cxx"
lockcheck "$WORK/locks.json" --kind mutex --waiter cxx_worker_hot --holder cxx_worker_hot \
    --has cxx_shared_writer || fail "lock_cxx: see above; report in $WORK/locks.json"
