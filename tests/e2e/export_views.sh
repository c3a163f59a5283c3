#!/usr/bin/env bash
# What a trial of the SVG flame graph and folded views found (issue 13),
# on export_views' planted shapes:
#  - empty: the exit snapshot of a program that freed everything gives a
#    well-formed SVG that says "No data" and whose script runs in chromium
#    without an error, Search included;
#  - differential: the +10 MiB grower is the reddest frame (not the new
#    64 KiB site), and the site that shrank to zero is drawn (class "gone");
#    the same SVG loads and searches in chromium, by name and by file:line;
#  - deep: 16 KiB under a 256-frame recursion beside 10 MiB folds into one
#    "(n small frames)" box, so the SVG stays a few rows tall; main's two
#    narrow callees, views_asmall and views_zsmall, on either side of the
#    wide views_wide by name, fold into one box that overlaps no frame
#    (check_svg checks every row);
#  - lines: --lines keeps the two allocating lines of one function apart in
#    folded output (and in the SVG), the default merges them.
#  - one value format: the search line and the tooltip write a frame's
#    bytes (diff) and wait time (lock_hot's locks graph) alike;
#  - every --what view names itself: its own title and, in the tooltips,
#    what its counts count (a view once read past a 3-entry title table).
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/export_lib.sh"
need_tool xmllint libxml2-utils
need_browser
browser() {
    timeout -k 5 90 node "$BROWSER_DIR/flame_svg.js" "$WORK" "$@" || fail "browser check of $1 failed (see above)"
}
PROG=$TEST_PROGS/export_views

# --- differential and empty
run_under_shim "$WORK/diff" MEMPROF_SAMPLE=1 -- "$PROG" diff
old=$(snapshot_of "$WORK/diff" 0001)
new=$(snapshot_of "$WORK/diff" 0002)
empty=$(snapshot_of "$WORK/diff" 0003)
"$MEMPROF_BIN" report "$empty" | grep -q 'no live heap' ||
    fail "the exit snapshot is not empty: $("$MEMPROF_BIN" report "$empty")"

mp /dev/null flame "$empty" -o "$WORK/empty.svg"
timeout 30 xmllint --noout --nonet "$WORK/empty.svg" || fail "empty.svg is not well-formed XML"
grep -q 'id="frames"' "$WORK/empty.svg" || fail "empty.svg has no #frames group"
grep -q '>No data: ' "$WORK/empty.svg" || fail "empty.svg does not say it has no data"
browser "$WORK/empty.svg" views_grower --shot "$WORK/empty.png"

mp /dev/null flame "$old" "$new" -o "$WORK/diff.svg"
check_svg "$WORK/diff.svg" --frame views_grower --frame views_newbie --frame views_vanish \
    --red views_grower --not-red views_vanish \
    --reddest views_grower --gone views_vanish
browser "$WORK/diff.svg" '^views_grower$' --hits 1 --same-value --shot "$WORK/diff.png"
browser "$WORK/diff.svg" 'export_views.c:[0-9]+' --hits 3

# --- deep: folded into one box, a bounded height
run_under_shim "$WORK/deep" MEMPROF_SAMPLE=1 MEMPROF_DEPTH=256 -- "$PROG" deep
deep=$(snapshot_of "$WORK/deep" 0001)
mp "$WORK/deep.folded" folded "$deep"
depth=$(awk '/views_deep/ {print gsub(/;views_deep/, "")}' "$WORK/deep.folded" | sort -n | tail -1)
[[ ${depth:-0} -ge 200 ]] || fail "the recursion was captured only ${depth:-0} deep (want >= 200)"
mp /dev/null flame "$deep" -o "$WORK/deep.svg"
# without folding it would be 64 + 36 + 16 * (depth + 5) px
check_svg "$WORK/deep.svg" --frame views_wide --fold --max-height 400
grep -q '<g class="f fold" data-n="(2 small frames)"' "$WORK/deep.svg" ||
    fail "deep.svg: views_asmall and views_zsmall are not folded into one (2 small frames) box"
browser "$WORK/deep.svg" views_wide --hits 1

# --- lines
run_under_shim "$WORK/lines" MEMPROF_SAMPLE=1 -- "$PROG" lines
lsnap=$(snapshot_of "$WORK/lines" 0001)
mp "$WORK/plain.folded" folded "$lsnap"
mp "$WORK/lines.folded" folded "$lsnap" --lines
n_plain=$(grep -c 'views_two_lines ' "$WORK/plain.folded" || true)
expect_eq "default folded lines ending in views_two_lines" "$n_plain" 1
mapfile -t at < <(grep -o 'views_two_lines (export_views.c:[0-9]*) [0-9]*$' "$WORK/lines.folded" | sort -u)
[[ ${#at[@]} -eq 2 ]] || fail "--lines: expected two lines of views_two_lines, got: ${at[*]:-none}"
[[ ${at[0]% *} != "${at[1]% *}" ]] || fail "--lines: both lines name the same place: ${at[*]}"
sizes=$(printf '%s\n' "${at[@]}" | awk '{print $NF}' | sort -n | tr '\n' ' ')
expect_eq "--lines values of the two lines" "$sizes" "1048576 3145728 "
mp /dev/null flame "$lsnap" --lines -o "$WORK/lines.svg"
check_svg "$WORK/lines.svg" --frame "${at[0]% *}" --frame "${at[1]% *}"
line=${at[1]##*:}; line=${line%%)*}
browser "$WORK/lines.svg" "export_views.c:$line" --hits 1

# --- one value format for times too
run_under_shim "$WORK/locks" -- "$TEST_PROGS/lock_hot"
mp /dev/null flame "$(snapshot_of "$WORK/locks" 0001)" --what locks -o "$WORK/locks.svg"
check_svg "$WORK/locks.svg" --frame worker_hot
browser "$WORK/locks.svg" '^worker_hot$' --hits 1 --same-value
# --- every view's title and count word (heap views of temporary_hotspot,
# lock views of lock_hot); the differential title too
run_under_shim "$WORK/temp" -- "$TEST_PROGS/temporary_hotspot"
tsnap=$(snapshot_of "$WORK/temp" 0001)
lsnap=$(snapshot_of "$WORK/locks" 0001)
view_names() {   # view snapshot title count-word
    mp /dev/null flame "$2" --what "$1" -o "$WORK/view-$1.svg"
    local title
    title=$(grep -o '<text id="title"[^>]*>[^<]*' "$WORK/view-$1.svg" | sed 's/.*>//')
    expect_eq "--what $1's title" "$title" "$3"
    grep -q "^[0-9.]* [KMG]\{0,1\}i\{0,1\}[Bms]*, [0-9]* $4 (100.00%)</title>" "$WORK/view-$1.svg" ||
        fail "--what $1: the root's tooltip does not count $4: $(grep -m1 -A1 '<title>all' "$WORK/view-$1.svg")"
}
view_names heap "$tsnap" "Live heap by allocation stack" objects
view_names alloc "$tsnap" "Cumulative allocations by stack" allocations
view_names peak "$tsnap" "Live heap at the peak by allocation stack" objects
view_names temporary "$tsnap" "Temporary allocations by stack" "temporary allocations"
view_names locks "$lsnap" "Lock wait time by waiting stack" contentions
view_names locks-holders "$lsnap" "Lock wait time by holding (unlocking) stack" contentions
mp /dev/null flame "$tsnap" "$tsnap" --what temporary -o "$WORK/view-diff.svg"
grep -q '<text id="title"[^>]*>Differential: Temporary allocations by stack<' "$WORK/view-diff.svg" ||
    fail "the differential temporary graph's title is wrong"
echo "export_views: ok"
