#!/usr/bin/env bash
# real_lib.sh - the real-program matrix driver, sourced by tests/e2e/real_*.sh
# and tests/e2e/life_*.sh after common.sh. Run by itself (ctest e2e_real_lib)
# it tests the driver on trivial commands, so a broken driver cannot make
# every real_* test pass vacuously.
#
#   real_run NAME TIMEOUT [PREPARE_FN] -- CMD [ARGS...]
#
# runs CMD twice, each time in a fresh working directory prepared by
# PREPARE_FN (called with that directory as cwd): once plainly and once with
# the shim (and tests/programs/liblife_witness.so, which logs every process
# that loads or forks) preloaded. It then asserts:
#   - the same exit status, and byte-identical stdout;
#   - neither run hit TIMEOUT (so nothing hangs);
#   - no `memprof:` line on the profiled run's stderr (no false warnings);
#   - every process the witness saw left at least one snapshot, and one
#     written at its exit (SPEC "Triggers");
#   - no temporary file is left, and `memprof report` and `memprof locks`
#     read every snapshot with status 0.
# Results: $WORK/NAME.{plain,shim}/ (cwd), .out, .err, .rc; snapshots in
# $WORK/NAME.snaps; the witness log in $WORK/NAME.witness.
#
# REAL_ALLOW_WARNINGS=1 skips the no-warning check (a test that checks the
# warnings itself). REAL_ENV (array) adds VAR=VALUE pairs to the profiled run; by default a
# small sampling interval (more stacks captured, more unwinding under real
# load) and a 1 s periodic timer (snapshots written while the program runs).

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    source "$(dirname "$0")/common.sh"
fi

REAL_WITNESS=$TEST_PROGS/liblife_witness.so
[[ -f $REAL_WITNESS ]] || fail "no witness library at $REAL_WITNESS"
REAL_ENV=(MEMPROF_SAMPLE=4096 MEMPROF_INTERVAL=1)
# The analyzer must never hang either.
REAL_ANALYZER_TIMEOUT=60

# real_one MODE NAME TIMEOUT PREPARE_FN CMD...: one run, MODE plain|shim.
real_one() {
    local mode=$1 name=$2 limit=$3 prep=$4
    shift 4
    local base=$WORK/$name
    local dir=$base.$mode
    rm -rf "$dir"
    mkdir -p "$dir"
    if [[ -n $prep ]]; then
        (cd "$dir" && "$prep") >"$dir.prep.log" 2>&1 || {
            cat "$dir.prep.log" >&2
            fail "$name: preparing $dir failed"
        }
    fi
    local rc=0 t0=$SECONDS
    if [[ $mode == plain ]]; then
        (cd "$dir" && exec timeout -k 5 "$limit" "$@") >"$dir.out" 2>"$dir.err" || rc=$?
    else
        rm -rf "$base.snaps" "$base.witness"
        mkdir -p "$base.snaps"
        (cd "$dir" && exec timeout -k 5 "$limit" env LD_PRELOAD="$MEMPROF_SHIM:$REAL_WITNESS" \
            LIFE_WITNESS="$base.witness" MEMPROF_OUT="$base.snaps" "${REAL_ENV[@]}" \
            "$@") >"$dir.out" 2>"$dir.err" || rc=$?
    fi
    echo "$rc" >"$dir.rc"
    if [[ $rc -eq 124 ]] || ((SECONDS - t0 >= limit)); then
        sed 's/^/  stderr: /' "$dir.err" | tail -20 >&2
        fail "$name ($mode): did not finish within ${limit}s (status $rc): $*"
    fi
}

# real_check_snapshots NAME: the snapshot checks above, on $WORK/NAME.snaps.
real_check_snapshots() {
    local name=$1
    local snaps=$WORK/$name.snaps witness=$WORK/$name.witness
    [[ -s $witness ]] || fail "$name: the witness saw no process (is it preloaded?)"
    local leftovers
    leftovers=$(find "$snaps" -maxdepth 1 -name '.*' ! -name . | head -5)
    [[ -z $leftovers ]] || fail "$name: temporary files left in $snaps: $leftovers"
    local -a files
    mapfile -t files < <(snapshots "$snaps")
    [[ ${#files[@]} -gt 0 ]] || fail "$name: no snapshot at all in $snaps"
    local f rc
    for f in "${files[@]}"; do
        [[ $(basename "$f") =~ ^.+\.[0-9]+\.[0-9]{4}\.mprof$ ]] || fail "$name: bad snapshot name $f"
        rc=0
        timeout -k 5 "$REAL_ANALYZER_TIMEOUT" "$MEMPROF_BIN" report "$f" --top 5 \
            >"$f.report" 2>"$f.report.err" || rc=$?
        [[ $rc -eq 0 ]] || fail "$name: memprof report $f exited $rc: $(head -3 "$f.report.err")"
        rc=0
        timeout -k 5 "$REAL_ANALYZER_TIMEOUT" "$MEMPROF_BIN" locks "$f" --top 5 \
            >"$f.locks" 2>"$f.locks.err" || rc=$?
        [[ $rc -eq 0 ]] || fail "$name: memprof locks $f exited $rc: $(head -3 "$f.locks.err")"
    done
    local pid comm missing=() noexit=()
    while read -r pid comm; do
        local -a mine=()
        mapfile -t mine < <(printf '%s\n' "${files[@]}" | grep -E "\.$pid\.[0-9]{4}\.mprof\$")
        if [[ ${#mine[@]} -eq 0 ]]; then
            missing+=("$pid($comm)")
            continue
        fi
        local any_exit=0
        for f in "${mine[@]}"; do
            head -1 "$f.report" | grep -q '(exit)' && any_exit=1
        done
        [[ $any_exit -eq 1 ]] || noexit+=("$pid($comm)")
    done < <(sort -u "$witness")
    [[ ${#missing[@]} -eq 0 ]] ||
        fail "$name: $(cut -d' ' -f1 "$witness" | sort -u | wc -l) processes ran under the shim, these left no snapshot: ${missing[*]}"
    [[ ${#noexit[@]} -eq 0 ]] ||
        fail "$name: these processes left no exit snapshot: ${noexit[*]}"
    echo "$name: $(cut -d' ' -f1 "$witness" | sort -u | wc -l) processes, ${#files[@]} snapshots, all read by report and locks"
}

# real_run NAME TIMEOUT [PREPARE_FN] -- CMD...
real_run() {
    local name=$1 limit=$2 prep=
    shift 2
    if [[ $1 != -- ]]; then
        prep=$1
        shift
    fi
    [[ ${1:-} == -- ]] || fail "real_run: missing -- before the command"
    shift
    real_one plain "$name" "$limit" "$prep" "$@"
    real_one shim "$name" "$limit" "$prep" "$@"
    local base=$WORK/$name
    local prc src
    prc=$(cat "$base.plain.rc")
    src=$(cat "$base.shim.rc")
    if [[ $prc != "$src" ]]; then
        sed 's/^/  stderr: /' "$base.shim.err" | tail -20 >&2
        fail "$name: exit status $src under the shim, $prc without: $*"
    fi
    if ! cmp -s "$base.plain.out" "$base.shim.out"; then
        diff "$base.plain.out" "$base.shim.out" | head -10 >&2 || true
        fail "$name: stdout differs under the shim ($base.plain.out vs $base.shim.out)"
    fi
    if [[ -z ${REAL_ALLOW_WARNINGS:-} ]] && grep -q '^memprof:' "$base.shim.err"; then
        grep '^memprof:' "$base.shim.err" | head -5 >&2
        fail "$name: the shim printed warnings for a plain program"
    fi
    real_check_snapshots "$name"
}

# report_json FILE OUT: `memprof report --json --top 0` of FILE into OUT.
report_json() {
    local rc=0
    timeout -k 5 "$REAL_ANALYZER_TIMEOUT" "$MEMPROF_BIN" report "$1" --json --top 0 >"$2" 2>"$2.err" || rc=$?
    [[ $rc -eq 0 ]] || fail "memprof report --json $1 exited $rc: $(head -3 "$2.err")"
}

# jq_py JSON EXPR: evaluates the python expression EXPR with `d` the parsed
# report JSON and helpers: inner(FUNC) -> [bytes, count] summed over sites
# whose innermost frame is FUNC; anywhere(FUNC) -> number of sites with FUNC
# in any frame; dropped -> counters.events_dropped (0 when absent).
jq_py() {
    python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def fn(f):
    return (f.get("function") or "").split("(")[0]
def inner(name):
    b = c = 0
    for s in d.get("sites", []):
        fr = s.get("frames") or []
        if fr and fn(fr[0]) == name:
            b += s["bytes"]; c += s["count"]
    return [b, c]
def unknown():
    """Live heap charged to the unknown stack (a sample taken in a signal
    handler that interrupted the shim: no unwinding there)."""
    b = c = 0
    for s in d.get("sites", []):
        if not s.get("frames"):
            b += s["bytes"]; c += s["count"]
    return [b, c]
def anywhere(name):
    return sum(1 for s in d.get("sites", []) if any(fn(f) == name for f in s.get("frames") or []))
dropped = (d.get("counters") or {}).get("events_dropped", 0)
v = eval(sys.argv[2])
print(" ".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
PY
}

# pid_snapshots DIR PID: that process's snapshots, by seq.
pid_snapshots() {
    snapshots "$1" | grep -E "\.$2\.[0-9]{4}\.mprof\$" || true
}

# Self-test when run on its own rather than sourced.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    real_run echo 20 -- /bin/echo hello
    grep -qx hello "$WORK/echo.shim.out" || fail "self-test: echo printed $(cat "$WORK/echo.shim.out")"
    # A non-zero status must be carried through and still compared.
    real_run status 20 -- /bin/bash -c 'echo out; exit 3'
    [[ $(cat "$WORK/status.shim.rc") == 3 ]] || fail "self-test: status 3 came back as $(cat "$WORK/status.shim.rc")"
    # The driver must notice a missing snapshot: a process killed by SIGKILL
    # leaves none (interval 0), so this must fail.
    REAL_ENV=(MEMPROF_INTERVAL=0)
    if (real_run killed 20 -- /bin/bash -c '/bin/sleep 0.2 & wait; kill -9 $$' ) 2>"$WORK/killed.log"; then
        fail "self-test: a SIGKILLed process without snapshots was not noticed"
    fi
    grep -q 'left no snapshot' "$WORK/killed.log" || fail "self-test: unexpected failure: $(cat "$WORK/killed.log")"
    # And a difference in stdout.
    if (real_run differs 20 -- /bin/bash -c '[[ -n ${LD_PRELOAD:-} ]] && echo preloaded; true') 2>"$WORK/differs.log"; then
        fail "self-test: different stdout was not noticed"
    fi
    grep -q 'stdout differs' "$WORK/differs.log" || fail "self-test: unexpected failure: $(cat "$WORK/differs.log")"
    echo "ok: real_run driver"
fi
