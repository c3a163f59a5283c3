#!/usr/bin/env bash
# `memprof snapshot PID` (SPEC "Triggers"): a running program answers with
# the path of a snapshot written on request, even after it closed every
# descriptor it did not open (tests/programs/life_request.c: the shim
# notices its socket is gone and makes a new one), and nothing of the
# shim's ends up in the program's own files. A process that does not exist
# or is not profiled gets exit 1 and one line.
source "$(dirname "$0")/common.sh"

stop=$WORK/stop
log=$WORK/app.log
# No `timeout` in front: its pid would be the one asked. The program stops
# by itself after 30 s.
LD_PRELOAD=$MEMPROF_SHIM MEMPROF_OUT=$WORK/snaps MEMPROF_INTERVAL=0 MEMPROF_SAMPLE=4096 \
    "$TEST_PROGS/life_request" "$stop" "$log" >"$WORK/out" 2>"$WORK/err" &
pid=$!
trap '# diff takes files in the order given, but says so when that is newest first.
"$MEMPROF_BIN" diff "$got" "$second" >/dev/null 2>"$WORK/diff.err" || fail "diff failed"
[[ ! -s $WORK/diff.err ]] || fail "diff in time order warned: $(cat "$WORK/diff.err")"
"$MEMPROF_BIN" diff "$second" "$got" >/dev/null 2>"$WORK/diff.err" || fail "reversed diff failed"
grep -q "was taken before" "$WORK/diff.err" || fail "diff newest-first did not warn"

touch "$stop"; kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    grep -q ready "$WORK/out" 2>/dev/null && break
    sleep 0.1
done
grep -q ready "$WORK/out" || fail "life_request never got ready"
# Enough of request_leak to be sampled (1000 B a line, sampled every
# 4 KiB): a request answered at once found only stdio's buffer sampled.
for _ in $(seq 100); do
    (($(wc -l <"$log" 2>/dev/null || echo 0) >= 100)) && break
    sleep 0.1
done

# The socket the program closed comes back within about a second.
got=
for _ in $(seq 30); do
    if got=$("$MEMPROF_BIN" snapshot "$pid" 2>"$WORK/snap.err"); then
        break
    fi
    got=
    sleep 0.2
done
[[ -n $got ]] || fail "memprof snapshot $pid never succeeded: $(cat "$WORK/snap.err")"
[[ -f $got ]] || fail "memprof snapshot printed '$got', which is not a file"
[[ $(basename "$got") =~ ^life_request\.$pid\.[0-9]{4}\.mprof$ ]] || fail "bad snapshot name $got"
"$MEMPROF_BIN" report --json "$got" >"$WORK/report.json" || fail "memprof report $got failed"
python3 - "$WORK/report.json" <<'PY' || fail "request_leak is not the top site of the requested snapshot"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["trigger"] == "request", d["trigger"]
top = d["sites"][0]["frames"][0]["function"]
sys.exit(0 if top == "request_leak" else 1)
PY
# A second request gives the next sequence number.
second=$("$MEMPROF_BIN" snapshot "$pid") || fail "a second request failed"
[[ $second != "$got" && -f $second ]] || fail "the second request gave '$second'"

touch "$stop"
wait $pid || fail "life_request exited with status $?"
trap - EXIT
[[ ! -s $WORK/err ]] || fail "the program printed: $(head -3 "$WORK/err")"
# Every line of the log is the program's, in order.
python3 - "$log" <<'PY' || fail "the program's log holds bytes it did not write"
import sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert lines[-1] == b""
for i, l in enumerate(lines[:-1]):
    assert l == b"line %d" % i, (i, l[:40])
PY

# Not there, not profiled: exit 1, one line, the process untouched.
rc=0; "$MEMPROF_BIN" snapshot 999999999 2>"$WORK/e1" || rc=$?
[[ $rc -eq 1 && $(wc -l <"$WORK/e1") -eq 1 ]] || fail "snapshot of a missing pid: status $rc, $(cat "$WORK/e1")"
sleep 30 &
other=$!
rc=0; "$MEMPROF_BIN" snapshot "$other" 2>"$WORK/e2" || rc=$?
kill -0 $other || fail "the unprofiled process did not survive the request"
kill $other
[[ $rc -eq 1 && $(wc -l <"$WORK/e2") -eq 1 ]] || fail "snapshot of an unprofiled pid: status $rc, $(cat "$WORK/e2")"
echo "ok: snapshot on request, after the program closed the shim's socket"
