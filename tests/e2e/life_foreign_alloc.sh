#!/usr/bin/env bash
# A program that brings its own allocator: jemalloc linked statically into
# the executable (its malloc wins over the shim's: the shim sees nothing).
# The shim must say so with a `memprof:` line whether started by LD_PRELOAD
# or `memprof run`, and the program must run unchanged. Linked dynamically
# (-ljemalloc) the shim's malloc comes first and forwards to jemalloc: there
# either the profile is right (exact leak found) or the shim warns.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

cat >"$WORK/je.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void *volatile sink;
__attribute__((noinline)) void je_leak(void)
{
    for (int i = 0; i < 10; i++) {
        char *p = malloc(3000);
        memset(p, 1, 3000);
        sink = p;
    }
}
int main(void)
{
    je_leak();
    char *s = strdup("own allocator");
    printf("%s\n", s);
    free(s);
    return 0;
}
C
jepic=/usr/lib/x86_64-linux-gnu/libjemalloc_pic.a
[[ -f $jepic ]] || fail "no $jepic (run scripts/setup: libjemalloc-dev)"
gcc -O1 -g -fno-omit-frame-pointer -o "$WORK/je_static" "$WORK/je.c" "$jepic" -lpthread -ldl -lm -lstdc++ ||
    fail "cannot link jemalloc statically"
gcc -O1 -g -fno-omit-frame-pointer -o "$WORK/je_dynamic" "$WORK/je.c" -ljemalloc || fail "cannot link -ljemalloc"

REAL_ALLOW_WARNINGS=1
REAL_ENV=(MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=0)
real_run je_static 30 -- "$WORK/je_static"
grep -q '^memprof:.*malloc' "$WORK/je_static.shim.err" ||
    fail "jemalloc linked in: no memprof warning under LD_PRELOAD: $(cat "$WORK/je_static.shim.err")"
rc=0
timeout -k 5 30 "$MEMPROF_BIN" run -o "$WORK/je_run" -- "$WORK/je_static" >"$WORK/je_run.out" 2>"$WORK/je_run.err" || rc=$?
[[ $rc -eq 0 ]] || fail "memprof run je_static exited $rc"
cmp -s "$WORK/je_run.out" "$WORK/je_static.plain.out" || fail "memprof run je_static: output differs"
grep -q '^memprof:.*malloc' "$WORK/je_run.err" || fail "jemalloc linked in: no warning under memprof run: $(cat "$WORK/je_run.err")"
echo "static jemalloc: $(grep '^memprof' "$WORK/je_run.err" | head -1)"

real_run je_dynamic 30 -- "$WORK/je_dynamic"
if ! grep -q '^memprof:' "$WORK/je_dynamic.shim.err"; then
    last=$(snapshots "$WORK/je_dynamic.snaps" | grep '/je_dynamic\.' | tail -1)
    report_json "$last" "$last.json"
    got=$(jq_py "$last.json" 'inner("je_leak")')
    [[ $got == "30000 10" ]] || fail "dynamic jemalloc, no warning, but je_leak holds '$got', expected '30000 10'"
    echo "dynamic jemalloc: profiled through the shim, je_leak exact"
else
    echo "dynamic jemalloc: warned: $(grep '^memprof' "$WORK/je_dynamic.shim.err" | head -1)"
fi
echo "ok: programs with their own allocator"
