#!/usr/bin/env bash
# A program that exhausts memory under an address-space limit
# (tests/programs/life_oom.c): under the shim, with exact sampling and at the
# default rate, every failing call fails exactly as without it (NULL stays
# NULL, errno ENOMEM, realloc keeps the old block), the program recovers
# after freeing, and the exit snapshot holds no phantom block from a failed
# call. The shim may warn (it is short of memory too) but must not crash.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

REAL_ALLOW_WARNINGS=1
for sample in 1 524288; do
    REAL_ENV=(MEMPROF_SAMPLE=$sample MEMPROF_INTERVAL=1)
    real_run oom$sample 60 -- "$TEST_PROGS/life_oom"
    grep -q '^FAIL' "$WORK/oom$sample.shim.out" && { cat "$WORK/oom$sample.shim.out" >&2; fail "allocation failure semantics changed under the shim"; }
    [[ $(cat "$WORK/oom$sample.shim.rc") == 0 ]] || fail "life_oom exited $(cat "$WORK/oom$sample.shim.rc")"
    last=$(snapshots "$WORK/oom$sample.snaps" | grep '/life_oom\.' | tail -1)
    report_json "$last" "$last.json"
    live=$(jq_py "$last.json" 'd["total"]["bytes"]')
    [[ $live -lt 1048576 ]] || fail "oom$sample: $live bytes live at exit after freeing everything (failed calls recorded as live?)"
    echo "oom$sample: live at exit $live bytes; shim stderr: $(grep -c '^memprof:' "$WORK/oom$sample.shim.err") warning line(s)"
done
echo "ok: out of memory"
