#!/usr/bin/env bash
# `memprof html` in a real browser (Debian's chromium through playwright-core,
# tests/browser): pages built from real snapshots are opened from file://
# URLs at 1280x800 and 390x844 and must load without a console error, page
# error or network request, and without widening the page body.
#  - leak: html_growth's five snapshots; the chart marks them, every flame
#    graph names the culprit, a click zooms, search by name and by file:line
#    reports the culprit's share (in the tooltip's units), growth rank 1 is
#    the culprit with its error bar and grew-in-every-interval mark and
#    expands to its stack with file:line, the lock expands to its waiters;
#  - empty: html_freeall's exit snapshot holds no live heap: the heap graph
#    says "no data", the differential graph still draws what vanished;
#  - hostile: a function symbol and an argv[0] made of markup are shown as
#    text and nothing runs;
#  - model: a page whose data is hand-built (tests/browser/model.js) shows
#    the parts real snapshots cannot feed yet: series, RSS, recorded peak
#    and its tree, lock percentiles, folding of tiny frames.
# Screenshots go to $WORK.
source "$(dirname "$0")/common.sh"

need_browser

source "$E2E_DIR/html_lib.sh"

# leak: five snapshots of a leak growing in steps, and lock contention
run_under_shim "$WORK/growth" -- "$TEST_PROGS/html_growth"
mapfile -t files < <(snapshots "$WORK/growth")
[[ ${#files[@]} -eq 5 ]] || fail "html_growth wrote ${#files[@]} snapshots, expected 5"
html "$WORK/growth.html" "${files[@]}"
grep -q 'src=\|href="http\|url(' "$WORK/growth.html" && fail "the page refers to something outside itself"
browser leak "$WORK/growth.html" "$WORK" html_leaky_cache html_contend 5

# empty: the exit snapshot of a program that freed everything
run_under_shim "$WORK/freeall" MEMPROF_SAMPLE=1 -- "$TEST_PROGS/html_freeall"
mapfile -t files < <(snapshots "$WORK/freeall")
[[ ${#files[@]} -eq 2 ]] || fail "html_freeall wrote ${#files[@]} snapshots, expected 2"
"$MEMPROF_BIN" report "${files[1]}" | grep -q 'no live heap' ||
    fail "html_freeall's exit snapshot is not empty: $("$MEMPROF_BIN" report "${files[1]}")"
html "$WORK/freeall.html" "${files[@]}"
html "$WORK/freeall-one.html" "${files[1]}"
# nothing allocated at all: a peak of 0 B is reached at the start, not at
# time 0 of the epoch (report, JSON and page agree)
run_under_shim "$WORK/none" -- /bin/true
none=$(snapshots "$WORK/none")
"$MEMPROF_BIN" report "$none" | grep -q '^peak heap: 0 B (nothing sampled was live since start); ' ||
    fail "nothing allocated: $("$MEMPROF_BIN" report "$none" | grep '^peak')"
"$MEMPROF_BIN" report "$none" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["peak"]["bytes"] == 0 and 0 <= d["time_ns"] - d["peak"]["time_ns"] < 60e9, d' ||
    fail "nothing allocated: the JSON peak is not at the start"
html "$WORK/none.html" "$none"
browser empty "$WORK/freeall.html" "$WORK/freeall-one.html" "$WORK" html_temporary "$WORK/none.html"

# procs: html_freeall twice, four files of two processes on one page
run_under_shim "$WORK/procs" MEMPROF_SAMPLE=1 -- "$TEST_PROGS/html_freeall"
run_under_shim "$WORK/procs" MEMPROF_SAMPLE=1 -- "$TEST_PROGS/html_freeall"
mapfile -t files < <(snapshots "$WORK/procs")
[[ ${#files[@]} -eq 4 ]] || fail "two runs of html_freeall wrote ${#files[@]} snapshots, expected 4"
mapfile -t pids < <(printf '%s\n' "${files[@]}" | sed 's/.*\.\([0-9]*\)\.[0-9]*\.mprof$/\1/' | sort -un)
[[ ${#pids[@]} -eq 2 ]] || fail "expected two pids among ${files[*]}"
html "$WORK/procs.html" "${files[@]}"
browser procs "$WORK/procs.html" "$WORK" "${pids[0]}" "${pids[1]}"

# hostile: markup in a function symbol and in argv[0]; bash is not preloaded,
# only the program it execs under that name
symbol='</script><img src=x onerror=window.__pwned=1><!--<script>'
argv0='x</script><img src=x onerror=window.__pwned=2><script>window.__pwned=3</script>&amp;'
mkdir -p "$WORK/hostile"
timeout -k 5 60 bash -c 'export LD_PRELOAD=$1 MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=0 MEMPROF_OUT=$2
    exec -a "$3" "$4"' _ "$MEMPROF_SHIM" "$WORK/hostile" "$argv0" "$TEST_PROGS/html_hostile" ||
    fail "html_hostile exited $?"
mapfile -t files < <(snapshots "$WORK/hostile")
[[ ${#files[@]} -eq 1 ]] || fail "html_hostile wrote ${#files[@]} snapshots, expected 1"
html "$WORK/hostile.html" "${files[0]}"
grep -qF '</script><img' "$WORK/hostile.html" && fail "markup from the snapshot is in the page unescaped"
browser hostile "$WORK/hostile.html" "$WORK" "$symbol" "$argv0"

# the command line: a usage error is exit 1 with one line, and writes nothing
for args in "" "--top" "--top x ${files[0]}" "--bogus ${files[0]}" "${files[0]} -o"; do
    rc=0
    # shellcheck disable=SC2086
    "$MEMPROF_BIN" html $args >"$WORK/usage.out" 2>"$WORK/usage.err" || rc=$?
    [[ $rc -eq 1 && $(wc -l <"$WORK/usage.err") -eq 1 && ! -s $WORK/usage.out ]] ||
        fail "memprof html $args: exit $rc, stderr: $(cat "$WORK/usage.err")"
done
# without -o the page goes to standard output, the same bytes
"$MEMPROF_BIN" html "${files[0]}" >"$WORK/stdout.html" || fail "memprof html to stdout exited $?"
cmp -s "$WORK/stdout.html" "$WORK/hostile.html" || fail "memprof html to stdout differs from -o"

# model: the same page with hand-built data
browser model "$WORK/growth.html" "$WORK"
echo "html_report: ok (screenshots in $WORK)"
