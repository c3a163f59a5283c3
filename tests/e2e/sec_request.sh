#!/usr/bin/env bash
# SPEC "Safety": `memprof snapshot PID` is honoured only for the process's
# own user or root; requests are rate-limited and can never stall the
# program. Between two unprivileged users (daemon asking nobody's process),
# a flood of the owner's requests, silent connections held against an
# exact-mode program, and a squatter holding @memprof.<pid> before the
# process starts.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/sec_lib.sh"
sec_setup
# The system python: nobody cannot reach a python under /root.
PY=/usr/bin/python3
[[ -x $PY ]] || fail "python3 (Debian package) is missing"

# A raw client: `client.py PID MODE N`, MODE flood (N requests back to
# back, prints each reply word) or silent (holds N connections that never
# send a byte, reconnecting as the shim drops them, until killed).
cat >"$PUB/client.py" <<'PY'
import socket, sys, time
pid, mode, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
addr = "\0memprof.%d" % pid
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(addr)
    return s
if mode == "flood":
    for _ in range(n):
        s = conn(); s.sendall(b"snapshot\n")
        s.settimeout(30); print(s.makefile().readline().split(" ")[0], flush=True); s.close()
        time.sleep(0.02)
else:
    held = [conn() for _ in range(n)]
    print("held", flush=True)
    while True:
        for i, s in enumerate(held):
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    held[i] = conn()
            except (BlockingIOError, ConnectionError):
                pass
        time.sleep(0.05)
PY
chmod 0644 "$PUB/client.py"
mkdir -m 0700 "$PUB/nobody-out"
chown nobody:nogroup "$PUB/nobody-out"

# 1. daemon asks nobody's process: refused, exit 1, one line, no file;
# nobody itself is served.
as_user_argv nobody
"${AS_USER[@]}" env LD_PRELOAD="$SHIM" MEMPROF_OUT="$PUB/nobody-out" MEMPROF_INTERVAL=0 \
    MEMPROF_SAMPLE=1 perl -e 'while (1) { my @a = map { "x" x 200 } 1 .. 2000 }' &
victim=$!
sec_cleanup_add "kill $victim"
wait_socket $victim
rc=0
as_user daemon "$BIN" snapshot $victim >"$WORK/daemon.out" 2>"$WORK/daemon.err" || rc=$?
[[ $rc -eq 1 && ! -s $WORK/daemon.out && $(wc -l <"$WORK/daemon.err") -eq 1 ]] &&
    grep -q '^memprof: process [0-9]* refused the request: not allowed' "$WORK/daemon.err" ||
    fail "daemon asking nobody's process: status $rc, $(cat "$WORK/daemon.out" "$WORK/daemon.err")"
! grep -q "$PUB" "$WORK/daemon.err" || fail "the refusal reveals the output path"
[[ -z $(snapshots "$PUB/nobody-out") ]] || fail "a refused request wrote a snapshot"
echo "daemon -> nobody's process: $(cat "$WORK/daemon.err")"
got=$(as_user nobody "$BIN" snapshot $victim) || fail "nobody asking its own process failed"
[[ $got == "$PUB/nobody-out/perl.$victim.0001.mprof" && -f $got ]] || fail "owner got '$got'"

# 2. Silent connections held by the owner (the only ones that get a
# slot) cost the program nothing: the collector never waits for them, so
# an exact-mode program drops no event and the owner's request is served
# at once (it used to wait a second per silent client).
as_user_argv nobody
"${AS_USER[@]}" $PY "$PUB/client.py" $victim silent 12 >"$WORK/silent.out" &
silent=$!
sec_cleanup_add "kill $silent"
for _ in $(seq 50); do [[ -s $WORK/silent.out ]] && break; sleep 0.1; done
[[ -s $WORK/silent.out ]] || fail "the silent client could not connect"
sleep 2
t0=$(date +%s%N)
got=$(as_user nobody "$BIN" snapshot $victim) || fail "the owner's request failed with silent clients held"
ms=$((($(date +%s%N) - t0) / 1000000))
kill $silent
"$BIN" report --json "$got" >"$WORK/silent.json"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["counters"]
sys.exit(0 if c["events_dropped"] == 0 and c["samples"] > 1000 else "counters: %s" % c)' "$WORK/silent.json" ||
    fail "silent clients cost the exact-mode program events"
[[ $ms -lt 1500 ]] || fail "the owner's request took $ms ms with silent clients held"
echo "12 silent connections held: request served in $ms ms, no event dropped"

# 3. A flood of the owner's requests: one snapshot per 250 ms at most,
# the others answered busy.
before=$(snapshots "$PUB/nobody-out" | wc -l)
t0=$(date +%s%N)
as_user nobody $PY "$PUB/client.py" $victim flood 60 >"$WORK/flood.out"
secs_x4=$((($(date +%s%N) - t0) / 250000000 + 2))
ok=$(grep -c '^ok$' "$WORK/flood.out" || :)
busy=$(grep -c '^busy$' "$WORK/flood.out" || :)
written=$(($(snapshots "$PUB/nobody-out" | wc -l) - before))
[[ $((ok + busy)) -eq 60 ]] || fail "flood: unexpected replies: $(sort "$WORK/flood.out" | uniq -c)"
[[ $ok -ge 2 && $ok -le $secs_x4 && $written -eq $ok ]] ||
    fail "flood: $ok served, $written written, at most $secs_x4 allowed"
echo "flood of 60: $ok served, $busy busy"
kill $victim

# 4. A squatter (nobody) holds @memprof.<pid> before root's process
# starts: the owner is told at start, in one line naming the holder, and
# `memprof snapshot` says whose socket it is.
mkdir -m 0700 "$PUB/root-out"
cat >"$PUB/squat.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\0memprof.%s" % sys.argv[1]); s.listen(1)
print("bound", flush=True)
time.sleep(30)
PY
bash -c 'setpriv --reuid=nobody --regid=nogroup --clear-groups '"$PY"' '"$PUB"'/squat.py $$ >'"$WORK"'/squat.out &
    echo $! >'"$WORK"'/squat.pid
    for i in $(seq 50); do [[ -s '"$WORK"'/squat.out ]] && break; sleep 0.1; done
    exec env LD_PRELOAD='"$SHIM"' MEMPROF_OUT='"$PUB"'/root-out MEMPROF_INTERVAL=0 perl -e "sleep 3"' \
    2>"$WORK/squatted.err" &
owner=$!
sec_cleanup_add "kill $owner \$(cat '$WORK/squat.pid')"
sleep 1.5
grep -q "^memprof: the request socket @memprof.$owner is taken by process $(cat "$WORK/squat.pid") (uid $(id -u nobody))" \
    "$WORK/squatted.err" || fail "the owner was not told of the squatter: $(cat "$WORK/squatted.err")"
[[ $(grep -c '^memprof:' "$WORK/squatted.err") -eq 1 ]] || fail "more than one line: $(cat "$WORK/squatted.err")"
rc=0
"$BIN" snapshot $owner 2>"$WORK/spoof.err" || rc=$?
[[ $rc -eq 1 ]] && grep -q "belongs to process $(cat "$WORK/squat.pid") (uid $(id -u nobody))" "$WORK/spoof.err" ||
    fail "memprof snapshot on a squatted name: status $rc: $(cat "$WORK/spoof.err")"
echo "squatter: $(cat "$WORK/squatted.err")"
# 5. Mixed credentials: root's process that made nobody its real uid (as
# a setuid program run by nobody has) or its effective uid holds root's
# privileges still; nobody's requests are refused, root's served.
mkdir -m 0700 "$PUB/mixed-out"
for how in real effective; do
    var='$<'
    [[ $how == effective ]] && var='$>'
    env LD_PRELOAD="$SHIM" MEMPROF_OUT="$PUB/mixed-out" MEMPROF_INTERVAL=0 MEMPROF_SIGNAL=USR2 \
        perl -e "$var = $(id -u nobody); "'while (1) { my @a = map { "x" x 200 } 1 .. 200; select(undef, undef, undef, 0.01) }' &
    mixed=$!
    sec_cleanup_add "kill $mixed"
    wait_socket $mixed
    for _ in $(seq 50); do grep -q "^Uid:.*\b$(id -u nobody)\b" /proc/$mixed/status && break; sleep 0.1; done
    rc=0
    as_user nobody "$BIN" snapshot $mixed >"$WORK/mixed.out" 2>"$WORK/mixed.err" || rc=$?
    [[ $rc -eq 1 && ! -s $WORK/mixed.out ]] && grep -q 'refused the request: not allowed' "$WORK/mixed.err" ||
        fail "nobody asking root's process with $how uid nobody: status $rc, $(cat "$WORK/mixed.out" "$WORK/mixed.err")"
    [[ -z $(snapshots "$PUB/mixed-out") ]] || fail "$how uid nobody: a refused request wrote a snapshot"
    echo "$how uid nobody ($(grep '^Uid:' /proc/$mixed/status | tr -s '\t' ' ')): $(cat "$WORK/mixed.err")"
    for op in disable enable detach; do
        rc=0
        as_user nobody "$BIN" $op $mixed >/dev/null 2>&1 || rc=$?
        [[ $rc -eq 1 ]] || fail "nobody's $op of root's process with $how uid nobody: status $rc"
    done
    got=$("$BIN" snapshot $mixed) || fail "root asking its own process with $how uid nobody failed"
    [[ -f $got ]] || fail "$how uid nobody: root's snapshot at '$got'"
    kill $mixed
    wait $mixed 2>/dev/null || true
    rm -rf "${PUB:?}/mixed-out"/*
done

# 6. nobody's uids throughout, but a capability kept (ambient, as a
# server keeps CAP_NET_BIND_SERVICE when it drops root): privileges nobody
# does not have, so nobody's requests are refused, root's served.
mkdir -m 0700 "$PUB/cap-out"
chown nobody:nogroup "$PUB/cap-out"
as_user_argv nobody
"${AS_USER[@]}" --inh-caps=+net_bind_service --ambient-caps=+net_bind_service \
    env LD_PRELOAD="$SHIM" MEMPROF_OUT="$PUB/cap-out" MEMPROF_INTERVAL=0 MEMPROF_SIGNAL=USR2 \
    perl -e 'while (1) { my @a = map { "x" x 200 } 1 .. 200; select(undef, undef, undef, 0.01) }' &
capped=$!
sec_cleanup_add "kill $capped"
wait_socket $capped
grep -q '^CapEff:.*[1-9a-f]' /proc/$capped/status || fail "the capped process has no capability: $(grep ^Cap /proc/$capped/status)"
rc=0
as_user nobody "$BIN" snapshot $capped >"$WORK/cap.out" 2>"$WORK/cap.err" || rc=$?
[[ $rc -eq 1 && ! -s $WORK/cap.out ]] && grep -q 'refused the request: not allowed' "$WORK/cap.err" ||
    fail "nobody asking its process that kept a capability: status $rc, $(cat "$WORK/cap.out" "$WORK/cap.err")"
got=$("$BIN" snapshot $capped) || fail "root asking the capped process failed"
[[ -f $got ]] || fail "capped: root's snapshot at '$got'"
echo "capability kept: $(cat "$WORK/cap.err")"
kill $capped

# 7. A plain root process (all uids 0, root's capabilities as root):
# nobody is refused for being neither its user nor root, not for
# "changed credentials" it does not have.
mkdir -m 0700 "$PUB/rootp-out"
env LD_PRELOAD="$SHIM" MEMPROF_OUT="$PUB/rootp-out" MEMPROF_INTERVAL=0 MEMPROF_SIGNAL=USR2 \
    perl -e 'while (1) { my @a = map { "x" x 200 } 1 .. 200; select(undef, undef, undef, 0.01) }' &
rootp=$!
sec_cleanup_add "kill $rootp"
wait_socket $rootp
rc=0
as_user nobody "$BIN" snapshot $rootp >"$WORK/rootp.out" 2>"$WORK/rootp.err" || rc=$?
[[ $rc -eq 1 ]] && grep -q "not allowed: uid $(id -u nobody) is neither the process's user (0) nor root" "$WORK/rootp.err" ||
    fail "nobody asking a plain root process: status $rc, $(cat "$WORK/rootp.out" "$WORK/rootp.err")"
echo "plain root process: $(cat "$WORK/rootp.err")"
kill $rootp

echo "ok: requests refused to others, rate-limited, never stalling, squatters named"
