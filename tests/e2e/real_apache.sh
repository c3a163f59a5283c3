#!/usr/bin/env bash
# Apache httpd with mpm_prefork as a distribution runs it: started by root,
# a pool of children that switch to nobody, each ending after one
# connection (MaxConnectionsPerChild 1, so the master forks again for
# every request), driven by curl from loopback, plainly and under
# `memprof run --sample 1 --interval 30` (trial20). What must hold (SPEC "Output",
# README "A server that drops privileges"):
#   - curl reads the same bytes, apache ends on SIGTERM with the same status,
#     the shim prints nothing;
#   - the master's snapshot is root's, 0600, in MEMPROF_OUT, which is
#     searchable (--x) but not listable by others; the children's are in
#     MEMPROF_OUT/uid-65534 (0700, nobody's), each 0600 and nobody's, one
#     exit snapshot per child that served a request;
#   - the children's heap, added up, has a named top site;
#   - `memprof snapshot CHILD` is honoured for nobody (the file lands in
#     uid-65534), refused for daemon, and nobody's for the root master is
#     refused: exit 1, one line, nothing written;
#   - with MEMPROF_OUT a sticky shared directory where daemon has planted
#     uid-65534 first (its own 0777 directory, or its symlink to one): the
#     same bytes served, nothing written into daemon's directory, each
#     child saying in one line (apache's error log) why it skipped.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/sec_lib.sh"
sec_setup
APACHE=/usr/sbin/apache2
MODS=/usr/lib/apache2/modules
[[ -x $APACHE && -f $MODS/mod_mpm_prefork.so ]] || fail "no apache2 (run scripts/setup test)"
REQUESTS=8

# conf DIR PORT: a self-contained prefork configuration rooted in DIR.
conf() {
    local d=$1 port=$2
    mkdir -p "$d/htdocs"
    echo "hello from apache" >"$d/htdocs/index.html"
    seq 1 20000 >"$d/htdocs/big.txt"
    chmod -R a+rX "$d"
    cat >"$d/httpd.conf" <<EOF
ServerRoot $d
ServerName localhost
Listen 127.0.0.1:$port
LoadModule mpm_prefork_module $MODS/mod_mpm_prefork.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule dir_module $MODS/mod_dir.so
LoadModule mime_module $MODS/mod_mime.so
TypesConfig /etc/mime.types
User nobody
Group $(id -gn nobody)
PidFile $d/httpd.pid
DefaultRuntimeDir $d
Mutex file:$d default
ErrorLog $d/error.log
DocumentRoot $d/htdocs
DirectoryIndex index.html
<Directory $d/htdocs>
  Require all granted
</Directory>
StartServers 2
MinSpareServers 1
MaxSpareServers 2
MaxRequestWorkers 4
MaxConnectionsPerChild 1
EOF
}

# listening PORT: true when something listens on 127.0.0.1:PORT.
listening() {
    local hex
    hex=$(printf '%04X' "$1")
    grep -q "^ *[0-9]*: 0100007F:$hex 00000000:0000 0A" /proc/net/tcp
}

free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 20000))
        listening "$p" || { echo "$p"; return; }
    done
    fail "no free port"
}

# serve NAME [memprof run options...]: apache started (under `memprof run`
# with the options unless NAME is plain), REQUESTS requests, SIGTERM.
# Leaves $WORK/NAME.{out,rc}, the master's pid in $WORK/NAME.pid; calls
# while_up NAME MASTER (if defined) before the SIGTERM.
serve() {
    local name=$1 port
    shift
    local d=$PUB/$name
    port=$(free_port)
    conf "$d" "$port"
    local -a pre=()
    [[ $name == plain ]] || pre=("$BIN" run -o "$d/snaps" "$@" --)
    timeout -k 5 60 "${pre[@]}" "$APACHE" -f "$d/httpd.conf" -DFOREGROUND >"$WORK/$name.srv.out" 2>"$WORK/$name.srv.err" &
    local srv=$!
    sec_cleanup_add "kill -9 $srv"
    for _ in $(seq 300); do
        listening "$port" && [[ -s $d/httpd.pid ]] && break
        kill -0 "$srv" 2>/dev/null || fail "apache ($name) ended at start: $(cat "$WORK/$name.srv.err" "$d/error.log")"
        sleep 0.1
    done
    listening "$port" || fail "apache ($name) never listened on $port"
    local master
    master=$(cat "$d/httpd.pid")
    echo "$master" >"$WORK/$name.pid"
    local i
    for ((i = 0; i < REQUESTS; i++)); do
        curl -sS --max-time 20 "http://127.0.0.1:$port/"
        curl -sS --max-time 20 "http://127.0.0.1:$port/big.txt" | sha256sum
    done >"$WORK/$name.out" 2>&1
    if declare -F while_up >/dev/null; then
        while_up "$name" "$master"
    fi
    kill -TERM "$master"
    local rc=0
    wait "$srv" || rc=$?
    echo "$rc" >"$WORK/$name.rc"
    [[ $rc -ne 124 ]] || fail "apache ($name) did not end within 60 s"
}

# While the profiled server runs: requests from three users.
while_up() {
    [[ $1 == shim ]] || return 0
    local master=$2 child=
    for _ in $(seq 300); do   # an idle child, switched to nobody
        child=$(pgrep -u nobody -P "$master" | head -1 || true)
        [[ -n $child ]] && grep -q "@memprof.$child\$" /proc/net/unix && break
        child=
        sleep 0.1
    done
    [[ -n $child ]] || fail "no child of the master listens for requests"
    local d=$PUB/$1 rc
    rc=0
    as_user daemon "$BIN" snapshot "$child" >"$WORK/req.daemon" 2>&1 || rc=$?
    [[ $rc -eq 1 && $(wc -l <"$WORK/req.daemon") -eq 1 ]] ||
        fail "daemon asking nobody's child $child: status $rc, expected 1 and one line: $(cat "$WORK/req.daemon")"
    rc=0
    as_user nobody "$BIN" snapshot "$master" >"$WORK/req.master" 2>&1 || rc=$?
    [[ $rc -eq 1 && $(wc -l <"$WORK/req.master") -eq 1 ]] ||
        fail "nobody asking root's master: status $rc, expected 1 and one line: $(cat "$WORK/req.master")"
    rc=0
    as_user nobody "$BIN" snapshot "$child" >"$WORK/req.nobody" 2>&1 || rc=$?
    [[ $rc -eq 0 ]] || fail "nobody asking its own child $child: status $rc: $(cat "$WORK/req.nobody")"
    grep -qx "$d/snaps/uid-$(id -u nobody)/apache2\.$child\.[0-9]*\.mprof" "$WORK/req.nobody" ||
        fail "the child's requested snapshot is not in uid-$(id -u nobody): $(cat "$WORK/req.nobody")"
    echo "requests: daemon refused ($(cat "$WORK/req.daemon")), master refused to nobody, nobody's answered"
}

serve plain
serve shim --sample 1 --interval 30   # an interval: the children serve requests (README)
[[ $(cat "$WORK/plain.rc") == "$(cat "$WORK/shim.rc")" ]] ||
    fail "apache exited $(cat "$WORK/shim.rc") under the shim, $(cat "$WORK/plain.rc") without"
cmp -s "$WORK/plain.out" "$WORK/shim.out" || fail "curl read other bytes under the shim: $(diff "$WORK/plain.out" "$WORK/shim.out" | head -5)"
[[ ! -s $WORK/shim.srv.err ]] || fail "apache under the shim printed: $(head -3 "$WORK/shim.srv.err")"

snaps=$PUB/shim/snaps
uid=$(id -u nobody)
master=$(cat "$WORK/shim.pid")
[[ $(stat -c '%U %a' "$snaps") == "root 711" ]] || fail "MEMPROF_OUT is $(stat -c '%U %a' "$snaps"), expected root 711"
[[ $(stat -c '%u %a' "$snaps/uid-$uid") == "$uid 700" ]] ||
    fail "uid-$uid is $(stat -c '%u %a' "$snaps/uid-$uid"), expected $uid 700"
mapfile -t top < <(find "$snaps" -mindepth 1 -maxdepth 1 ! -name "uid-$uid")
[[ ${#top[@]} -eq 1 && ${top[0]} =~ /apache2\.$master\.0001\.mprof$ ]] ||
    fail "MEMPROF_OUT holds other than the master's one snapshot: ${top[*]}"
[[ $(stat -c '%U %a' "${top[0]}") == "root 600" ]] || fail "the master's snapshot is $(stat -c '%U %a' "${top[0]}")"
bad=$(find "$snaps/uid-$uid" -mindepth 1 \( ! -name 'apache2.*.mprof' -o ! -uid "$uid" -o ! -perm 0600 \) | head -3)
[[ -z $bad ]] || fail "in uid-$uid, not nobody's 0600 snapshots: $(ls -la $bad)"
mapfile -t kids < <(snapshots "$snaps/uid-$uid")
exits=0
for f in "${kids[@]}"; do
    "$BIN" report "$f" --top 1 >"$f.report" 2>&1 || fail "memprof report $f failed: $(head -3 "$f.report")"
    head -1 "$f.report" | grep -q '(exit)' && exits=$((exits + 1))
done
((exits >= 2 * REQUESTS)) || fail "$exits child exit snapshots for $((2 * REQUESTS)) requests, one child each"
"$BIN" report --json --top 5 "${kids[@]}" >"$WORK/kids.json" || fail "report of the children's snapshots failed"
python3 - "$WORK/kids.json" <<'PY' || fail "the children's heap has no named top site"
import json, sys
d = json.load(open(sys.argv[1]))
fr = d["sites"][0]["frames"]
print("children's top site:", " <- ".join(f["function"] or "??" for f in fr[:3]))
sys.exit(0 if fr and fr[0]["function"] not in (None, "", "??") else 1)
PY
"$BIN" report "${top[0]}" --top 1 >/dev/null || fail "memprof report of the master's snapshot failed"
echo "ok: apache prefork, $exits child exit snapshots in uid-$uid, the master's in MEMPROF_OUT"

# planted KIND: daemon's uid-65534 in a sticky MEMPROF_OUT, then 2 requests.
planted() {
    local kind=$1 d=$PUB/planted-$1 target
    mkdir -p "$d/snaps"
    chmod 1777 "$d/snaps"
    target=$PUB/daemon-$kind
    mkdir -m 0777 "$target"
    chown daemon "$target"
    case $kind in
    dir) as_user daemon mkdir -m 0777 "$d/snaps/uid-$uid"; target=$d/snaps/uid-$uid ;;
    link) as_user daemon ln -s "$target" "$d/snaps/uid-$uid" ;;
    esac
    REQUESTS=2 serve "planted-$kind" --sample 1
    [[ $(cat "$WORK/planted-$kind.rc") == "$(cat "$WORK/plain.rc")" ]] ||
        fail "planted $kind: apache exited $(cat "$WORK/planted-$kind.rc")"
    cmp -s <(head -4 "$WORK/plain.out") "$WORK/planted-$kind.out" || fail "planted $kind: curl read other bytes"
    [[ -z $(ls -A "$target") ]] || fail "planted $kind: written into daemon's directory: $(ls -A "$target")"
    [[ $(stat -c %U "$target") == daemon ]] || fail "planted $kind: daemon's directory changed hands"
    local lines
    lines=$(grep -ac "^memprof: cannot write a snapshot in $d/snaps/uid-$uid: " "$d/error.log" || true)
    ((lines >= 2)) || fail "planted $kind: $lines refusals in apache's error log, expected one per child: $(grep -a memprof "$d/error.log" | head -3)"
    snapshots "$d/snaps" | grep -q "/apache2\.$(cat "$WORK/planted-$kind.pid")\.0001\.mprof$" ||
        fail "planted $kind: the master wrote no snapshot"
    echo "planted $kind: $lines children refused: $(grep -a -m1 '^memprof:' "$d/error.log")"
}
planted dir
planted link
