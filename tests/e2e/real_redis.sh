#!/usr/bin/env bash
# redis-server on a random loopback port, profiled (with the periodic timer
# on), under a bounded redis-benchmark run (20000 SET and GET, pipelined),
# then `redis-cli shutdown nosave`. The server must exit 0 on its own, the
# benchmark must succeed, the server's snapshots (periodic ones and the exit
# one) must be readable, and a plain run of the same client commands against
# an unprofiled and a profiled server must print the same replies.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

for c in redis-server redis-benchmark redis-cli; do
    command -v $c >/dev/null || fail "no $c (run scripts/setup)"
done

# start_server MODE PORT: starts redis-server (MODE plain|shim) in the
# background on 127.0.0.1:PORT, waits until it answers PING.
start_server() {
    local mode=$1 port=$2 dir=$WORK/redis.$1
    mkdir -p "$dir"
    local -a pre=()
    if [[ $mode == shim ]]; then
        rm -rf "$WORK/redis.snaps" "$WORK/redis.witness"
        pre=(env LD_PRELOAD="$MEMPROF_SHIM:$REAL_WITNESS" LIFE_WITNESS="$WORK/redis.witness"
             MEMPROF_OUT="$WORK/redis.snaps" MEMPROF_SAMPLE=4096 MEMPROF_INTERVAL=1)
    fi
    (cd "$dir" && exec timeout -k 5 100 "${pre[@]}" redis-server --bind 127.0.0.1 --port "$port" \
        --save '' --appendonly no --protected-mode yes --daemonize no --dir "$dir" \
        --loglevel warning) >"$dir.out" 2>"$dir.err" &
    server_pid=$!
    local i
    for i in $(seq 1 100); do
        if timeout 5 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
            return 0
        fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    sed 's/^/  redis: /' "$dir.out" "$dir.err" >&2
    fail "redis-server ($mode) did not come up on port $port"
}

# client PORT: deterministic commands whose replies are compared.
client() {
    local port=$1
    timeout -k 5 30 redis-cli -h 127.0.0.1 -p "$port" <<'CMDS'
SET a 1
INCRBY a 41
GET a
RPUSH l x y z w
LRANGE l 0 -1
HSET h f1 v1 f2 v2
HGETALL h
DEL a l h
DBSIZE
CMDS
}

stop_server() {
    local mode=$1 port=$2 rc=0
    timeout -k 5 30 redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait "$server_pid" || rc=$?
    server_pid=
    [[ $rc -eq 0 ]] || {
        sed 's/^/  redis: /' "$WORK/redis.$mode.out" "$WORK/redis.$mode.err" >&2
        fail "redis-server ($mode) exited with status $rc after shutdown nosave (124: it hung)"
    }
}

random_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        # Free if nothing answers a connect.
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

server_pid=
# A failing check must not leave a server behind.
trap '[[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; true' EXIT

port=$(random_port)
start_server plain "$port"
client "$port" >"$WORK/redis.plain.replies"
stop_server plain "$port"

port=$(random_port)
start_server shim "$port"
client "$port" >"$WORK/redis.shim.replies"
rc=0
timeout -k 5 90 redis-benchmark -h 127.0.0.1 -p "$port" -q -n 20000 -t set,get -P 16 \
    >"$WORK/redis.bench.out" 2>&1 || rc=$?
[[ $rc -eq 0 ]] || { cat "$WORK/redis.bench.out" >&2; fail "redis-benchmark exited $rc against the profiled server"; }
tr '\r' '\n' <"$WORK/redis.bench.out" | grep -E '(SET|GET): [0-9.]+ requests per second' >"$WORK/redis.bench.results" || true
[[ $(wc -l <"$WORK/redis.bench.results") -eq 2 ]] ||
    { cat "$WORK/redis.bench.out" >&2; fail "redis-benchmark did not report both SET and GET"; }
cat "$WORK/redis.bench.results"
# Let the periodic timer fire at least once while the server is loaded.
sleep 1.2
stop_server shim "$port"

cmp -s "$WORK/redis.plain.replies" "$WORK/redis.shim.replies" ||
    { diff "$WORK/redis.plain.replies" "$WORK/redis.shim.replies" >&2; fail "redis replies differ under the shim"; }
grep -q '^memprof:' "$WORK/redis.shim.err" && { cat "$WORK/redis.shim.err" >&2; fail "the shim printed warnings for redis-server"; }
real_check_snapshots redis
n=$(snapshots "$WORK/redis.snaps" | grep -c "/redis-server\.$(cut -d' ' -f1 "$WORK/redis.witness" | head -1)\.")
[[ $n -ge 2 ]] || fail "redis-server left $n snapshots; expected periodic ones and the exit one"
echo "ok: redis-server profiled under redis-benchmark, $n snapshots"
