#!/usr/bin/env bash
# A snapshot names its module files, so whoever wrote it picks the
# directories the symbolizer searches for a module's separate debug file
# (.gnu_debuglink: beside the module, in its .debug/, under
# /usr/lib/debug). elfutils' standard search opened those candidates with
# a plain open(): a FIFO planted as "libevil.debug" beside a module hung
# `memprof report` for good. Now the real debug file is still found
# (file:line from it, beside the module and in .debug/, with a build ID
# and, without one, by the debuglink CRC; a stale one is not taken), and a
# FIFO, a device, junk or a huge sparse file in its place costs nothing: every analyzer
# command finishes within 10 s with status 0 and the function still named
# from the module's own symbols.
source "$(dirname "$0")/common.sh"
for t in gcc objcopy; do command -v $t >/dev/null || fail "no $t (scripts/setup build)"; done
D=$WORK/evil
rm -rf "$D"
mkdir -p "$D"
cat >"$D/lib.c" <<'C'
#include <stdlib.h>
void *evil_alloc(size_t n)
{
    return malloc(n);
}
C
cat >"$D/main.c" <<'C'
#include <stdlib.h>
#include <string.h>
void *evil_alloc(size_t n);
int main(void)
{
    for (int i = 0; i < 100; i++)
        memset(evil_alloc(100000), 1, 100);
    return 0;
}
C

# build [LDFLAGS...]: libevil.so stripped of its DWARF, which goes to
# libevil.debug beside it (linked by .gnu_debuglink); main linked to it;
# a snapshot of main in $D/snaps.
build() {
    (cd "$D" && gcc -g -shared -fPIC "$@" -o libevil.so lib.c &&
        objcopy --only-keep-debug libevil.so libevil.debug &&
        objcopy --strip-debug libevil.so &&
        objcopy --add-gnu-debuglink=libevil.debug libevil.so &&
        gcc -o main main.c -L. -levil -Wl,-rpath,"$D") || fail "building the test library failed"
    rm -rf "$D/snaps"
    LD_PRELOAD=$MEMPROF_SHIM MEMPROF_OUT=$D/snaps MEMPROF_SAMPLE=1 "$D/main" || fail "main failed under the shim"
    snap=$(snapshots "$D/snaps" | tail -1)
}

# top: the top site's frame as report prints it, within 10 s.
top() {
    local rc=0
    timeout -k 2 10 "$MEMPROF_BIN" report "$snap" --top 1 >"$WORK/top.txt" 2>&1 || rc=$?
    [[ $rc -ne 124 && $rc -ne 137 ]] || fail "memprof report hung (debug files: $(ls -la "$D" "$D/.debug" 2>&1 | grep debug))"
    [[ $rc -eq 0 ]] || fail "memprof report exited $rc: $(cat "$WORK/top.txt")"
    sed -n '/^ rank /{n;p;q}' "$WORK/top.txt" | sed -E 's/.* ([^ ]+ \([^)]*\))$/\1/'
}

build
[[ $(top) == "evil_alloc (lib.c:4)" ]] || fail "the debug file beside the module was not used: $(top)"
mkdir "$D/.debug"
mv "$D/libevil.debug" "$D/.debug/"
[[ $(top) == "evil_alloc (lib.c:4)" ]] || fail "the debug file in .debug/ was not used: $(top)"
echo junk >"$D/libevil.debug"
[[ $(top) == "evil_alloc (lib.c:4)" ]] || fail "junk beside the module hid .debug/'s file: $(top)"
rm "$D/libevil.debug" "$D/.debug/libevil.debug"
mkfifo "$D/libevil.debug" "$D/.debug/libevil.debug"
[[ $(top) == "evil_alloc (libevil.so+0x"* ]] || fail "with FIFOs as debug files: $(top)"
for cmd in "report $snap --json" "diff $snap $snap" "locks $snap" "flame $snap -o $WORK/o.svg" \
    "folded $snap" "pprof $snap -o $WORK/o.pb.gz" "html $snap -o $WORK/o.html"; do
    rc=0
    timeout -k 2 10 "$MEMPROF_BIN" $cmd >"$WORK/cmd.out" 2>&1 || rc=$?
    [[ $rc -eq 0 ]] || fail "memprof $cmd with FIFOs as debug files: status $rc (124: hung): $(head -3 "$WORK/cmd.out")"
done
rm "$D/libevil.debug"
ln -s /dev/zero "$D/libevil.debug"
[[ $(top) == "evil_alloc (libevil.so+0x"* ]] || fail "with /dev/zero as the debug file: $(top)"

# No build ID: the debuglink's CRC decides.
rm -rf "$D/libevil.debug" "$D/.debug"
build -Wl,--build-id=none
[[ $(top) == "evil_alloc (lib.c:4)" ]] || fail "the debug file of a module without a build ID was not used: $(top)"
echo stale >>"$D/libevil.debug"
[[ $(top) == "evil_alloc (libevil.so+0x"* ]] || fail "a debug file with the wrong CRC was used: $(top)"
# Without a build ID each candidate is read whole for its CRC: a huge
# sparse file planted there (20 GB: 38 s each time) is not read at all.
rm "$D/libevil.debug"
truncate -s 20G "$D/libevil.debug"
t0=$(date +%s%N)
[[ $(top) == "evil_alloc (libevil.so+0x"* ]] || fail "with a 20 GB sparse debug file: $(top)"
ms=$((($(date +%s%N) - t0) / 1000000))
((ms < 3000)) || fail "a 20 GB sparse debug file cost the report $ms ms"
echo "ok: separate debug files found beside and in .debug/, FIFOs, devices, stale and huge sparse files skipped"

# A stripped program with no debug file: its frames have no names, and
# the report says which module lacks symbols and how to get them; the
# same program unstripped gets no such note.
cp "$TEST_PROGS/leak_malloc" "$D/leak_stripped"
strip "$D/leak_stripped"
for prog in leak_malloc leak_stripped; do
    path=$TEST_PROGS/leak_malloc
    [[ $prog == leak_stripped ]] && path=$D/leak_stripped
    rm -rf "$D/snaps-$prog"
    env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$D/snaps-$prog" MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=0 MEMPROF_SIGNAL=USR2 \
        "$path" >/dev/null 2>&1 || fail "$prog failed under the shim"
    "$MEMPROF_BIN" report "$(snapshots "$D/snaps-$prog" | tail -1)" >"$D/$prog.report" ||
        fail "report of $prog failed"
done
grep -q '^note: frames without a function name are in leak_stripped: .*-dbgsym' "$D/leak_stripped.report" ||
    fail "the stripped program's report does not say it lacks symbols: $(tail -3 "$D/leak_stripped.report")"
! grep -q '^note: frames without a function name' "$D/leak_malloc.report" ||
    fail "the unstripped program's report says frames lack names: $(grep '^note' "$D/leak_malloc.report")"
echo "stripped: $(grep '^note: frames without' "$D/leak_stripped.report")"
