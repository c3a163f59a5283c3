#!/usr/bin/env bash
# The lock hooks return what glibc returns (tests/programs/lock_semantics.c):
# EDEADLK, EPERM, EBUSY, ETIMEDOUT, EOWNERDEAD and recursive holds, the same
# lines with and without the shim, at the default rate and with every lock
# acquisition on the slow path's trylock (a contended lock is then tracked).
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

for sample in 1 524288; do
    REAL_ENV=(MEMPROF_SAMPLE=$sample MEMPROF_INTERVAL=0)
    real_run sem$sample 30 -- "$TEST_PROGS/lock_semantics"
done
grep -Eqx 'errorcheck relock +EDEADLK' "$WORK/sem1.plain.out" ||
    fail "the program itself did not see EDEADLK: $(head -3 "$WORK/sem1.plain.out")"
grep -Eqx 'robust lock, owner died +EOWNERDEAD' "$WORK/sem1.shim.out" ||
    fail "EOWNERDEAD lost under the shim"
# The contended acquisitions were seen as contention.
last=$(snapshots "$WORK/sem1.snaps" | grep '/lock_semantics\.' | tail -1)
"$MEMPROF_BIN" locks --json "$last" >"$WORK/locks.json" || fail "memprof locks failed on $last"
python3 - "$WORK/locks.json" <<'PY' || fail "the contended mutex and spinlock are not both in memprof locks"
import json, sys
d = json.load(open(sys.argv[1]))
kinds = {l["kind"] for l in d["locks"]}
sys.exit(0 if {"mutex", "spinlock"} <= kinds else 1)
PY
echo "ok: lock semantics"
