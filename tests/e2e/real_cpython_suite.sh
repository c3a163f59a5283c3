#!/usr/bin/env bash
# CPython's own regression tests for signals, threads, fork, subprocess, os,
# mmap, resources, select, pty, concurrent.futures, multiprocessing (fork and
# spawn) and asyncio (issue 16), run by Debian's /usr/bin/python3 (`python3
# -m test`, Debian's libpython3.X-testsuite) twice: plainly and with the shim
# preloaded at its default settings. Every test case that passes plainly
# must pass under the shim (SPEC "Safety in someone else's process": the
# program cannot tell the shim is there beyond timing); each one that does
# not is named, with what happened to it under the shim.
#
# Both runs go at once (-j2 each: most of these tests sleep or wait on
# children), each module bounded by regrtest's --timeout so a hang becomes
# a failure of the cases it stopped. Per-case results come from
# --junit-xml; for a module killed by that timeout, from the -v log
# (tests/e2e/pyresults.py). AF_VSOCK cases are left out: they hang on
# virtual machines with or without the shim. The profiled run must really
# have been profiled: regrtest's main process leaves an exit snapshot and
# more python3 processes than modules (a worker per module) left snapshots.
#
# ctest label `cpython` (`ctest -L cpython`); it takes minutes, so its
# timeout is its own (tests/CMakeLists.txt). Results in $WORK: plain.xml,
# plain.log, shim.xml, shim.log, snaps/.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/suite_lib.sh"

PY=/usr/bin/python3
[[ -x $PY ]] || fail "no $PY (run scripts/setup)"
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$PY" -c 'import test.libregrtest, test.test_threading' 2>/dev/null ||
    fail "no CPython test suite for $PY (scripts/setup test installs libpython$PYVER-testsuite)"

# Longest first, so -j2 keeps both workers busy to the end.
MODULES=(
    test_concurrent_futures
    test_multiprocessing_spawn
    test_asyncio
    test_multiprocessing_fork
    test_signal
    test_subprocess
    test_faulthandler
    test_threading
    test_selectors
    test_os
    test_posix
    test_eintr
    test_thread
    test_threadsignals
    test_fork1
    test_wait3
    test_wait4
    test_mmap
    test_resource
    test_select
    test_pty
)
IGNORE=(-i '*VSOCK*')
# Per module (regrtest kills a worker after it). Not more: a child that
# never exits costs CPython's tests 300 s (support.LONG_TIMEOUT) before they
# give up and pass, so only this limit turns that hang into a failure. The
# slowest modules (multiprocessing_spawn, concurrent_futures) take 1.5-2.5
# minutes with both runs sharing 2 cores, nearly 5 at a load average of 20.
MODULE_TIMEOUT=300
# The whole of one run: regrtest's own limit (the module timeout x 1.5) plus
# the slowest module, with room.
RUN_TIMEOUT=900

suite_tmpdirs cpy

# run_suite NAME TMP plain|shim [ARGS...]: one `python3 -m test` run of
# MODULES, plainly or under the shim, in $WORK/NAME (cwd) with TMPDIR=TMP
# and regrtest's extra ARGS; results in $WORK/NAME.{xml,log,rc}, the
# python's pid in $WORK/NAME.pid (bash execs it).
run_suite() {
    local name=$1 tmp=$2 mode=$3 dir=$WORK/$1 rc=0
    shift 3
    mkdir -p "$dir"
    (cd "$dir" && TMPDIR=$tmp suite_exec "$dir.pid" "$mode" \
        "$PY" -m test -j2 --timeout "$MODULE_TIMEOUT" --junit-xml "$dir.xml" -v "${IGNORE[@]}" \
        "$@") >"$dir.log" 2>&1 || rc=$?
    echo "$rc" >"$dir.rc"
    # regrtest: 0 all passed, 2 some failed, 3 interrupted; 124/137 is ours.
    suite_finished "$name" "$rc" "$dir.log"
    echo "$name: status $rc, $(grep -E '^(All [0-9]+ tests OK|[0-9]+ tests? (failed|skipped|altered|timed out|crashed))' "$dir.log" | paste -sd ';' -)"
}

# run_modules plain|shim TMP: the run of all MODULES, named after its mode.
run_modules() {
    run_suite "$1" "$2" "$1" "${MODULES[@]}"
}

t0=$SECONDS
suite_both run_modules
for name in plain shim; do
    [[ -s $WORK/$name.xml ]] || { tail -5 "$WORK/$name.log" >&2; fail "the $name run wrote no results"; }
done

# Really profiled: the main process's last snapshot is its exit snapshot,
# and more python3 processes than modules left files (each module's worker
# exits normally, unless it hangs).
suite_profiled "$WORK/shim.pid" python3
pids=$(suite_processes python3)
((pids > ${#MODULES[@]})) ||
    fail "only $pids python3 processes left snapshots; regrtest alone runs $((${#MODULES[@]} + 1))"

# A module whose worker was killed (a hang) or died under the shim lost the
# results of the cases after the one it was running: those that passed
# plainly run again under the shim, at most twice (each round names the
# case that hung as a difference, so a second hang in the same module does
# not hide the rest either).
pairs=("$WORK/shim.xml" "$WORK/shim.log")
for round in 1 2; do
    mapfile -t again < <(python3 "$E2E_DIR/pyresults.py" rerun "$WORK/rerun$round.match" \
        "$WORK/plain.xml" "${pairs[@]}")
    [[ ${#again[@]} -gt 0 ]] || break
    echo "rerun $round under the shim: $(wc -l <"$WORK/rerun$round.match") cases of ${again[*]}"
    run_suite "rerun$round" "$TMP_SHIM" shim --matchfile "$WORK/rerun$round.match" "${again[@]}"
    pairs+=("$WORK/rerun$round.xml" "$WORK/rerun$round.log")
done

rc=0
python3 "$E2E_DIR/pyresults.py" compare "$WORK/plain.xml" "${pairs[@]}" || rc=$?
[[ $rc -eq 0 ]] ||
    fail "the CPython test cases above pass plainly but not under the shim (logs: $WORK/plain.log, $WORK/shim.log)"
warnings=$(grep -c '^memprof:' "$WORK/shim.log" || true)
echo "ok: ${#MODULES[@]} CPython test modules in $((SECONDS - t0)) s: every case that passes plainly" \
    "passes under the shim; $pids python3 processes profiled, $(snapshots "$WORK/snaps" | wc -l)" \
    "snapshots; $warnings memprof: lines in its log"
