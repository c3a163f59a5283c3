#!/usr/bin/env bash
# Wait percentiles and accuracy. lock_wait10ms makes every contention a
# ~10 ms wait and times its own calls to pthread_mutex_lock: the lock's
# percentiles are non-decreasing and at most max_wait_ns, its p99 lies
# within the factor-2 guarantee of the program's own p99 (10 ms and up: a
# loaded machine oversleeps) and memprof's total wait is within 10% of the
# program's own measure (waits this long are never sampled, and the output
# says from where on they are: waits_sampled_below_ns). lock_hold_bound's
# much wider distributions (waits and holds) keep the same order and bound.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/locks_checker.sh"
locks_of_run "$WORK/run" "$WORK/locks.json" -- "$TEST_PROGS/lock_wait10ms"
self=$(awk '$1 == "self_wait_ns" {print $2}' "$WORK/run.out")
self_p99=$(awk '$1 == "self_p99_ns" {print $2}' "$WORK/run.out")
[[ $self =~ ^[0-9]+$ && $self_p99 =~ ^[0-9]+$ ]] || fail "lock_wait10ms printed no self_wait_ns"
locks_of_run "$WORK/wide" "$WORK/wide.json" -- "$TEST_PROGS/lock_hold_bound" 4 800
python3 - "$WORK/locks.json" "$self" "$WORK/wide.json" "$self_p99" <<'PY' || fail "percentiles"
import json, sys
def check_order(lock, key, cap):
    p = lock.get(key)
    if not isinstance(p, dict) or sorted(p) != ["p50", "p90", "p99", "p999"]:
        sys.exit("lock %s: %s missing or malformed: %r" % (lock["address"], key, p))
    v = [p["p50"], p["p90"], p["p99"], p["p999"]]
    print("%s %s: %s (max %s)" % (lock["address"], key, v, cap))
    if v != sorted(v):
        sys.exit("%s not monotone: %r" % (key, v))
    if cap is not None and v[-1] > cap:
        sys.exit("%s p999 %d > max_wait_ns %d" % (key, v[-1], cap))
    return p
doc = json.load(open(sys.argv[1]))
self_ns = int(sys.argv[2])
if doc.get("waits_sampled_below_ns") != 32768:
    sys.exit("waits_sampled_below_ns is %r, want 32768 (2^15 ns)" % doc.get("waits_sampled_below_ns"))
if doc.get("holds_sampled_1_in") != 32:
    sys.exit("holds_sampled_1_in is %r, want 32" % doc.get("holds_sampled_1_in"))
lk = doc["locks"][0]
p = check_order(lk, "percentiles_ns", lk["max_wait_ns"])
self_p99 = int(sys.argv[4])
print("memprof p99 %d ns, program's own %d ns" % (p["p99"], self_p99))
if lk["contentions"] < 30:   # a round whose waiter came late did not contend
    sys.exit("expected about 40 contentions, got %d" % lk["contentions"])
if self_p99 < 9e6:
    sys.exit("the program's waits were not ~10 ms: p99 %d ns" % self_p99)
if not self_p99 / 2 <= p["p99"] <= self_p99 * 2:
    sys.exit("p99 %d ns is not within a factor of 2 of the true %d ns" % (p["p99"], self_p99))
print("memprof wait %d ns, program's own %d ns" % (lk["wait_ns"], self_ns))
if abs(lk["wait_ns"] - self_ns) > 0.10 * self_ns:
    sys.exit("total wait off by more than 10%")
wide = json.load(open(sys.argv[3]))["locks"][0]
check_order(wide, "percentiles_ns", wide["max_wait_ns"])
check_order(wide, "hold_percentiles_ns", None)
PY

# The text says what was sampled, for locks (not the heap's byte rate).
mapfile -t files < <(snapshots "$WORK/run")
"$MEMPROF_BIN" locks "${files[0]}" >"$WORK/locks.txt" || fail "memprof locks failed"
grep -q "waits under 32.8 us and contended holds 1 in 32 sampled, weighted (estimates)" "$WORK/locks.txt" ||
    fail "memprof locks does not say what it sampled: $(head -3 "$WORK/locks.txt")"
