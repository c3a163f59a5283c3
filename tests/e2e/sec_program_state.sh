#!/usr/bin/env bash
# Issue 11 item 10, the shim's side of what the program does to it:
#  - a program that installs its own handler for MEMPROF_SIGNAL (the JVM
#    takes SIGUSR2) gets one `memprof:` line when it does, not silence;
#    another signal, or no MEMPROF_SIGNAL, says nothing;
#  - a foreign allocator (jemalloc linked into the executable) is recorded
#    in the snapshot: `report --json` has "malloc_provider" (null for
#    libc's malloc) and the text says "malloc is provided by X: nothing was
#    profiled".
source "$(dirname "$0")/common.sh"

# takes SIG WATCH: perl installs a handler for SIG under MEMPROF_SIGNAL=WATCH;
# stderr in $WORK/takes.err, read while the program still runs.
takes() {
    local -a sig=()
    [[ -n $2 ]] && sig=(MEMPROF_SIGNAL="$2")
    env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$WORK/snaps" MEMPROF_INTERVAL=0 "${sig[@]}" \
        perl -e '$SIG{'"$1"'} = sub { }; sleep 2' 2>"$WORK/takes.err" &
    local pid=$!
    sleep 1
    cp "$WORK/takes.err" "$WORK/takes.early"
    wait $pid
}
takes USR2 USR2
[[ $(grep -c '^memprof:' "$WORK/takes.early") -eq 1 ]] &&
    grep -q '^memprof: the program installs its own handler for SIGUSR2 (MEMPROF_SIGNAL)' "$WORK/takes.early" ||
    fail "taking MEMPROF_SIGNAL: expected one line at the time: $(cat "$WORK/takes.err")"
echo "USR2 taken: $(cat "$WORK/takes.early")"
takes USR1 USR2
[[ ! -s $WORK/takes.err ]] || fail "another signal warned: $(cat "$WORK/takes.err")"
takes USR2 ""
[[ ! -s $WORK/takes.err ]] || fail "no MEMPROF_SIGNAL, yet warned: $(cat "$WORK/takes.err")"

cat >"$WORK/je.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void *volatile sink;
int main(void)
{
    for (int i = 0; i < 10; i++) sink = memset(malloc(3000), 1, 3000);
    puts("own allocator");
    return 0;
}
C
jepic=/usr/lib/x86_64-linux-gnu/libjemalloc_pic.a
[[ -f $jepic ]] || fail "no $jepic (run scripts/setup: libjemalloc-dev)"
gcc -O1 -o "$WORK/je_static" "$WORK/je.c" "$jepic" -lpthread -ldl -lm -lstdc++ ||
    fail "cannot link jemalloc statically"
gcc -O1 -o "$WORK/libc_malloc" "$WORK/je.c" || fail "cannot build the libc program"
for prog in je_static libc_malloc; do
    mkdir -p "$WORK/$prog.snaps"
    env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$WORK/$prog.snaps" MEMPROF_INTERVAL=0 "$WORK/$prog" \
        >/dev/null 2>"$WORK/$prog.err"
    f=$(snapshots "$WORK/$prog.snaps")
    [[ -n $f ]] || fail "$prog: no snapshot"
    "$MEMPROF_BIN" report --json "$f" >"$WORK/$prog.json"
    "$MEMPROF_BIN" report "$f" >"$WORK/$prog.txt"
done
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["malloc_provider"] and d["malloc_provider"].endswith("je_static") else "malloc_provider=%r" % d.get("malloc_provider"))' \
    "$WORK/je_static.json" || fail "je_static: the foreign allocator is not recorded"
grep -q '^malloc is provided by .*je_static: nothing was profiled$' "$WORK/je_static.txt" ||
    fail "je_static: report does not say who provides malloc: $(head -5 "$WORK/je_static.txt")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if "malloc_provider" in d and d["malloc_provider"] is None else "malloc_provider=%r" % d.get("malloc_provider", "absent"))' \
    "$WORK/libc_malloc.json" || fail "libc_malloc: malloc_provider should be null"
! grep -q 'malloc is provided' "$WORK/libc_malloc.txt" || fail "libc_malloc: a provider line for libc's malloc"
echo "je_static: $(grep 'malloc is provided' "$WORK/je_static.txt")"
echo "ok: a taken snapshot signal is said, a foreign allocator recorded"
