#!/usr/bin/env bash
# Symbol names are untrusted too: a function whose ELF and DWARF name
# carries terminal escapes (tests/programs/term_hostile.c: an OSC that
# retitles the terminal, a CSI that clears it or colours it, C1's CSI in
# UTF-8) is named in report, diff and locks text with those bytes shown as
# \xNN, never raw, and folded stacks keep one stack per line. So is a
# file name in an error line.
source "$(dirname "$0")/common.sh"

run_under_shim "$WORK/run" MEMPROF_SAMPLE=1 -- "$TEST_PROGS/term_hostile"
mapfile -t files < <(snapshots "$WORK/run")
[[ ${#files[@]} -eq 2 ]] || fail "expected the signal and the exit snapshots, found ${#files[@]}"
old=${files[0]} new=${files[1]}

# checked NAME WANT CMD...: CMD's output names WANT (escaped) and holds
# no control character but newline.
checked() {
    local name=$1 want=$2
    shift 2
    local rc=0
    "$MEMPROF_BIN" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    [[ $rc -eq 0 ]] || fail "$name: memprof $* exited $rc: $(cat "$WORK/$name.err")"
    grep -qF -- "$want" "$WORK/$name.out" || fail "$name: no '$want' in: $(head -c 2000 "$WORK/$name.out")"
    ! LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$WORK/$name.out" "$WORK/$name.err" ||
        fail "$name: a raw control character reached the output"
    ! grep -q $'\xc2\x9b' "$WORK/$name.out" || fail "$name: a raw C1 CSI reached the output"
    echo "$name: $(grep -m1 -F -- "$want" "$WORK/$name.out" | sed 's/^ *//')"
}
leak='leak\x1b]0;pwned\x07\x1b[2J\xc2\x9bsite'
lock='lock\x1b[31mred\x1b[0msite'
checked report "$leak" report "$new"
checked diff "$leak" diff "$old" "$new"
checked locks "$lock" locks "$new"

"$MEMPROF_BIN" folded "$new" >"$WORK/folded" || fail "folded failed"
grep -q 'leak.*site [0-9]*$' "$WORK/folded" || fail "folded: the hostile leak's stack is not one line"
awk '!/ [0-9]+$/ {bad = 1} END {exit bad}' "$WORK/folded" || fail "folded: a line without its value"
# A file planted in a shared directory under a name full of escapes,
# picked up by a glob: the error line names it escaped.
planted=$WORK/$'evil\x1b]0;pwned\x07\x1b[2J.mprof'
printf 'not a snapshot' >"$planted"
rc=0
"$MEMPROF_BIN" report "$planted" >/dev/null 2>"$WORK/planted.err" || rc=$?
[[ $rc -eq 2 ]] || fail "planted file: exit $rc, expected 2"
! LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$WORK/planted.err" ||
    fail "planted file: a raw control character in the error line"
grep -qF 'evil\x1b]0;pwned\x07\x1b[2J.mprof' "$WORK/planted.err" ||
    fail "planted file: the error does not name the file escaped: $(cat -v "$WORK/planted.err")"
echo "planted: $(cat "$WORK/planted.err")"
echo "ok: hostile symbol and file names escaped in every text output"
