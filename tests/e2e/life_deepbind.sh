#!/usr/bin/env bash
# RTLD_DEEPBIND: a library whose malloc/free bind to libc directly, with
# blocks crossing between it and the profiled program both ways
# (tests/programs/life_deepbind.c). The program must run unaffected and its
# snapshot stay readable; whether the shim warns is up to it.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

REAL_ALLOW_WARNINGS=1
for sample in 1 4096; do
    REAL_ENV=(MEMPROF_SAMPLE=$sample MEMPROF_INTERVAL=1)
    real_run deep$sample 60 -- "$TEST_PROGS/life_deepbind" "$TEST_PROGS/liblife_deep.so"
    [[ $(wc -l <"$WORK/deep$sample.shim.out") -eq 1 ]] || fail "output: $(cat "$WORK/deep$sample.shim.out")"
    sed -n 's/^/  shim stderr: /p' "$WORK/deep$sample.shim.err" | head -3
done
echo "ok: RTLD_DEEPBIND library crossing the allocator boundary"
