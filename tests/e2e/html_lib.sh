#!/usr/bin/env bash
# html_lib.sh - helpers of the html_*.sh tests, sourced by them after
# common.sh and need_browser:
#   html OUT ARGS...     `memprof html ARGS -o OUT`; fails the test (with
#                        memprof's stderr) unless it exits 0
#   browser SCENARIO...  tests/browser/html_report.js SCENARIO ..., bounded
# Run directly (ctest does, as e2e_html_lib) it checks that a failing
# `memprof html` and a failing browser scenario both fail the caller.

browser() {
    timeout -k 5 90 node "$BROWSER_DIR/html_report.js" "$@" || fail "browser check '$1' failed (see above)"
}

html() {
    local out=$1
    shift
    "$MEMPROF_BIN" html "$@" -o "$out" 2>"$out.err" || {
        cat "$out.err" >&2
        fail "memprof html $* exited $?"
    }
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    source "$(dirname "$0")/common.sh"
    need_browser
    printf 'not a snapshot' >"$WORK/bad.mprof"
    if (html "$WORK/bad.html" "$WORK/bad.mprof") 2>/dev/null; then
        fail "html accepts a memprof html that failed"
    fi
    [[ ! -e $WORK/bad.html ]] || fail "memprof html wrote a page for bad input"
    if (browser nosuchscenario) 2>/dev/null; then
        fail "browser accepts a scenario that failed"
    fi
    echo "html_lib self-test passed"
fi
