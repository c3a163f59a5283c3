#!/usr/bin/env bash
# The shim holds no descriptor the program can see (SPEC "Safety in
# someone else's process"; issue 16 item 2): not the request socket (it
# lives in the collector thread's own descriptor table), not a doorbell
# (a signal to the collector thread), not libunwind's memory-check pipe
# (open only while libunwind unwinds for us). tests/programs/fds_list.c
# lists /proc/self/fd before, during and after a lot of sampled
# allocations (some in a signal handler, whose frame sends libunwind
# through its checked reads), single-threaded and with four threads, and
# the lists must match the plain run's; a program that closes everything
# but the descriptor it passes (CPython's test_pass_fds_redirected) execs
# a child that must have exactly 0, 1, 2 and 5; a daemon that closes its
# stdout while the collector runs must let its reader see EOF; and
# python3 sees the same descriptors under the shim as without it.
source "$(dirname "$0")/common.sh"

PROG=$TEST_PROGS/fds_list
shim() {
    timeout -k 5 60 env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$WORK/snaps" "$@"
}
mkdir -p "$WORK/snaps"

for mode in solo threads passfds; do
    plain_ok "$mode" "$WORK/$mode.plain" "$PROG" "$mode"
    for env in MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=1; do
        # the same descriptors as plain
        same_as_plain "$mode $env" "$WORK/$mode.plain" "$WORK/$mode.${env%%=*}" \
            MEMPROF_SAMPLE=1 "$env" -- "$PROG" "$mode"
    done
    echo "$mode: $(tail -1 "$WORK/$mode.plain"), plain and under the shim"
done
grep -qx "fds same" "$WORK/threads.plain" || fail "threads: $(cat "$WORK/threads.plain")"
grep -qx "child fds as passed" "$WORK/passfds.plain" || fail "passfds: $(cat "$WORK/passfds.plain")"

# How often libunwind made its pipe for us in that run (each one closed
# again): information, the fast walk may need libunwind less over time.
if command -v strace >/dev/null; then
    strace -f -e trace=pipe2 -o "$WORK/strace.out" env LD_PRELOAD="$MEMPROF_SHIM" \
        MEMPROF_OUT="$WORK/snaps" MEMPROF_SAMPLE=1 "$PROG" threads >"$WORK/strace.prog" 2>&1 ||
        fail "threads under strace: $(cat "$WORK/strace.prog")"
    grep -qx "fds same" "$WORK/strace.prog" || fail "threads under strace: $(cat "$WORK/strace.prog")"
    echo "libunwind's pipe made (and closed) $(grep -c 'pipe2(' "$WORK/strace.out" || true) times"
fi

# A daemon closes its stdout while the collector runs: the reader of the
# pipe sees EOF then, while the daemon lives on (30 s), not when it ends.
# Whether it still lives when EOF comes is the check, not a time, which
# the daemon's exact-mode start-up alone can take on a loaded machine.
for env in plain MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=1; do
    rm -f "$WORK/daemon.pid"
    t0=$(date +%s%N)
    if [[ $env == plain ]]; then
        got=$(timeout 60 "$PROG" daemon "$WORK/daemon.pid")
    else
        got=$(shim "$env" "$PROG" daemon "$WORK/daemon.pid")
    fi
    ms=$((($(date +%s%N) - t0) / 1000000))
    daemon=$(cat "$WORK/daemon.pid")
    alive=0
    kill -0 "$daemon" 2>/dev/null && alive=1
    kill -9 "$daemon" 2>/dev/null || true
    echo "daemon $env: EOF after $ms ms, the daemon $([[ $alive -eq 1 ]] && echo still running || echo gone)"
    [[ $alive -eq 1 ]] || fail "daemon $env: the reader saw EOF only when the daemon ended ($ms ms)"
    [[ -z $got ]] || fail "daemon $env printed '$got'"
done

# python3 (the system one) lists its own descriptors, with and without a
# thread of its own.
PY=/usr/bin/python3
[[ -x $PY ]] || fail "python3 (Debian package) is missing"
for code in "import os; print(sorted(os.listdir('/proc/self/fd')))" \
    "import os, threading; t = threading.Thread(target=lambda: [bytes(100) for _ in range(100000)]); t.start(); t.join(); print(sorted(os.listdir('/proc/self/fd')))"; do
    plain=$("$PY" -c "$code")
    under=$(shim MEMPROF_SAMPLE=1 "$PY" -c "$code")
    [[ $plain == "$under" ]] || fail "python3 sees $under under the shim, $plain without"
    echo "python3: $under"
done
echo "ok: no descriptor of the shim's is visible to the program"
