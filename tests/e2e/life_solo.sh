#!/usr/bin/env bash
# A single-threaded program stays single-threaded under the shim (SPEC
# "Safety in someone else's process"; issue 11 item 8): with the default
# settings the shim has no thread of its own until the program creates
# one. tests/programs/life_solo checks /proc/self/task and num_threads at
# start, after 200k sampled allocations and before and after fork (as
# Chromium's zygote and Python's os.fork do); it must pass plain and under
# the shim, and still leave one exit snapshot per process whose top site
# is its own. Then `memprof snapshot PID` to a single-threaded process
# that allocates once a second: it has no request channel (the socket
# lives with the collector thread, outside the program's descriptors:
# issue 16), and the client says so at once (exit 1, one line naming what
# works instead), no snapshot written, the process still single-threaded.
source "$(dirname "$0")/common.sh"

"$TEST_PROGS/life_solo" >"$WORK/plain.out" || fail "life_solo fails without the shim: $(cat "$WORK/plain.out")"
mkdir -p "$WORK/snaps"
rc=0
timeout -k 5 60 env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$WORK/snaps" MEMPROF_SAMPLE=1 \
    "$TEST_PROGS/life_solo" >"$WORK/shim.out" 2>"$WORK/shim.err" || rc=$?
[[ $rc -eq 0 ]] || fail "life_solo under the shim: status $rc: $(cat "$WORK/shim.out" "$WORK/shim.err")"
grep -qx "solo ok" "$WORK/shim.out" || fail "life_solo under the shim printed: $(cat "$WORK/shim.out")"
[[ ! -s $WORK/shim.err ]] || fail "the shim printed: $(head -3 "$WORK/shim.err")"
n=$(snapshots "$WORK/snaps" | wc -l)
[[ $n -eq 2 ]] || fail "expected 2 exit snapshots (parent and child), found $n"
for f in $(snapshots "$WORK/snaps"); do
    "$MEMPROF_BIN" report --json "$f" >"$WORK/r.json" || fail "report $f failed"
    python3 - "$WORK/r.json" <<'PY' || fail "$f: solo_alloc is not the top site of the exit snapshot"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["trigger"] == "exit", d["trigger"]
sys.exit(0 if d["sites"][0]["frames"][0]["function"] == "solo_alloc" else 1)
PY
done
echo "ok: single-threaded under the shim, two exit snapshots"

# A request to a quiet single-threaded process.
mkdir -p "$WORK/req"
LD_PRELOAD=$MEMPROF_SHIM MEMPROF_OUT=$WORK/req MEMPROF_SAMPLE=1 \
    "$TEST_PROGS/idle_sleep" 30 >"$WORK/req.out" 2>"$WORK/req.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do   # 30 s: a loaded machine starts it slowly
    grep -q ready "$WORK/req.out" 2>/dev/null && break
    sleep 0.05
done
grep -q ready "$WORK/req.out" || fail "idle_sleep never got ready"
[[ $(ls "/proc/$pid/task" | wc -l) -eq 1 ]] || fail "idle_sleep under the shim is not single-threaded"
t0=$(date +%s%N)
rc=0
timeout 60 "$MEMPROF_BIN" snapshot "$pid" >"$WORK/snap.out" 2>"$WORK/snap.err" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
echo "request answered in $ms ms: $(cat "$WORK/snap.err")"
# At once, not after the client's 30 s wait for a reply
# (MP_PROTO_REPLY_TIMEOUT_MS); 10 s leaves a loaded machine room.
((ms <= 10000)) || fail "the refusal took $ms ms (at most 10000: it must not wait for a reply)"
[[ $rc -eq 1 && ! -s $WORK/snap.out && $(wc -l <"$WORK/snap.err") -eq 1 ]] ||
    fail "memprof snapshot of a single-threaded process: status $rc, $(cat "$WORK/snap.out" "$WORK/snap.err")"
grep -q "^memprof: process $pid is profiled but single-threaded, with no request channel" "$WORK/snap.err" &&
    grep -q "MEMPROF_SIGNAL" "$WORK/snap.err" && grep -q "MEMPROF_INTERVAL" "$WORK/snap.err" ||
    fail "the refusal does not say why and what works: $(cat "$WORK/snap.err")"
[[ -z $(snapshots "$WORK/req") ]] || fail "a snapshot was written: $(snapshots "$WORK/req")"
[[ $(ls "/proc/$pid/task" | wc -l) -eq 1 ]] || fail "idle_sleep is not single-threaded after the request"
kill $pid
trap - EXIT

# The same request to one that wrote its title over its environment
# (nginx's and postgres's setproctitle), which hides LD_PRELOAD: still
# "single-threaded", never "it was detached".
mkdir -p "$WORK/titled"
IDLE_SLEEP_TITLE=1 LD_PRELOAD=$MEMPROF_SHIM MEMPROF_OUT=$WORK/titled \
    "$TEST_PROGS/idle_sleep" 30 >"$WORK/titled.out" 2>"$WORK/titled.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do
    grep -q ready "$WORK/titled.out" 2>/dev/null && break
    sleep 0.05
done
grep -q ready "$WORK/titled.out" || fail "idle_sleep (titled) never got ready"
! tr '\0' '\n' <"/proc/$pid/environ" | grep -q LD_PRELOAD || fail "idle_sleep did not write over its environment"
rc=0
timeout 60 "$MEMPROF_BIN" snapshot "$pid" >/dev/null 2>"$WORK/titled.snap.err" || rc=$?
[[ $rc -eq 1 ]] || fail "memprof snapshot of a titled single-threaded process exited $rc"
grep -q "^memprof: process $pid is profiled but single-threaded, with no request channel" "$WORK/titled.snap.err" ||
    fail "a titled process: $(cat "$WORK/titled.snap.err")"
kill $pid
trap - EXIT
echo "ok: a title over the environment still reads as single-threaded"
