# suite_lib.sh - sourced (after common.sh) by the real_*_suite.sh tests,
# which run a real project's own test suite twice at once, plainly and with
# the shim preloaded at its default settings, and compare the results. The
# caller sets RUN_TIMEOUT (seconds for one whole run). Run by itself
# (ctest e2e_suite_lib), it tests its helpers on `sleep`.

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    source "$(dirname "$0")/common.sh"
fi

# suite_tmpdirs TAG: TMP_PLAIN and TMP_SHIM, each run's own TMPDIR: short
# (AF_UNIX socket paths live there) and fresh, removed at exit. Also makes
# $WORK/snaps, where the profiled run's snapshots go.
suite_tmpdirs() {
    TMP_PLAIN=$(mktemp -d "/tmp/memprof-$1.XXXXXX")
    TMP_SHIM=$(mktemp -d "/tmp/memprof-$1.XXXXXX")
    trap 'rm -rf "$TMP_PLAIN" "$TMP_SHIM"' EXIT
    mkdir -p "$WORK/snaps"
}

# suite_exec PIDFILE plain|shim CMD...: execs CMD bounded by RUN_TIMEOUT,
# preloaded with the shim (snapshots into $WORK/snaps) when shim, its pid
# in PIDFILE (bash writes it and execs CMD). Call it in a subshell.
suite_exec() {
    local pidfile=$1 mode=$2
    shift 2
    local -a pre=()
    [[ $mode == shim ]] && pre=(env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$WORK/snaps")
    exec timeout -k 10 "$RUN_TIMEOUT" bash -c 'echo $$ >"$0" && exec "$@"' "$pidfile" "${pre[@]}" "$@"
}

# suite_finished NAME RC LOG: fails, with LOG's tail, when RC says that
# RUN_TIMEOUT ended the run NAME (124, or 137 after the -k).
suite_finished() {
    if [[ $2 -eq 124 || $2 -eq 137 ]]; then
        tail -5 "$3" >&2
        fail "the $1 run did not finish within ${RUN_TIMEOUT}s"
    fi
}

# suite_both FUNC: `FUNC plain $TMP_PLAIN` and `FUNC shim $TMP_SHIM` at
# once, both waited for; says how long they took.
suite_both() {
    local t0=$SECONDS plain_job
    "$1" plain "$TMP_PLAIN" &
    plain_job=$!
    "$1" shim "$TMP_SHIM"
    wait "$plain_job"
    echo "both runs: $((SECONDS - t0)) s"
}

# suite_profiled PIDFILE PROG: the profiled run really was profiled: the
# last snapshot that its main process (PROG, pid in PIDFILE) wrote is its
# exit snapshot.
suite_profiled() {
    local main last
    main=$(cat "$1")
    last=$(snapshots "$WORK/snaps" | grep -E "/$2\.$main\.[0-9]{4}\.mprof$" | tail -1)
    [[ -n $last ]] || fail "the main process $2 ($main) left no snapshot in $WORK/snaps"
    "$MEMPROF_BIN" report "$last" --top 1 >"$WORK/main.report" 2>&1 ||
        fail "memprof report $last: $(head -2 "$WORK/main.report")"
    head -1 "$WORK/main.report" | grep -q '(exit)' ||
        fail "the last snapshot of the main process $2 is not its exit snapshot: $(head -1 "$WORK/main.report")"
}

# suite_processes [PROG]: how many processes (named PROG, if given) left
# snapshots in $WORK/snaps.
suite_processes() {
    snapshots "$WORK/snaps" | sed -n "s|.*/${1:-[^/]*}\.\([0-9]*\)\.[0-9]*\.mprof\$|\1|p" | sort -u | wc -l
}

# ---- run by itself: the helpers' own test ----
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    RUN_TIMEOUT=60
    suite_tmpdirs self
    [[ -d $TMP_PLAIN && -d $TMP_SHIM && $TMP_PLAIN != "$TMP_SHIM" ]] || fail "self: suite_tmpdirs"
    # run_self MODE TMP: `sleep 0.3` in TMP, plainly or under the shim.
    run_self() {
        local rc=0
        (cd "$2" && suite_exec "$WORK/$1.pid" "$1" sleep 0.3) >"$WORK/$1.log" 2>&1 || rc=$?
        suite_finished "$1" "$rc" "$WORK/$1.log"
        [[ $rc -eq 0 ]] || fail "self: the $1 run exited $rc: $(cat "$WORK/$1.log")"
    }
    suite_both run_self
    [[ $(cat "$WORK/plain.pid") =~ ^[0-9]+$ ]] || fail "self: no pid of the plain run"
    suite_profiled "$WORK/shim.pid" sleep
    [[ $(suite_processes sleep) -eq 1 && $(suite_processes) -eq 1 ]] ||
        fail "self: $(suite_processes) processes left snapshots, expected the profiled sleep alone"
    [[ $(suite_processes cat) -eq 0 ]] || fail "self: suite_processes cat counted a sleep"
    RUN_TIMEOUT=1
    rc=0
    (suite_exec "$WORK/late.pid" plain sleep 10) || rc=$?
    [[ $rc -eq 124 ]] || fail "self: a run over RUN_TIMEOUT exited $rc, not 124"
    ! (suite_finished late "$rc" /dev/null) 2>/dev/null || fail "self: suite_finished let a timed-out run pass"
    echo "ok: the suite helpers work"
fi
