#!/usr/bin/env bash
# The fast unwinder against libunwind on real programs. MEMPROF_UNWIND_CHECK=1
# (a debugging mode, not part of the contract) has the shim take every
# sampled stack twice, with the fast walk and with libunwind, and count the
# stacks that differ in counters.unwind_mismatches (and print the first
# few: real_run fails on any memprof: line). python3 (threads), sqlite3,
# sort --parallel and gcc must have none, while unwinding thousands of
# stacks. The counter itself is checked on unwind_smash, whose smashed
# return addresses the two unwinders follow differently.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

REAL_ENV=(MEMPROF_SAMPLE=2048 MEMPROF_INTERVAL=1 MEMPROF_UNWIND_CHECK=1)

# counters NAME: "samples failures mismatches" summed over NAME's processes
# (the last snapshot of each holds its totals).
counters() {
    local f
    for f in $(find "$WORK/$1.snaps" -name '*.mprof' ! -name '.*' | sort); do
        "$MEMPROF_BIN" report --json "$f" >"$f.json" || fail "memprof report $f exited $?"
    done
    python3 - "$WORK/$1.snaps" <<'PY'
import glob, json, sys
last = {}
for f in sorted(glob.glob(sys.argv[1] + "/*.mprof.json")):
    d = json.load(open(f))
    if d["pid"] not in last or d["seq"] > last[d["pid"]][0]:
        last[d["pid"]] = (d["seq"], d["counters"])
c = [v[1] for v in last.values()]
print(sum(x["samples"] for x in c), sum(x["unwind_failures"] for x in c),
      sum(x["unwind_mismatches"] for x in c))
PY
}

expect_equal_stacks() {
    local name=$1 min=$2
    local samples failures mismatches
    read -r samples failures mismatches < <(counters "$name")
    echo "$name: $samples stacks, $failures not captured, $mismatches differ from libunwind"
    [[ $samples -ge $min ]] || fail "$name: only $samples stacks sampled (want >= $min)"
    [[ $mismatches -eq 0 ]] || fail "$name: $mismatches stacks differ from libunwind's"
    [[ $failures -eq 0 ]] || fail "$name: $failures stacks not captured"
}

prep_python() {
    cat >work.py <<'PY'
import hashlib, json, re, threading
def work(k):
    d = {}
    for i in range(60000):
        d[i % 5000] = [str(i)] * (i % 7) + [hashlib.sha1(str(i).encode()).hexdigest()]
    json.loads(json.dumps(d))
    re.findall(r"[0-9a-f]{4}", " ".join(v[-1] for v in d.values()))
threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
for t in threads: t.start()
for t in threads: t.join()
print("done")
PY
}
real_run check_python 120 prep_python -- /usr/bin/python3 work.py
expect_equal_stacks check_python 1000

command -v sqlite3 >/dev/null || fail "no sqlite3 (run scripts/setup)"
real_run check_sqlite 120 "" -- sqlite3 :memory: \
    "CREATE TABLE t(a, b); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000)
     INSERT INTO t SELECT x, hex(x * 7919 % 100003) || substr(hex(zeroblob(64)), 1, x % 64) FROM c; CREATE INDEX tb ON t(b);
     SELECT count(*), count(DISTINCT b) FROM t;"
expect_equal_stacks check_sqlite 200

prep_sort() { seq 1 200000 | awk '{ print ($1 * 7919) % 100003, "line" $1 }' >data; }
real_run check_sort 120 prep_sort -- sort --parallel=2 -S 4M -T . -k1,1n -k2 data
expect_equal_stacks check_sort 8   # sort allocates little: ~20 samples, Poisson; the point is 0 mismatches

prep_gcc() {
    cat >prog.c <<'C'
#include <stdio.h>
struct s { int a[16]; };
static int f(struct s *p, int n) { int t = 0; for (int i = 0; i < n; i++) t += p->a[i % 16] * i; return t; }
int main(void) { struct s x = {{1, 2, 3}}; printf("%d\n", f(&x, 1000)); return 0; }
C
}
real_run check_gcc 120 prep_gcc -- gcc -O2 -g -Wall -o prog prog.c
expect_equal_stacks check_gcc 1000

# The counter counts: garbage return addresses end the fast walk, while
# libunwind goes on guessing.
run_under_shim "$WORK/smash" MEMPROF_SAMPLE=1 MEMPROF_UNWIND_CHECK=1 -- "$TEST_PROGS/unwind_smash"
last=$(snapshots "$WORK/smash" | tail -1)
n=$("$MEMPROF_BIN" report --json "$last" | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["unwind_mismatches"])')
echo "unwind_smash: $n stacks differ from libunwind"
[[ $n -gt 0 ]] || fail "unwind_smash: no mismatch counted: is MEMPROF_UNWIND_CHECK read?"
grep -q '^memprof: unwind check: ' "$WORK/smash.err" || fail "unwind_smash: no mismatch reported on stderr"
echo "PASS"
