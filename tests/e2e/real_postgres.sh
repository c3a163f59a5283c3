#!/usr/bin/env bash
# PostgreSQL as an unprivileged user, with the shim preloaded into every
# process of it: initdb (which runs postgres in bootstrap and single-user
# mode), pg_ctl start (a postmaster that forks a backend per connection and
# its auxiliary processes, all on its own System V / POSIX shared memory),
# psql queries (a 40k-row table, a sort, an index build, VACUUM), pg_ctl
# stop -m fast. The same run plainly and under the shim, in the same
# directory: the same exit status, the same initdb and psql output, no
# `memprof:` line anywhere, no error in the server's log that the plain run
# did not have, every process an exit snapshot (real_lib's checks), and
# the added-up report of the backends ranks a named postgres function.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/sec_lib.sh"
source "$E2E_DIR/real_lib.sh"
sec_setup

# Debian's postgres lives in /usr/lib/postgresql/<major>/bin, not on PATH;
# elsewhere initdb may be on PATH.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [[ -z $PGBIN ]] && command -v initdb >/dev/null; then
    PGBIN=$(dirname "$(readlink -f "$(command -v initdb)")")
fi
if [[ -z $PGBIN || ! -x $PGBIN/initdb || ! -x $PGBIN/pg_ctl || ! -x $PGBIN/postgres ]]; then
    echo "skip: no PostgreSQL server (scripts/setup test installs postgresql)"
    exit 0
fi
PSQL=$PGBIN/psql
[[ -x $PSQL ]] || PSQL=$(command -v psql) || fail "no psql beside $PGBIN/initdb nor on PATH"
U=nobody
cp "$REAL_WITNESS" "$PUB/witness.so"
chmod 0755 "$PUB/witness.so"

# The whole life of a cluster in $PUB/run (the same path in both runs, so
# initdb prints the same lines); one port per run, a socket in the data
# directory's parent, no TCP.
cat >"$PUB/pg.sh" <<'SH'
#!/bin/bash
set -e
bin=$1 psql=$2 port=$3 d=$4
"$bin/initdb" -D "$d/data" -A trust -U postgres --no-sync --no-instructions >"$d/initdb.out" 2>"$d/initdb.err"
"$bin/pg_ctl" -D "$d/data" -o "-k $d -c listen_addresses= -p $port" -l "$d/server.log" -w start >"$d/start.out"
q() { "$psql" -h "$d" -p "$port" -U postgres -X -q -At -c "$1" >>"$d/queries.out"; }
q "create table t(a int, b text); insert into t select i, md5(i::text) from generate_series(1, 40000) i"
q "select count(*), sum(a), min(b), max(b) from t"
q "select b, count(*) from t group by b order by b limit 5"
q "create index on t(b)"
q "select a from t where b = md5('777')"
q "select string_agg(x::text, ',') from (select a % 7 x from t order by a limit 20) s"
q "vacuum analyze t"
q "select relname, reltuples from pg_class where relname = 't'"
"$bin/pg_ctl" -D "$d/data" -w stop -m fast >"$d/stop.out"
SH
chmod 0755 "$PUB/pg.sh"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# cluster MODE: one run as $U; its directory ends up in $PUB/MODE.
cluster() {
    local mode=$1 rc=0 port
    port=$(free_port)
    rm -rf "$PUB/run"
    mkdir -p "$PUB/run"
    chown "$U" "$PUB/run"
    local -a pre=()
    if [[ $mode == shim ]]; then
        mkdir -p "$PUB/snaps"
        chown "$U" "$PUB/snaps"
        pre=(env LD_PRELOAD="$SHIM:$PUB/witness.so" LIFE_WITNESS="$PUB/run/witness"
             MEMPROF_OUT="$PUB/snaps" MEMPROF_SAMPLE=4096 MEMPROF_INTERVAL=1)
    fi
    (cd "$PUB/run" && exec timeout -k 5 90 setpriv --reuid="$U" --regid="$(id -g "$U")" --clear-groups \
        "${pre[@]}" "$PUB/pg.sh" "$PGBIN" "$PSQL" "$port" "$PUB/run") \
        >"$PUB/run/script.out" 2>"$PUB/run/script.err" || rc=$?
    echo "$rc" >"$PUB/run/script.rc"
    if [[ -f $PUB/run/data/postmaster.pid ]]; then   # a failed run must not leave a server
        "$PGBIN/pg_ctl" -D "$PUB/run/data" stop -m immediate >/dev/null 2>&1 || true
    fi
    rm -rf "$PUB/$mode"
    mv "$PUB/run" "$PUB/$mode"
    cp "$PUB/$mode/server.log" "$WORK/$mode.server.log" 2>/dev/null || true
    [[ $rc -ne 124 ]] || fail "postgres ($mode) did not finish within 90 s: $(tail -5 "$PUB/$mode/server.log")"
}
sec_cleanup_add "'$PGBIN/pg_ctl' -D '$PUB/run/data' stop -m immediate"

cluster plain
[[ $(cat "$PUB/plain/script.rc") -eq 0 ]] ||
    fail "postgres fails here even without the shim: $(cat "$PUB/plain/script.err" "$PUB/plain/initdb.err" | tail -5)"
cluster shim
rc=$(cat "$PUB/shim/script.rc")
[[ $rc -eq 0 ]] || fail "postgres under the shim: status $rc: $(cat "$PUB/shim/script.err" "$PUB/shim/initdb.err" | tail -5)"
for f in initdb.out queries.out script.out; do
    cmp -s "$PUB/plain/$f" "$PUB/shim/$f" ||
        fail "$f differs under the shim: $(diff "$PUB/plain/$f" "$PUB/shim/$f" | head -6)"
done
grep -qx 777 "$PUB/shim/queries.out" || fail "the index lookup returned $(cat "$PUB/shim/queries.out")"
! grep -h '^memprof:' "$PUB/shim"/*.err "$PUB/shim/server.log" || fail "the shim printed the lines above"
# Errors in the server's log that the plain run did not have; not the
# fast shutdown's own (a backend or autovacuum worker still running at the
# stop is told "terminating ... due to administrator command": timing).
errs() {
    grep -oE '(ERROR|FATAL|PANIC|TRAP|WARNING):.*' "$1" | grep -v 'due to administrator command$' |
        sort -u || true
}
extra=$(comm -13 <(errs "$PUB/plain/server.log") <(errs "$PUB/shim/server.log"))
[[ -z $extra ]] || fail "the server logged under the shim only: $extra"

# real_lib's checks: every process the witness saw (initdb's postgres
# runs, the postmaster, each backend and auxiliary process, pg_ctl, psql,
# the shell) left a snapshot, one at its exit, all readable.
rm -rf "$WORK/pg.snaps"
cp -a "$PUB/snaps" "$WORK/pg.snaps"
cp "$PUB/shim/witness" "$WORK/pg.witness"
[[ -z $(find "$WORK/pg.snaps" ! -user "$U") ]] || fail "snapshots not owned by $U: $(find "$WORK/pg.snaps" ! -user "$U")"
real_check_snapshots pg
# Debian's postgres is stripped of its static functions: the unnamed
# AllocSetAlloc under palloc goes with palloc (frameview.c), and the site
# is the caller's.
"$MEMPROF_BIN" report "$WORK/pg.snaps"/postgres.*.mprof --what alloc --top 5 >"$WORK/pg.txt" ||
    fail "memprof report of the postgres snapshots failed"
top=$(sed -n '/^ rank /{n;p;q}' "$WORK/pg.txt" | sed -E 's/^ +1 +[0-9]+ +[0-9.]+ [KMG]?i?B +[0-9.]+% +[0-9]+ +//; s/ \(.*$//')
[[ -n $top && $top != "??" ]] || fail "the postgres processes' top allocation site is unnamed: $(sed -n '/^ rank /{n;p;q}' "$WORK/pg.txt")"
grep -q '^allocator wrappers folded away .*palloc' "$WORK/pg.txt" || fail "palloc was not folded away: $(head -12 "$WORK/pg.txt")"
echo "ok: postgres (initdb, start, queries, stop) under the shim as $U; top allocation site $top"
