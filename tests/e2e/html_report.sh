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
#  - big: html_manystacks' 100,000 distinct stacks make a page under 1 MiB
#    (unpruned it was 36 MB): its trees keep the frames of at least 0.1% of
#    the total, each caller's smaller callees one "(n small frames)" node
#    that adds up their values; the browser zooms down to one, which says
#    what was left out and does not zoom;
#  - deep: export_views' 256-frame recursion of slivers beside 10 MiB keeps
#    the page's graphs a few rows tall (unfolded, 4,700 px);
#  - lines: `memprof html --lines` draws one frame per function and line,
#    and search by file:line finds exactly the bytes allocated there;
#  - model: a page whose data is hand-built (tests/browser/model.js) shows
#    the parts real snapshots cannot feed yet: series, RSS, recorded peak
#    and its tree, lock percentiles, folding of tiny frames.
# Screenshots go to $WORK.
source "$(dirname "$0")/common.sh"

need_browser

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
browser empty "$WORK/freeall.html" "$WORK/freeall-one.html" "$WORK" html_temporary

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

# big: 100k stacks, pruned trees
run_under_shim "$WORK/many" MEMPROF_SAMPLE=1 -- "$TEST_PROGS/html_manystacks"
mapfile -t files < <(snapshots "$WORK/many")
many=${files[0]}
n_stacks=$("$MEMPROF_BIN" folded "$many" | wc -l)
[[ $n_stacks -ge 100000 ]] || fail "html_manystacks' snapshot holds $n_stacks stacks, expected 100000 or more"
html "$WORK/many.html" "$many"
size=$(stat -c %s "$WORK/many.html")
[[ $size -le 1048576 ]] || fail "the page of $n_stacks stacks is $size bytes, more than 1 MiB"
total=$("$MEMPROF_BIN" report "$many" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["total"]["bytes"])')
python3 - "$WORK/many.html" "$total" <<'EOF' || fail "the pruned heap tree does not add up, see above"
import json, re, sys
page, total = open(sys.argv[1]).read(), int(sys.argv[2])
d = json.loads(re.search(r'id="memprof-data">(.*?)</script>', page, re.S).group(1))
t = d["flames"]["heap"]
nodes, least = t["nodes"], t["pruned"]["min_share"] * total
kids = {}
for i, n in enumerate(nodes[1:], 1):
    kids.setdefault(n[0], []).append(i)
errs = []
if nodes[0][4] != total:
    errs.append("root value %d, report total %d" % (nodes[0][4], total))
for p, ks in kids.items():
    if sum(nodes[k][4] for k in ks) > nodes[p][4]:
        errs.append("the callees of node %d add up to more than it holds" % p)
    folds = [k for k in ks if len(nodes[k]) > 7]
    if len(folds) > 1 or (folds and folds[0] != ks[-1]):
        errs.append("node %d: its fold node is not one, last among its callees" % p)
    for k in ks:
        if len(nodes[k]) == 7 and nodes[k][4] < least:
            errs.append("node %d: value %d kept, under the minimum share" % (k, nodes[k][4]))
        if len(nodes[k]) > 7 and nodes[k][7] < 1:
            errs.append("node %d: a fold node of %d frames" % (k, nodes[k][7]))
folds = [n for n in nodes if len(n) > 7]
if not folds or min(n[4] for n in folds) <= 0 or t["pruned"]["frames"] < 100000:
    errs.append("fold nodes missing or empty, or too few frames left out: %d folds, %s"
                % (len(folds), t["pruned"]))
if errs:
    print("\n".join(errs), file=sys.stderr)
    sys.exit(1)
print("big page: %d bytes, %d nodes (%d fold nodes), %d frames left out" %
      (len(page), len(nodes), len(folds), t["pruned"]["frames"]))
EOF
browser big "$WORK/many.html" "$WORK" ms_culprit ms_a

# deep: slivers folded
run_under_shim "$WORK/deep" MEMPROF_SAMPLE=1 MEMPROF_DEPTH=256 -- "$TEST_PROGS/export_views" deep
mapfile -t files < <(snapshots "$WORK/deep")
html "$WORK/deep.html" "${files[0]}"
browser deep "$WORK/deep.html" "$WORK" views_wide 360

# lines: one frame per function and line, search by file:line
run_under_shim "$WORK/lines" MEMPROF_SAMPLE=1 -- "$TEST_PROGS/export_views" lines
mapfile -t files < <(snapshots "$WORK/lines")
html "$WORK/lines.html" --lines "${files[0]}"
html "$WORK/func.html" "${files[0]}"
src=$E2E_DIR/../programs/export_views.c
small=$(grep -n '^    \*a = malloc(1 \* MIB);$' "$src" | cut -d: -f1)
big=$(grep -n '^    \*b = malloc(3 \* MIB);$' "$src" | cut -d: -f1)
[[ -n $small && -n $big ]] || fail "no malloc lines of views_two_lines in $src"
browser lines "$WORK/lines.html" "$WORK/func.html" "$WORK" views_two_lines export_views.c "$small" "$big" $((3 << 20))

# model: the same page with hand-built data
browser model "$WORK/growth.html" "$WORK"
echo "html_report: ok (screenshots in $WORK)"
