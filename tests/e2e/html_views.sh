#!/usr/bin/env bash
# `memprof html` pages of large, deep and line-level trees in a real browser
# (Debian's chromium through playwright-core, tests/browser/html_report.js),
# split from html_report.sh to keep each under the test timeout:
#  - big: html_manystacks' 100,000 distinct stacks make a page under 1 MiB
#    (unpruned it was 36 MB): its trees keep the frames of at least 0.1% of
#    the total, each caller's smaller callees one "(n small frames)" node
#    that adds up their values; the browser zooms down to one, which says
#    what was left out and does not zoom;
#  - deep: export_views' 256-frame recursion of slivers beside 10 MiB keeps
#    the page's graphs a few rows tall (unfolded, 4,700 px);
#  - lines: `memprof html --lines` draws one frame per function and line,
#    and search by file:line finds exactly the bytes allocated there;
# Screenshots go to $WORK.
source "$(dirname "$0")/common.sh"

need_browser

source "$E2E_DIR/html_lib.sh"

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

echo "html_views: ok (screenshots in $WORK)"
