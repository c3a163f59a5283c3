#!/usr/bin/env bash
# SPEC "Safety": a server that drops privileges after start still gets
# snapshots from its workers, unreadable to other users. Real servers
# started as root under the shim: nginx (workers become www-data) and
# memcached -u memcache. Each serves a few requests; `memprof snapshot
# WORKER` (asked by root and by the worker's own user) returns a file
# owned by the worker's uid, mode 0600, in the uid's own 0700 directory,
# that `memprof report` reads. The output directory stays unlistable to
# other users. A memcached started dormant (MEMPROF_START=off) drops
# its privileges before it is enabled: its snapshots too.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/sec_lib.sh"
sec_setup
for t in nginx memcached curl; do
    command -v $t >/dev/null || PATH=$PATH:/usr/sbin command -v $t >/dev/null ||
        fail "$t is missing (scripts/setup test: nginx-light, memcached, curl)"
done
export PATH=$PATH:/usr/sbin
PY=/usr/bin/python3

# free_port: a TCP port nothing listens on.
free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# check_worker NAME PID USER: the worker's snapshot, asked by root and by
# USER, is USER's, 0600, in OUT/uid-<uid> (0700, USER's), and reads back.
check_worker() {
    local name=$1 pid=$2 user=$3 got uid
    uid=$(id -u "$user")
    [[ $(stat -c %u /proc/$pid) == "$uid" ]] || fail "$name: process $pid is not $user's"
    got=$("$BIN" snapshot "$pid" 2>"$WORK/$name.err") ||
        fail "$name: root's snapshot of the $user worker failed: $(cat "$WORK/$name.err")"
    [[ $got == "$OUT/uid-$uid/"* && -f $got ]] || fail "$name: snapshot at '$got'"
    [[ $(stat -c '%U %a' "$got") == "$user 600" ]] || fail "$name: $got is $(stat -c '%U %a' "$got")"
    [[ $(stat -c '%U %a' "$OUT/uid-$uid") == "$user 700" ]] ||
        fail "$name: $OUT/uid-$uid is $(stat -c '%U %a' "$OUT/uid-$uid")"
    "$BIN" report "$got" >"$WORK/$name.report" || fail "$name: memprof report cannot read $got"
    sleep 0.3   # the shim's request rate limit
    got=$(as_user "$user" "$BIN" snapshot "$pid") || fail "$name: $user's own request failed"
    [[ $(stat -c '%U %a' "$got") == "$user 600" ]] || fail "$name: $got is $(stat -c '%U %a' "$got")"
    ! as_user daemon ls "$OUT" >/dev/null 2>&1 || fail "$name: other users can list $OUT"
    echo "  $name worker $pid ($user): $got"
}

# ---- nginx: a root master, two www-data workers ----
OUT=$PUB/nginx-out
port=$(free_port)
mkdir -p "$PUB/nginx"
cat >"$PUB/nginx/nginx.conf" <<CONF
user www-data;
worker_processes 2;
daemon off;
pid $PUB/nginx/nginx.pid;
error_log $PUB/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $PUB/nginx/body;
    proxy_temp_path $PUB/nginx/proxy;
    fastcgi_temp_path $PUB/nginx/fastcgi;
    uwsgi_temp_path $PUB/nginx/uwsgi;
    scgi_temp_path $PUB/nginx/scgi;
    server { listen 127.0.0.1:$port; location / { return 200 "hello\n"; } }
}
CONF
env LD_PRELOAD="$SHIM" MEMPROF_OUT="$OUT" MEMPROF_INTERVAL=0 nginx -c "$PUB/nginx/nginx.conf" \
    2>"$WORK/nginx.stderr" &
master=$!
sec_cleanup_add "kill $master; sleep 0.5"
for _ in $(seq 50); do
    [[ $(pgrep -P $master | wc -l) -eq 2 ]] && curl -sf "http://127.0.0.1:$port/" >/dev/null && break
    sleep 0.1
done
for _ in $(seq 20); do
    [[ $(curl -sf "http://127.0.0.1:$port/") == hello ]] || fail "nginx under the shim does not serve"
done
[[ ! -s $WORK/nginx.stderr ]] || fail "nginx: the shim said: $(cat "$WORK/nginx.stderr")"
[[ $(stat -c '%U %a' "$OUT") == "root 711" ]] || fail "nginx: $OUT is $(stat -c '%U %a' "$OUT")"
workers=$(pgrep -P $master)
[[ $(wc -w <<<"$workers") -eq 2 ]] || fail "nginx: workers '$workers', expected 2"
for w in $workers; do
    check_worker nginx "$w" www-data
done
got=$("$BIN" snapshot $master) || fail "nginx: the master's snapshot failed"
[[ $(stat -c '%U %a' "$got") == "root 600" && $got == "$OUT/nginx.$master."* ]] ||
    fail "nginx: the master's snapshot is $got, $(stat -c '%U %a' "$got")"
kill $master
wait $master || :
echo "  nginx master $master: $got"

# ---- memcached -u memcache ----
OUT=$PUB/memcached-out
port=$(free_port)
env LD_PRELOAD="$SHIM" MEMPROF_OUT="$OUT" MEMPROF_INTERVAL=0 memcached -u memcache -l 127.0.0.1 \
    -p "$port" -U 0 2>"$WORK/memcached.stderr" &
mc=$!
sec_cleanup_add "kill $mc"
cat >"$PUB/mc.py" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
for i in range(200):
    s.sendall(b"set k%d 0 0 1000\r\n%s\r\n" % (i, b"v" * 1000))
    assert s.recv(100).startswith(b"STORED"), "set failed"
s.sendall(b"get k7\r\n")
data = b""
while not data.endswith(b"END\r\n"):
    data += s.recv(4096)
print("ok" if b"v" * 1000 in data else "bad")
PY
for _ in $(seq 50); do $PY "$PUB/mc.py" "$port" >"$WORK/mc.out" 2>/dev/null && break; sleep 0.1; done
[[ $(cat "$WORK/mc.out") == ok ]] || fail "memcached under the shim does not serve"
[[ ! -s $WORK/memcached.stderr ]] || fail "memcached: the shim said: $(cat "$WORK/memcached.stderr")"
check_worker memcached $mc memcache
# ---- the same, started dormant (MEMPROF_START=off) and enabled later ----
# The drop happens while dormant; the worker's directory must be made then.
OUT=$PUB/memcached-dormant-out
port=$(free_port)
env LD_PRELOAD="$SHIM" MEMPROF_OUT="$OUT" MEMPROF_INTERVAL=0 MEMPROF_START=off memcached -u memcache \
    -l 127.0.0.1 -p "$port" -U 0 2>"$WORK/memcached-dormant.stderr" &
mcd=$!
sec_cleanup_add "kill $mcd"
for _ in $(seq 50); do $PY "$PUB/mc.py" "$port" >"$WORK/mcd.out" 2>/dev/null && break; sleep 0.1; done
[[ $(cat "$WORK/mcd.out") == ok ]] || fail "dormant memcached under the shim does not serve"
[[ $("$BIN" enable $mcd) == *recording* ]] || fail "memcached-dormant: memprof enable failed"
$PY "$PUB/mc.py" "$port" >"$WORK/mcd.out" || fail "memcached-dormant: no longer serves after enable"
[[ ! -s $WORK/memcached-dormant.stderr ]] ||
    fail "memcached-dormant: the shim said: $(cat "$WORK/memcached-dormant.stderr")"
check_worker memcached-dormant $mcd memcache
echo "ok: nginx and memcached workers (also one started dormant) write their own 0600 snapshots"

# ---- the working directory, the default output, keeps its mode ----
# It may be /root or a 0700 secrets directory: a drop must not open it to
# others. The shim says in one line that the dropped process's snapshots
# are not written. (A MEMPROF_OUT given does get --x, said in one line
# unless memprof made it: sec_request's mixed credentials.)
priv=$PUB/private
mkdir -m 700 "$priv"
(cd "$priv" && env LD_PRELOAD="$SHIM" MEMPROF_INTERVAL=0 $PY -c \
    'import os; os.setgid(65534); os.setuid(65534)') 2>"$WORK/private.stderr" ||
    fail "the dropping program failed: $(cat "$WORK/private.stderr")"
[[ $(stat -c %a "$priv") == 700 ]] || fail "a drop changed $priv to $(stat -c %a "$priv")"
[[ ! -e $priv/uid-65534 ]] || fail "a drop made $priv/uid-65534"
grep -q "^memprof: uid 65534 cannot reach $priv/\?\.\?, the working directory" "$WORK/private.stderr" ||
    fail "no line says why the dropped process writes nothing: $(cat "$WORK/private.stderr")"
echo "ok: a directory memprof did not make keeps its mode 0700 through a drop"
