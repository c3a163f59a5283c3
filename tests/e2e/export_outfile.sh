#!/usr/bin/env bash
# What -o writes into keeps what it should: /dev/stdout and /dev/fd/N are
# the descriptors the shell set up (a `>> log` keeps its lines, the lines
# written before and after ours stay), a replaced file keeps its mode and
# group, and a file with other hard links stays one file with them.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/export_lib.sh"

run_under_shim "$WORK/heap" MEMPROF_SAMPLE=1 -- "$TEST_PROGS/leak_malloc"
snap=$(snapshot_of "$WORK/heap" 0002)

echo "an earlier line" >"$WORK/log"
"$MEMPROF_BIN" flame "$snap" -o /dev/stdout >>"$WORK/log" || fail "flame -o /dev/stdout >> log failed"
[[ $(head -1 "$WORK/log") == "an earlier line" ]] || fail ">> log lost its earlier line"
grep -q '</svg>' "$WORK/log" || fail ">> log: no whole SVG appended"

{ echo header; "$MEMPROF_BIN" pprof "$snap" -o /dev/stdout; echo footer; } >"$WORK/framed" ||
    fail "pprof -o /dev/stdout inside a redirection failed"
[[ $(head -c 7 "$WORK/framed") == header && $(tail -c 7 "$WORK/framed") == footer ]] ||
    fail "the lines around pprof -o /dev/stdout were lost"

{ "$MEMPROF_BIN" html "$snap" -o /dev/fd/3; } 3>"$WORK/fd3.html" || fail "html -o /dev/fd/3 failed"
grep -q '</html>' "$WORK/fd3.html" || fail "html -o /dev/fd/3 wrote no page"
echo "/dev/stdout and /dev/fd/3 written through the shell's descriptors"

# mode and group kept, hard links kept together
head -c 100 /dev/urandom >"$WORK/out.svg"
chmod 0640 "$WORK/out.svg"
grp=$(id -gn)
if [[ $(id -u) -eq 0 ]] && getent group daemon >/dev/null; then
    grp=daemon
    chgrp daemon "$WORK/out.svg"
fi
"$MEMPROF_BIN" flame "$snap" -o "$WORK/out.svg" || fail "flame -o out.svg failed"
[[ $(stat -c '%a %G' "$WORK/out.svg") == "640 $grp" ]] ||
    fail "out.svg is $(stat -c '%a %G' "$WORK/out.svg") after the write, was 640 $grp"
head -c 100 /dev/urandom >"$WORK/linked.svg"
ln "$WORK/linked.svg" "$WORK/other-name.svg"
"$MEMPROF_BIN" flame "$snap" -o "$WORK/linked.svg" || fail "flame -o linked.svg failed"
[[ $(stat -c %h "$WORK/linked.svg") -eq 2 ]] && cmp -s "$WORK/linked.svg" "$WORK/other-name.svg" ||
    fail "the hard links of linked.svg came apart"
grep -q '</svg>' "$WORK/other-name.svg" || fail "the other link does not see the new SVG"
echo "ok: mode $(stat -c %a "$WORK/out.svg"), group $grp and hard links kept"
