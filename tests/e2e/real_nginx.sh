#!/usr/bin/env bash
# nginx as it runs in production: started as root, daemonized (the
# foreground process forks the master and exits), two workers that drop
# privileges to www-data (`user` directive), a reload (SIGHUP: new workers,
# the old ones finish gracefully) and a graceful stop (SIGQUIT). Run
# plainly and under `memprof run`:
#   - the same replies to the same requests, before and after the reload,
#     and no alert in nginx's own log;
#   - SPEC "Safety": the workers' snapshots are www-data's, 0600, in
#     OUT/uid-33 (www-data's, 0700); the master's and the daemonizing
#     parent's are root's in OUT; nothing else is written anywhere in OUT
#     (no temporary file, no other name); every process (parent, master,
#     old and new workers) leaves an exit snapshot;
#   - `memprof snapshot WORKER` is answered for root and www-data and
#     refused for nobody (exit 1, no file); nobody's `detach` of the master
#     and `attach` of a worker are refused;
#   - the workers' report ranks a named nginx function first;
#   - in a sticky shared output directory where nobody planted uid-33 as
#     a symlink, root neither follows nor chowns it and no worker writes
#     through it.
# Then two ways of profiling it later, both of which lost the workers'
# snapshots (nothing prepared uid-33 for them):
#   - started dormant (MEMPROF_START=off), a worker enabled and asked;
#   - a plain nginx attached (`memprof attach MASTER`) and reloaded: the
#     new workers' setuid went straight to libc. Its files must be named
#     nginx.<pid> (argv[0] is nginx's process title by then, and used to
#     give "ter_process__usr_sbin_nginx...").
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/sec_lib.sh"
source "$E2E_DIR/real_lib.sh"
sec_setup
export PATH=$PATH:/usr/sbin
for t in nginx curl; do
    command -v $t >/dev/null || fail "no $t (run scripts/setup test: nginx-light, curl)"
done
NGINX=$(command -v nginx)
id www-data >/dev/null 2>&1 || fail "no user www-data (Debian's base system has it)"
WUID=$(id -u www-data)

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# conf DIR PORT: a daemonizing nginx configuration under DIR.
conf() {
    local d=$1 port=$2
    mkdir -p "$d/www"
    seq 1 20000 >"$d/www/big.txt"
    chmod -R a+rX "$d"
    cat >"$d/nginx.conf" <<CONF
user www-data;
worker_processes 2;
pid $d/nginx.pid;
error_log $d/error.log notice;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    server {
        listen 127.0.0.1:$port;
        root $d/www;
        location = /hello { return 200 "hello\n"; }
        location = /echo { return 200 "\$request_method \$arg_x\n"; }
    }
}
CONF
}

workers_of() { pgrep -P "$1" | sort | tr '\n' ' '; }

# up DIR PORT: waits for the master's pid file and two workers that serve.
up() {
    local d=$1 port=$2 _
    for _ in $(seq 100); do
        if [[ -s $d/nginx.pid ]]; then
            master=$(cat "$d/nginx.pid")
            [[ $(workers_of "$master" | wc -w) -eq 2 ]] &&
                curl -sf "http://127.0.0.1:$port/hello" >/dev/null && return 0
        fi
        sleep 0.1
    done
    cat "$d/error.log" >&2 2>/dev/null || true
    fail "nginx ($d) did not come up"
}

# requests PORT: replies whose bytes are compared between the runs.
requests() {
    local port=$1 i
    for i in 1 2 3; do
        curl -s "http://127.0.0.1:$port/hello"
        curl -s "http://127.0.0.1:$port/echo?x=$i"
        curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$port/missing"
    done
    curl -s "http://127.0.0.1:$port/big.txt" | md5sum
}

# reload MASTER: SIGHUP, then until two workers none of which is old.
reload() {
    local old _ now w fresh
    old=$(workers_of "$1")
    kill -HUP "$1"
    for _ in $(seq 100); do
        now=$(workers_of "$1")
        fresh=1
        for w in $now; do [[ " $old " == *" $w "* ]] && fresh=0; done
        [[ $fresh -eq 1 && $(wc -w <<<"$now") -eq 2 ]] && return 0
        sleep 0.1
    done
    fail "nginx did not replace its workers after SIGHUP (old: $old, now: $now)"
}

# quit MASTER: SIGQUIT and wait (bounded) until it and its workers are gone.
quit() {
    local _ ws w
    ws=$(workers_of "$1")
    kill -QUIT "$1"
    wait_gone "$1" 20 || fail "nginx master $1 still runs 20 s after SIGQUIT"
    for w in $ws; do
        ! kill -0 "$w" 2>/dev/null || fail "nginx worker $w outlived its master"
    done
}

# exit_snapshot DIR PID USER: PID's snapshots in DIR are USER's 0600 files
# and its last one was written at its exit.
exit_snapshot() {
    local dir=$1 pid=$2 user=$3 last
    last=$(pid_snapshots "$dir" "$pid" | tail -1)
    [[ -n $last ]] || fail "process $pid left no snapshot in $dir: $(ls "$dir")"
    [[ $(stat -c '%U %a' "$last") == "$user 600" ]] || fail "$last is $(stat -c '%U %a' "$last")"
    report_json "$last" "$WORK/last.json"
    jq_py "$WORK/last.json" 'd["trigger"]' | grep -qx exit ||
        fail "the last snapshot of $pid ($last) is not its exit snapshot"
}

# ---- plain ----
port=$(free_port)
conf "$PUB/plain" "$port"
"$NGINX" -c "$PUB/plain/nginx.conf" || fail "plain nginx does not start"
up "$PUB/plain" "$port"
sec_cleanup_add "kill $master"
requests "$port" >"$WORK/plain.replies"
reload "$master"
requests "$port" >>"$WORK/plain.replies"
quit "$master"

# ---- under memprof run ----
port=$(free_port)
OUT=$PUB/out
conf "$PUB/shim" "$port"
rc=0
"$BIN" run -o "$OUT" --sample 4096 --interval 0 -- "$NGINX" -c "$PUB/shim/nginx.conf" \
    >"$WORK/run.out" 2>"$WORK/run.err" || rc=$?
[[ $rc -eq 0 ]] || fail "memprof run nginx exited $rc: $(cat "$WORK/run.err")"
up "$PUB/shim" "$port"
sec_cleanup_add "kill $master"
requests "$port" >"$WORK/shim.replies"
first_workers=$(workers_of "$master")
set -- $first_workers
w=$1
got=$("$BIN" snapshot "$w") || fail "root's snapshot of worker $w failed"
[[ $got == "$OUT/uid-$WUID/nginx.$w."* ]] || fail "root's snapshot of worker $w went to $got"
sleep 0.3   # the request rate limit
got=$(as_user www-data "$BIN" snapshot "$w") || fail "www-data's snapshot of its worker $w failed"
[[ $got == "$OUT/uid-$WUID/nginx.$w."* ]] || fail "www-data's snapshot of worker $w went to $got"
before=$(find "$OUT" | sort)
sleep 0.3
for victim in "$w" "$master"; do
    rc=0
    as_user nobody "$BIN" snapshot "$victim" >"$WORK/nobody.out" 2>"$WORK/nobody.err" || rc=$?
    [[ $rc -eq 1 && $(wc -l <"$WORK/nobody.err") -eq 1 ]] ||
        fail "nobody's snapshot of $victim: status $rc, $(cat "$WORK/nobody.out" "$WORK/nobody.err")"
done
rc=0
as_user nobody "$BIN" detach "$master" >"$WORK/nobody.out" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || fail "nobody's detach of the master: status $rc, $(cat "$WORK/nobody.out")"
rc=0
as_user nobody "$BIN" attach "$w" -o /tmp >"$WORK/nobody.out" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || fail "nobody's attach of worker $w: status $rc, $(cat "$WORK/nobody.out")"
[[ $(find "$OUT" | sort) == "$before" ]] || fail "nobody's requests changed $OUT"
kill -0 "$w" && kill -0 "$master" || fail "nobody's requests hurt nginx"
reload "$master"
requests "$port" >>"$WORK/shim.replies"
second_workers=$(workers_of "$master")
quit "$master"

cmp -s "$WORK/plain.replies" "$WORK/shim.replies" ||
    { diff "$WORK/plain.replies" "$WORK/shim.replies" >&2; fail "nginx replies differ under the shim"; }
! grep -E '\[(alert|crit|emerg)\]' "$PUB/shim/error.log" ||
    fail "nginx under the shim logged the above"
grep -q '^memprof:' "$WORK/run.err" && fail "the shim said: $(cat "$WORK/run.err")"

# Nothing but snapshots, where SPEC says, owned as it says.
[[ $(stat -c '%U %a' "$OUT") == "root 711" ]] || fail "$OUT is $(stat -c '%U %a' "$OUT")"
[[ $(stat -c '%U %a' "$OUT/uid-$WUID") == "www-data 700" ]] ||
    fail "$OUT/uid-$WUID is $(stat -c '%U %a' "$OUT/uid-$WUID")"
stray=$(find "$OUT" -mindepth 1 ! -path "$OUT/uid-$WUID" \
    ! \( -type f -regex "$OUT/nginx\.[0-9]+\.[0-9]+\.mprof" -user root \) \
    ! \( -type f -regex "$OUT/uid-$WUID/nginx\.[0-9]+\.[0-9]+\.mprof" -user www-data \))
[[ -z $stray ]] || fail "files in $OUT that should not be there: $stray"
parent=$(ls "$OUT" | grep -v "^nginx\.$master\." | grep '^nginx\.' | cut -d. -f2 | sort -u)
[[ $(wc -w <<<"$parent") -eq 1 ]] || fail "expected the daemonizing parent's files beside the master's: $(ls "$OUT")"
exit_snapshot "$OUT" "$parent" root
exit_snapshot "$OUT" "$master" root
for p in $first_workers $second_workers; do
    exit_snapshot "$OUT/uid-$WUID" "$p" www-data
done
"$BIN" report "$OUT/uid-$WUID"/*.mprof --json --top 0 >"$WORK/workers.json" ||
    fail "memprof report of the workers' snapshots failed"
top=$(jq_py "$WORK/workers.json" 'fn(d["sites"][0]["frames"][0])')
[[ $top =~ ^ngx_[a-z_]+$ ]] || fail "the workers' top site is '$top', not a named nginx function"
echo "nginx: daemonized, reloaded, stopped; $(find "$OUT" -name '*.mprof' | wc -l) snapshots, workers' top site $top"

# ---- a sticky shared output directory with uid-33 planted by nobody ----
# (a symlink to a directory of root's): root's master must neither follow
# it nor chown its target, and the workers write nothing through it.
port=$(free_port)
OUT=$PUB/shared
mkdir -p "$OUT" "$PUB/victim"
chmod 1777 "$OUT"
as_user nobody ln -s "$PUB/victim" "$OUT/uid-$WUID"
conf "$PUB/planted" "$port"
"$BIN" run -o "$OUT" --interval 0 -- "$NGINX" -c "$PUB/planted/nginx.conf" 2>"$WORK/planted.err" ||
    fail "nginx with a planted uid-$WUID does not start"
up "$PUB/planted" "$port"
sec_cleanup_add "kill $master"
requests "$port" >/dev/null
set -- $(workers_of "$master")
rc=0
"$BIN" snapshot "$1" >"$WORK/planted.out" 2>&1 || rc=$?
[[ $rc -eq 1 ]] && grep -q "uid-$WUID in the output directory is a symlink" "$WORK/planted.out" ||
    fail "a worker wrote through the planted uid-$WUID, or did not say why not: $(cat "$WORK/planted.out")"
quit "$master"
[[ $(stat -c '%U %a' "$PUB/victim") == "root 755" && -z $(ls -A "$PUB/victim") ]] ||
    fail "the planted symlink's target changed: $(stat -c '%U %a' "$PUB/victim"), $(ls -A "$PUB/victim")"
[[ -L $OUT/uid-$WUID ]] || fail "the planted symlink was replaced"
[[ -n $(pid_snapshots "$OUT" "$master") ]] || fail "the master wrote no snapshot beside the planted link"
echo "nginx: a planted uid-$WUID symlink is not followed ($(cat "$WORK/planted.out"))"

# ---- dormant, a worker enabled later ----
port=$(free_port)
OUT=$PUB/out-dormant
conf "$PUB/dormant" "$port"
MEMPROF_START=off "$BIN" run -o "$OUT" --interval 0 -- "$NGINX" -c "$PUB/dormant/nginx.conf" ||
    fail "dormant nginx does not start"
up "$PUB/dormant" "$port"
sec_cleanup_add "kill $master"
set -- $(workers_of "$master")
w=$1
"$BIN" enable "$w" >"$WORK/enable.out" || fail "memprof enable $w failed"
requests "$port" >/dev/null
got=$("$BIN" snapshot "$w" 2>"$WORK/enable.err") ||
    fail "a dormant nginx worker, enabled, cannot write its snapshot: $(cat "$WORK/enable.err")"
[[ $got == "$OUT/uid-$WUID/nginx.$w."* && $(stat -c %U "$got") == www-data ]] ||
    fail "the enabled worker's snapshot is $got"
quit "$master"
echo "nginx dormant: worker $w enabled and asked: $got"

# ---- attached, then reloaded ----
port=$(free_port)
OUT=$PUB/out-attach
conf "$PUB/attach" "$port"
"$NGINX" -c "$PUB/attach/nginx.conf" || fail "nginx (to attach to) does not start"
up "$PUB/attach" "$port"
sec_cleanup_add "kill $master"
"$BIN" attach "$master" -o "$OUT" --interval 0 >"$WORK/attach.out" 2>&1 ||
    fail "memprof attach to the nginx master failed: $(cat "$WORK/attach.out")"
reload "$master"
requests "$port" >"$WORK/attach.replies"
cmp -s "$WORK/attach.replies" <(head -n "$(wc -l <"$WORK/attach.replies")" "$WORK/plain.replies") ||
    fail "the attached nginx replies differently"
set -- $(workers_of "$master")
w=$1
got=$("$BIN" snapshot "$w" 2>"$WORK/attach.err") ||
    fail "a worker started after the attach cannot write its snapshot: $(cat "$WORK/attach.err")"
[[ $got == "$OUT/uid-$WUID/nginx.$w.0001.mprof" && $(stat -c %U "$got") == www-data ]] ||
    fail "the new worker's snapshot is $got"
got=$("$BIN" snapshot "$master") || fail "the attached master's snapshot failed"
[[ $got == "$OUT/nginx.$master.0001.mprof" ]] || fail "the attached master's snapshot is named $got"
"$BIN" detach "$master" >/dev/null || fail "memprof detach of the master failed"
quit "$master"
echo "ok: nginx plain, profiled, dormant and attached"
