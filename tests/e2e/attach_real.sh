#!/usr/bin/env bash
# memprof attach on real programs started without the shim:
#  - python3 running a script that grows a list of 100 kB bytearrays on
#    command: attached, snapshot, 20 MB allocated, snapshot (the growth
#    must be within 25% of 20 MB), detach, attach again, snapshot, detach;
#    its output and status are those of a plain run;
#  - redis-server under redis-benchmark: attached in the middle of the
#    load, snapshot, detach, attached again, snapshot, detach; the
#    benchmark succeeds, the server's replies match a plain server's and
#    it shuts down with status 0.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/attach_lib.sh"

# ---- python3 ----
write_grow_py "$WORK/grow.py"
rc=$(plain_run py $'alloc\nalloc\nquit' python3 "$WORK/grow.py")
[[ $rc -eq 0 ]] || fail "plain python3 exited $rc"
py_attach_grow py python3 "$WORK/grow.py"
detach_ok "$TGT_PID"
attach_ok "$TGT_PID" -o "$WORK/py.snaps" --interval 0
tgt_send alloc
tgt_wait_line py '^ALLOC 400$'
snap "$TGT_PID" >/dev/null
detach_ok "$TGT_PID"
tgt_send quit
tgt_finish
[[ $TGT_RC -eq 0 ]] || fail "python3 exited $TGT_RC"
cmp -s "$WORK/py.plain.out" "$WORK/py.out" || fail "python3: output differs: $(cat "$WORK/py.out")"
[[ ! -s $WORK/py.err ]] || fail "python3 stderr: $(cat "$WORK/py.err")"

# ---- sed -u idle in read() below stdio ----
# Its only thread sleeps in read() under _IO_file_underflow and never
# allocates again until the next line: the idle thread is the one safe
# point, and it is found only if gdb unwinds that stack from its unwind
# tables (with --readnever its guess ended in an ld.so frame and attach
# gave up after the wait).
command -v sed >/dev/null || fail "no sed"
tgt_start sed sed -u 's/a/b/'
for l in abc aaa cab; do tgt_send "$l"; done
tgt_wait_line sed '^cbb$'
MEMPROF_ATTACH_WAIT=3 attach_ok "$TGT_PID" -o "$WORK/sed.snaps" --interval 0
tgt_send "again"
tgt_wait_line sed '^bgain$'
detach_ok "$TGT_PID"
tgt_finish
[[ $TGT_RC -eq 0 ]] || fail "sed exited $TGT_RC"
[[ $(cat "$WORK/sed.out") == $'bbc\nbaa\ncbb\nbgain' ]] || fail "sed output: $(cat "$WORK/sed.out")"

# ---- redis-server under redis-benchmark ----
for c in redis-server redis-benchmark redis-cli; do
    command -v $c >/dev/null || fail "no $c (run scripts/setup)"
done
# A loopback port nothing listens on (the kernel picks it).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
start_redis() {
    local name=$1 port=$2 dir=$WORK/$1.dir
    mkdir -p "$dir"
    (cd "$dir" && exec redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
        --daemonize no --dir "$dir" --loglevel warning) >"$WORK/$name.out" 2>"$WORK/$name.err" &
    TGT_PID=$!
    for i in $(seq 1 100); do
        timeout 5 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.1
    done
    fail "redis-server did not come up"
}
client() {
    timeout -k 5 30 redis-cli -h 127.0.0.1 -p "$1" <<'CMDS'
SET a 1
INCRBY a 41
GET a
RPUSH l x y z w
LRANGE l 0 -1
DEL a l
EXISTS a l
CMDS
}
stop_redis() {
    timeout -k 5 30 redis-cli -h 127.0.0.1 -p "$1" shutdown nosave >/dev/null 2>&1 || true
    TGT_RC=0
    wait "$TGT_PID" || TGT_RC=$?
    TGT_PID=
}
port=$(free_port)
start_redis redis.plain "$port"
client "$port" >"$WORK/redis.plain.replies"
stop_redis "$port"

port=$(free_port)
start_redis redis "$port"
timeout -k 5 100 redis-benchmark -h 127.0.0.1 -p "$port" -q -n 400000 -t set,get -P 16 \
    >"$WORK/bench.out" 2>&1 &
bench=$!
sleep 0.5
attach_ok "$TGT_PID" -o "$WORK/redis.snaps" --interval 1
snap "$TGT_PID" >/dev/null
detach_ok "$TGT_PID"
attach_ok "$TGT_PID" -o "$WORK/redis.snaps" --interval 0
sleep 0.5
last=$(snap "$TGT_PID")
detach_ok "$TGT_PID"
rc=0
wait "$bench" || rc=$?
[[ $rc -eq 0 ]] || { cat "$WORK/bench.out" >&2; fail "redis-benchmark exited $rc"; }
tr '\r' '\n' <"$WORK/bench.out" | grep -cE '(SET|GET): [0-9.]+ requests per second' | grep -qx 2 ||
    { cat "$WORK/bench.out" >&2; fail "redis-benchmark did not report SET and GET"; }
client "$port" >"$WORK/redis.replies"
stop_redis "$port"
[[ $TGT_RC -eq 0 ]] || fail "redis-server exited $TGT_RC after shutdown"
cmp -s "$WORK/redis.plain.replies" "$WORK/redis.replies" || fail "redis replies differ after attach/detach"
grep -q '^memprof:' "$WORK/redis.err" && fail "the shim printed in redis-server: $(cat "$WORK/redis.err")"
"$MEMPROF_BIN" report "$last" --json | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["attached"] and r["total"]["count"] >= 0' ||
    fail "redis-server's attached snapshot is unreadable"
echo "ok: python3 and redis-server attached, detached, attached again"

# ---- an executable deleted since it started (a service after an upgrade) ----
# gdb cannot open it by name; through /proc/PID/exe it still can.
cp "$TEST_PROGS/attach_target" "$WORK/upgraded_target"
tgt_start upg "$WORK/upgraded_target" cmd
tgt_wait_line upg '^READY$'
rm "$WORK/upgraded_target"
[[ $(readlink "/proc/$TGT_PID/exe") == *" (deleted)" ]] || fail "the target's executable is not deleted"
attach_ok "$TGT_PID" -o "$WORK/upg.snaps" --interval 0 --sample "$SAMPLED_RATE"
tgt_send leak
tgt_wait_line upg '^LEAK '
f=$(snap "$TGT_PID")
"$MEMPROF_BIN" report "$f" --json | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["attached"] and r["total"]["bytes"] > 100 << 20, r["total"]' ||
    fail "the deleted executable's leak after the attach is not in its snapshot"
detach_ok "$TGT_PID"
tgt_send quit
tgt_finish
[[ $TGT_RC -eq 0 ]] || fail "the deleted executable exited $TGT_RC"
echo "ok: attached to a process whose executable was deleted"
