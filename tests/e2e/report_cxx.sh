#!/usr/bin/env bash
# Text views that show the user's frame (tests/programs/report_cxx_frames.cpp):
# a std::vector's allocation reaches OrderBook::add within the default four
# frames once the standard library's allocator plumbing is folded away (and
# the output says so), C++ template arguments read "<>" in text while JSON
# keeps them, --frames N shows N frames (1 = the site line alone), --skip
# adds wrappers and "none" folds nothing, a bad --skip is a usage error,
# and an inlined lambda keeps the function it is in.
source "$(dirname "$0")/common.sh"
run_under_shim "$WORK/run" MEMPROF_SAMPLE=1 -- "$TEST_PROGS/report_cxx_frames"
mapfile -t files < <(snapshots "$WORK/run")
snap=${files[-1]}
want=$(sed -n 's/^LEAK vector bytes=\([0-9]*\)$/\1/p' "$WORK/run.out")
[[ -n $want ]] || fail "no LEAK vector line"

# rank1 FILE: the lines of the rank-1 site (its line and its callers).
rank1() {
    awk '/^ +1 +[0-9]+ /{on=1; print; next} on && /^ +<- /{print; next} on{exit}' "$1"
}

"$MEMPROF_BIN" report "$snap" --top 2 >"$WORK/default.txt" || fail "report exited $?"
rank1 "$WORK/default.txt" >"$WORK/default.rank1"
grep -q " $want .*std::vector<>::_M_realloc_insert<>(__gnu_cxx::__normal_iterator<>, Order&&)" \
    "$WORK/default.rank1" || fail "rank 1 is not the vector's growth, shortened: $(cat "$WORK/default.rank1")"
grep -q '<- OrderBook::add(long) (report_cxx_frames.cpp:' "$WORK/default.rank1" ||
    fail "OrderBook::add is not within the default 4 frames: $(cat "$WORK/default.rank1")"
[[ $(wc -l <"$WORK/default.rank1") -eq 4 ]] || fail "default is not 4 frames: $(cat "$WORK/default.rank1")"
! grep -q 'Order, std::allocator' "$WORK/default.txt" || fail "text keeps template arguments"
grep -q '^allocator wrappers folded away .*: std::__new_allocator<>::allocate, ' "$WORK/default.txt" ||
    fail "no line names the folded wrappers: $(tail -2 "$WORK/default.txt")"
grep -q ' build_index::{lambda}::operator() (report_cxx_frames.cpp:' "$WORK/default.txt" ||
    fail "the inlined lambda lost its function: $(grep -n 'operator()' "$WORK/default.txt")"
! grep -q '  operator() (' "$WORK/default.txt" || fail "a bare operator() is shown"

"$MEMPROF_BIN" report "$snap" --top 1 --skip none >"$WORK/none.txt"
rank1 "$WORK/none.txt" >"$WORK/none.rank1"
grep -q 'std::__new_allocator<>::allocate' "$WORK/none.rank1" || fail "--skip none still folds"
! grep -q 'OrderBook::add' "$WORK/none.rank1" || fail "OrderBook::add within 4 frames without folding?"
! grep -q '^allocator wrappers folded away' "$WORK/none.txt" || fail "--skip none says it folded"
"$MEMPROF_BIN" report "$snap" --top 1 --skip none --frames 7 >"$WORK/seven.txt"
rank1 "$WORK/seven.txt" >"$WORK/seven.rank1"
[[ $(wc -l <"$WORK/seven.rank1") -eq 7 ]] || fail "--frames 7 does not show 7: $(cat "$WORK/seven.rank1")"
grep -q '<- OrderBook::add(long)' "$WORK/seven.rank1" || fail "--frames 7 does not reach OrderBook::add"

"$MEMPROF_BIN" report "$snap" --top 0 --frames 1 >"$WORK/one.txt"
! grep -q '<- ' "$WORK/one.txt" || fail "--frames 1 shows callers"
"$MEMPROF_BIN" report "$snap" --top 1 --skip 'std::vector<.*>::(_M_realloc_insert|emplace_back|push_back)' \
    >"$WORK/user.txt"
rank1 "$WORK/user.txt" | head -1 | grep -q ' OrderBook::add(long) (report_cxx_frames.cpp:' ||
    fail "--skip REGEX does not fold to OrderBook::add: $(rank1 "$WORK/user.txt")"
"$MEMPROF_BIN" diff "$snap" "$snap" --frames 2 >/dev/null || fail "diff --frames exited $?"

rc=0
"$MEMPROF_BIN" report "$snap" --skip '(' >"$WORK/bad.out" 2>"$WORK/bad.err" || rc=$?
[[ $rc -eq 1 && ! -s $WORK/bad.out && $(wc -l <"$WORK/bad.err") -eq 1 ]] ||
    fail "a bad --skip: exit $rc, $(cat "$WORK/bad.err")"
grep -q '^memprof: ' "$WORK/bad.err" || fail "a bad --skip: no memprof: line"

# JSON keeps every frame and the full names.
"$MEMPROF_BIN" report "$snap" --json --top 1 >"$WORK/report.json"
python3 - "$WORK/report.json" <<'PY' || fail "JSON lost frames or names; see $WORK/report.json"
import json, sys
f = json.load(open(sys.argv[1]))["sites"][0]["frames"]
names = [x["function"] for x in f]
assert names[0].startswith("std::__new_allocator<Order>::allocate"), names[0]
assert any(n.startswith("OrderBook::add") for n in names), names
assert len(names) >= 7, names
PY
echo "C++ frames: shortened, folded and counted as asked"
