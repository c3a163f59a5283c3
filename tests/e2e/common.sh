# common.sh - helpers sourced by every tests/e2e/*.sh (not a test itself).
#
# ctest provides: MEMPROF_BIN (build/memprof), MEMPROF_SHIM (libmemprof.so),
# TEST_PROGS (built test programs), EXAMPLES (built examples), WORK (this
# test's own scratch directory, recreated here).
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

for v in MEMPROF_BIN MEMPROF_SHIM TEST_PROGS WORK; do
    [[ -n "${!v:-}" ]] || fail "$v is not set (run through ctest)"
done
[[ -x "$MEMPROF_BIN" ]] || fail "no analyzer at $MEMPROF_BIN"
[[ -f "$MEMPROF_SHIM" ]] || fail "no shim at $MEMPROF_SHIM"

# The shim reads MEMPROF_*: nothing from the caller's environment may leak
# into a test's configuration.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^MEMPROF_' | grep -v -e '^MEMPROF_BIN$' -e '^MEMPROF_SHIM$')

rm -rf "$WORK"
mkdir -p "$WORK"

jsoncheck() {
    python3 "$E2E_DIR/jsoncheck.py" "$@"
}

# shim_exec SECONDS OUTDIR [VAR=VALUE...] -- PROG [ARGS...]
# Runs PROG preloaded with the shim, snapshots into OUTDIR (made here), the
# VAR=VALUE pairs added to the environment, bounded by SECONDS by a timeout
# that is not itself preloaded (it would write snapshots too). Returns
# PROG's status; the caller redirects its output.
shim_exec() {
    local secs=$1 out=$2
    shift 2
    local -a vars=()
    while [[ $# -gt 0 && $1 != -- ]]; do
        vars+=("$1")
        shift
    done
    [[ ${1:-} == -- ]] || fail "shim_exec: missing -- before the program"
    shift
    mkdir -p "$out"
    timeout -k 5 "$secs" env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$out" "${vars[@]}" "$@"
}

# run_under_shim OUTDIR [VAR=VALUE...] -- PROG [ARGS...]
# Runs PROG (shim_exec, 100 s) under the tests' snapshot protocol
# (tests/programs/support/testprog.h): snapshots on SIGUSR2, none periodic,
# files into OUTDIR. stdout/stderr go to OUTDIR.out / OUTDIR.err; fails
# unless PROG exits 0.
run_under_shim() {
    local out=$1 rc=0
    shift
    shim_exec 100 "$out" MEMPROF_SIGNAL=USR2 MEMPROF_INTERVAL=0 "$@" >"$out.out" 2>"$out.err" || rc=$?
    if [[ $rc -ne 0 ]]; then
        sed 's/^/  stderr: /' "$out.err" >&2
        fail "$* exited with status $rc under the shim"
    fi
}

# plain_ok WHAT OUT PROG [ARGS...]: PROG run plainly (60 s at most), stdout
# and stderr into OUT; fails (naming WHAT) unless it exits 0.
plain_ok() {
    local what=$1 out=$2 rc=0
    shift 2
    timeout -k 5 60 "$@" >"$out" 2>&1 || rc=$?
    [[ $rc -eq 0 ]] || fail "$what: plain run exited $rc: $(cat "$out")"
}

# same_as_plain WHAT PLAIN OUT [VAR=VALUE...] -- PROG [ARGS...]: PROG run
# under the shim (shim_exec, 60 s, snapshots into OUT.snaps) must exit 0,
# print exactly PLAIN (what plain_ok wrote) on stdout (OUT.out) and
# nothing on stderr (OUT.err); fails naming WHAT.
same_as_plain() {
    local what=$1 plain=$2 out=$3 rc=0
    shift 3
    shim_exec 60 "$out.snaps" "$@" >"$out.out" 2>"$out.err" || rc=$?
    [[ $rc -eq 0 ]] || fail "$what: status $rc: $(cat "$out.out" "$out.err")"
    cmp -s "$plain" "$out.out" || fail "$what: the output differs from the plain run's:
$(diff "$plain" "$out.out")"
    [[ ! -s $out.err ]] || fail "$what: the shim printed: $(head -3 "$out.err")"
}

# snapshots DIR: the finished snapshot files in DIR, oldest first.
snapshots() {
    find "$1" -maxdepth 1 -name '*.mprof' ! -name '.*' | sort
}

# leak_field OUTFILE bytes|count [TAG]: a value from the program's LEAK
# line (or its TAG line, of the same form: "TAG bytes=N count=M").
leak_field() {
    local v tag=${3:-LEAK}
    v=$(sed -n "s/^$tag .*$2=\([0-9]*\).*/\1/p" "$1")
    [[ -n "$v" ]] || fail "no $tag line with $2= in $1"
    echo "$v"
}

# diff_old_new DIR OUT.json: `memprof diff --json --top 0` of the first and
# last snapshot in DIR, which must hold exactly two (the SIGUSR2 one and the
# exit one: MEMPROF_INTERVAL=0 means no others).
diff_old_new() {
    local dir=$1 json=$2
    local -a files
    mapfile -t files < <(snapshots "$dir")
    [[ ${#files[@]} -eq 2 ]] || fail "expected 2 snapshots in $dir (signal, exit), found ${#files[@]}: ${files[*]:-}"
    [[ ${files[0]} == *.0001.mprof && ${files[1]} == *.0002.mprof ]] ||
        fail "snapshot sequence numbers are not 0001, 0002: ${files[*]}"
    "$MEMPROF_BIN" diff "${files[0]}" "${files[1]}" --json --top 0 >"$json" ||
        fail "memprof diff ${files[*]} exited $?"
}

# The sampled half of every two-rate accuracy check runs at SAMPLED_RATE,
# half the default 512 KiB (config_values checks the default itself), with
# a 25% tolerance. Why not the default: a 160 MiB planted leak
# (TP_LEAK_BYTES) of blocks far smaller than the mean is estimated from
# about 160 MiB / R samples, a relative standard deviation of
# sqrt(R / 160 MiB): 5.5% at 512 KiB, so 25% was only 4.5 sigma, about
# one false failure in 130,000 runs per check with the Poisson count's
# heavier upper tail, one in 10,000 suites for the dozen such checks. At
# 256 KiB it is 3.8% (6.5 sigma, 2e-10), and an estimator that is wrong
# by a quarter still fails. `python3 tests/e2e/sampling_sigma.py` prints
# every check's numbers.
SAMPLED_RATE=262144
SAMPLED_TOL=0.25

# set_rate sampled|exact [RATE]: the sampling of a two-rate check: sets
# tol (SAMPLED_TOL when sampled, 0 exact) and rate_vars (the environment:
# MEMPROF_SAMPLE=RATE, SAMPLED_RATE unless given, or 1 for exact).
set_rate() {
    if [[ $1 == exact ]]; then
        tol=0
        rate_vars=(MEMPROF_SAMPLE=1)
    else
        [[ $1 == sampled ]] || fail "set_rate: unknown mode $1"
        tol=$SAMPLED_TOL
        rate_vars=(MEMPROF_SAMPLE=${2:-$SAMPLED_RATE})
    fi
}

# check_planted_leak PROG CULPRIT SRCFILE [--zero FUNC]... [-- ARGS...]
# Runs $TEST_PROGS/PROG twice: sampled (set_rate), where the culprit must
# rank 1 and its estimate be within 25% of the bytes leaked, and with
# MEMPROF_SAMPLE=1, where bytes and objects must be exact. churn always
# nets to zero.
check_planted_leak() {
    local prog=$1 culprit=$2 src=$3
    shift 3
    local -a zero=(--zero churn) args=()
    while [[ $# -gt 0 ]]; do
        case $1 in
            --zero) zero+=(--zero "$2"); shift 2 ;;
            --) shift; args=("$@"); break ;;
            *) fail "check_planted_leak: unknown argument $1" ;;
        esac
    done
    local mode tol
    local -a rate_vars
    for mode in sampled exact; do
        local dir=$WORK/$mode
        set_rate "$mode"
        run_under_shim "$dir" "${rate_vars[@]}" -- "$TEST_PROGS/$prog" "${args[@]}"
        diff_old_new "$dir" "$dir.json"
        echo "$prog ($mode: ${rate_vars[*]}):"
        jsoncheck leak "$dir.json" --culprit "$culprit" --file "$src" --tol "$tol" \
            --bytes "$(leak_field "$dir.out" bytes)" --count "$(leak_field "$dir.out" count)" \
            "${zero[@]}" || fail "$prog ($mode sampling): see above; diff in $dir.json"
    done
}

# two_rate_run MODE PROG TAG FIELD: set_rate MODE, then PROG (in
# $TEST_PROGS) under the shim into $WORK/MODE (run_under_shim); sets value
# to FIELD of its "TAG FIELD=N" output line and files to its snapshots,
# oldest first.
two_rate_run() {
    set_rate "$1"
    run_under_shim "$WORK/$1" "${rate_vars[@]}" -- "$TEST_PROGS/$2"
    value=$(leak_field "$WORK/$1.out" "$4" "$3")
    mapfile -t files < <(snapshots "$WORK/$1")
}

# need_browser: Debian's chromium, node and tests/browser's playwright-core
# (scripts/setup test installs all three), with chromium's profile and
# caches kept under $WORK. Sets BROWSER_DIR.
need_browser() {
    BROWSER_DIR=$E2E_DIR/../browser
    [[ -x /usr/bin/chromium ]] || fail "no /usr/bin/chromium (scripts/setup installs it)"
    command -v node >/dev/null || fail "no node (scripts/setup installs nodejs)"
    [[ -d $BROWSER_DIR/node_modules/playwright-core ]] ||
        fail "no playwright-core in tests/browser (scripts/setup runs npm ci there)"
    export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/home/.config XDG_CACHE_HOME=$WORK/home/.cache
    mkdir -p "$HOME"
}

# tiny_tmpfs SIZE: mounts a SIZE tmpfs at $WORK/tiny (in $mnt), unmounted
# at exit (the EXIT trap is set here); skips the test (exit 0) where no
# tmpfs can be mounted (not root, a container).
tiny_tmpfs() {
    mnt=$WORK/tiny
    mkdir -p "$mnt"
    if ! mount -t tmpfs -o size="$1" tmpfs "$mnt" 2>"$WORK/mount.err"; then
        echo "skip: cannot mount a tmpfs here ($(cat "$WORK/mount.err"))"
        exit 0
    fi
    trap 'umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true' EXIT
}

# public_dir [FILE...]: sets PUBLIC to a fresh 0755 directory under /tmp
# holding copies of FILE... (the caller removes it). Cases run as another
# user need it: the checkout may sit under a private directory (a CI clone
# in a `mktemp -d`), which that user cannot reach.
public_dir() {
    PUBLIC=$(mktemp -d /tmp/memprof-public.XXXXXX)
    chmod 0755 "$PUBLIC"
    [[ $# -eq 0 ]] || cp "$@" "$PUBLIC/"
}

# browser_page FILE: the browsers' test page (0644): a paragraph a script
# rewrites to "scripted 42", so a dump or screenshot shows the script ran.
browser_page() {
    cat >"$1" <<'HTML'
<html><body><p id="x">static text</p>
<script>document.getElementById("x").textContent = "scripted " + (6 * 7);</script>
</body></html>
HTML
    chmod 0644 "$1"
}

# wait_gone PID SECONDS: until PID has ended (at most SECONDS); false if not.
wait_gone() {
    local _
    for _ in $(seq $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 "$1" 2>/dev/null
}
