#!/usr/bin/env bash
# Programs LD_PRELOAD cannot reach: a statically linked one and a setuid one
# (owned by another user). The shim cannot load into them, so the warning
# must come from `memprof run`: one `memprof:` line saying why nothing will
# be profiled, the program's output and status unchanged, no snapshot.
source "$(dirname "$0")/common.sh"

cat >"$WORK/hello.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
int main(void) { char *p = malloc(100); printf("hello %d\n", p != NULL); return 5; }
C
gcc -static -O1 -o "$WORK/static_hello" "$WORK/hello.c" || fail "cannot build a static program (libc6-dev?)"
gcc -O1 -o "$WORK/setuid_hello" "$WORK/hello.c" || fail "cannot build the setuid program"

# check NAME PROG WORD: memprof run PROG warns with WORD, status 5, no snapshot.
check() {
    local name=$1 prog=$2 word=$3 rc=0
    "$prog" >"$WORK/$name.plain" 2>&1 || rc=$?
    [[ $rc -eq 5 ]] || fail "$name: plain status $rc"
    rc=0
    timeout -k 5 30 "$MEMPROF_BIN" run -o "$WORK/$name.snaps" -- "$prog" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    [[ $rc -eq 5 ]] || fail "$name: memprof run exited $rc, expected the program's 5"
    cmp -s "$WORK/$name.plain" "$WORK/$name.out" || fail "$name: output differs under memprof run"
    grep '^memprof' "$WORK/$name.err" | grep -qi "$word" ||
        fail "$name: no memprof warning mentioning '$word': $(cat "$WORK/$name.err")"
    [[ $(grep -c '^memprof' "$WORK/$name.err") -eq 1 ]] || fail "$name: expected one warning line: $(cat "$WORK/$name.err")"
    [[ -z $(snapshots "$WORK/$name.snaps" 2>/dev/null) ]] || fail "$name: snapshots appeared for a program the shim cannot reach"
    echo "$name: $(cat "$WORK/$name.err")"
}
check static "$WORK/static_hello" 'statically linked'

if [[ $(id -u) -eq 0 ]] && id nobody >/dev/null 2>&1; then
    chown nobody "$WORK/setuid_hello"
    chmod 4755 "$WORK/setuid_hello"
    check setuid "$WORK/setuid_hello" 'setuid'
else
    # Not root: a set-id program of our own is not secure-execution; skip.
    echo "skip: setuid check needs root (to give the program another owner)"
fi
echo "ok: static and setuid programs get a warning from memprof run"
