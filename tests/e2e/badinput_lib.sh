#!/usr/bin/env bash
# badinput_lib.sh - sourced by tests/e2e/badinput_*.sh after common.sh. Run
# by itself (ctest e2e_badinput_lib) it checks that the helpers notice a
# command that does not fail properly.
#
#   badinput_good DIR       -> path of a real snapshot with heap and lock data
#   expect_bad FILE CMD...  -> CMD must exit 2 within 20 s, print exactly one
#                              stderr line naming FILE, and not die of a signal
#   every_command BAD GOOD  -> expect_bad on BAD with every analyzer command,
#                              as the only input and as OLD and NEW

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    source "$(dirname "$0")/common.sh"
fi

# A snapshot with every section filled: heap sites, many stacks, two
# contended locks with waiter and holder sites (life_signal, exact
# sampling), written at exit.
badinput_good() {
    local dir=$1
    if [[ -z $(snapshots "$dir" 2>/dev/null) ]]; then
        timeout -k 5 60 env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$dir" MEMPROF_INTERVAL=0 \
            MEMPROF_SAMPLE=1 "$TEST_PROGS/life_signal" >/dev/null 2>&1 ||
            fail "life_signal failed under the shim"
    fi
    local f
    f=$(snapshots "$dir" | tail -1)
    [[ -n $f ]] || fail "no snapshot from life_signal"
    "$MEMPROF_BIN" report "$f" >/dev/null || fail "the good snapshot $f does not read"
    echo "$f"
}

BADINPUT_CHECKS=0
expect_bad() {
    local f=$1 rc=0
    shift
    timeout -k 2 20 "$@" >"$WORK/bad.stdout" 2>"$WORK/bad.stderr" || rc=$?
    BADINPUT_CHECKS=$((BADINPUT_CHECKS + 1))
    [[ $rc -ne 124 && $rc -ne 137 ]] || fail "$*: hung (killed after 20 s)"
    [[ $rc -lt 128 ]] || fail "$*: died of signal $((rc - 128)): $(head -3 "$WORK/bad.stderr")"
    [[ $rc -eq 2 ]] || fail "$*: exited $rc, expected 2: $(head -3 "$WORK/bad.stderr")"
    [[ $(wc -l <"$WORK/bad.stderr") -eq 1 ]] ||
        fail "$*: $(wc -l <"$WORK/bad.stderr") lines on stderr, expected 1: $(head -5 "$WORK/bad.stderr")"
    grep -qF -- "$f" "$WORK/bad.stderr" || fail "$*: the error does not name $f: $(cat "$WORK/bad.stderr")"
}

every_command() {
    local bad=$1 good=$2
    expect_bad "$bad" "$MEMPROF_BIN" report "$bad"
    expect_bad "$bad" "$MEMPROF_BIN" report "$bad" --json
    expect_bad "$bad" "$MEMPROF_BIN" diff "$good" "$bad"
    expect_bad "$bad" "$MEMPROF_BIN" diff "$bad" "$good" --json
    expect_bad "$bad" "$MEMPROF_BIN" locks "$bad"
    expect_bad "$bad" "$MEMPROF_BIN" locks "$good" "$bad" --json
    expect_bad "$bad" "$MEMPROF_BIN" flame "$bad" -o "$WORK/out.svg"
    expect_bad "$bad" "$MEMPROF_BIN" flame "$bad" "$good" -o "$WORK/out.svg"
    expect_bad "$bad" "$MEMPROF_BIN" folded "$bad" --what locks
    expect_bad "$bad" "$MEMPROF_BIN" pprof "$bad" -o "$WORK/out.pb.gz"
    rm -f "$WORK/out.html"
    expect_bad "$bad" "$MEMPROF_BIN" html "$good" "$bad" -o "$WORK/out.html"
    [[ ! -e $WORK/out.html ]] || fail "memprof html wrote a page from bad input $bad"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    good=$(badinput_good "$WORK/good")
    # A command that succeeds on a good file must be noticed.
    if (expect_bad "$good" "$MEMPROF_BIN" report "$good") 2>/dev/null; then
        fail "self-test: expect_bad accepted a successful command"
    fi
    # One that fails with a different status too.
    if (expect_bad x bash -c 'echo x >&2; exit 1') 2>/dev/null; then
        fail "self-test: expect_bad accepted status 1"
    fi
    # And one killed by a signal.
    if (expect_bad x bash -c 'echo x >&2; kill -SEGV $$') 2>/dev/null; then
        fail "self-test: expect_bad accepted a signal death"
    fi
    expect_bad "$WORK/nope" "$MEMPROF_BIN" report "$WORK/nope"
    echo "ok: badinput helpers"
fi
