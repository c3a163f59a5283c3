#!/usr/bin/env bash
# Many processes as one: a forking server's files (a parent and three
# workers, each worker with a mid-way and an exit snapshot) given together
# to `report`, `folded` and `pprof` add up the latest snapshot of each
# process: worker_leak ranks first with the workers' total (within 25%
# sampled at 64 KiB, exact at MEMPROF_SAMPLE=1), the report says it covers
# 4 processes (7 files), folded's worker_leak lines add up to the same, and
# so does go tool pprof's flat column for the merged pprof profile.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/export_lib.sh"
need_consumers

# close_enough GOT WANT TOL: GOT within TOL (a fraction) of WANT; equal at 0.
close_enough() {
    python3 -c "import sys; got, want, tol = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]);
sys.exit(0 if (got == want if tol == 0 else abs(got - want) <= tol * want) else 1)" "$@"
}
# 64 KiB, not SAMPLED_RATE: 3.9% deviation for the workers' total even if
# they sampled alike (6.4 sigma), 12.3% at the default 512 KiB (25% was 2
# sigma: it failed at 27.6% in CI). They did sample alike until the fork
# child drew its own sampler state (sampler.c): forked from one point,
# the three workers reported the very same estimates; workers_independent
# checks that they no longer do.
workers_independent() {
    local f pid
    declare -A last=()
    for f in "$@"; do
        pid=$(basename "$f" | sed -n 's/^[^.]*\.\([0-9]*\)\..*$/\1/p')
        last[$pid]=$f
    done
    local estimates=()
    for f in "${last[@]}"; do
        estimates+=("$("$MEMPROF_BIN" report "$f" --json --top 0 | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(s["bytes"] for s in d["sites"] if s["frames"][0]["function"] == "worker_leak"))')")
    done
    # the parent's estimate is 0; three workers' equal ones mean one draw
    local distinct
    distinct=$(printf '%s\n' "${estimates[@]}" | grep -vx 0 | sort -u | wc -l)
    [[ $distinct -eq 3 ]] ||
        fail "the workers sampled alike (worker_leak estimates: ${estimates[*]})"
}

for mode in sampled exact; do
    set_rate "$mode" 65536
    run_under_shim "$WORK/$mode" "${rate_vars[@]}" -- "$TEST_PROGS/fork_workers"
    bytes=$(leak_field "$WORK/$mode.out" bytes)
    mapfile -t files < <(snapshots "$WORK/$mode")
    [[ ${#files[@]} -eq 7 ]] || fail "expected 7 snapshots (parent 1, workers 2 each), found ${#files[@]}"
    [[ $mode == exact ]] || workers_independent "${files[@]}"
    "$MEMPROF_BIN" report "${files[@]}" --json --top 0 >"$WORK/$mode.json" || fail "report exited $?"
    python3 "$E2E_DIR/reportcheck.py" merged "$WORK/$mode.json" --processes 4 \
        --culprit worker_leak --bytes "$bytes" --tol "$tol" || fail "$mode: see $WORK/$mode.json"
    "$MEMPROF_BIN" report "${files[@]}" --top 1 >"$WORK/$mode.txt" || fail "report exited $?"
    grep -q '^added up: 4 processes (7 files, the latest snapshot of each)$' "$WORK/$mode.txt" ||
        fail "$mode: the text report does not say what it added up: $(head -3 "$WORK/$mode.txt")"
    for f in "${files[@]}"; do   # every process added up is named by its pid
        pid=$(basename "$f" | sed -n 's/^[^.]*\.\([0-9]*\)\..*$/\1/p')
        grep -q "^\(memprof report: \|  and \)fork_workers (pid $pid), " "$WORK/$mode.txt" ||
            fail "$mode: the text report's header does not name pid $pid: $(head -6 "$WORK/$mode.txt")"
    done
    "$MEMPROF_BIN" folded "${files[@]}" >"$WORK/$mode.folded" 2>"$WORK/$mode.folded.err" ||
        fail "folded exited $?"
    grep -q '^memprof: folded: added up 4 processes (7 files' "$WORK/$mode.folded.err" ||
        fail "$mode: folded does not say what it added up: $(cat "$WORK/$mode.folded.err")"
    sum=$(awk '/;worker_leak [0-9]+$/ { s += $NF } END { print s + 0 }' "$WORK/$mode.folded")
    close_enough "$sum" "$bytes" "$tol" || fail "$mode: folded worker_leak adds up to $sum, want $bytes"
    "$MEMPROF_BIN" pprof "${files[@]}" -o "$WORK/$mode.pb.gz" || fail "pprof exited $?"
    timeout 60 env "${GO_ENV[@]}" go tool pprof -top -sample_index=inuse_space -unit=byte \
        "$WORK/$mode.pb.gz" >"$WORK/$mode.top" 2>&1 || fail "go tool pprof: $(cat "$WORK/$mode.top")"
    grep -q '^added up: 4 processes (7 files' "$WORK/$mode.top" ||
        fail "$mode: the pprof profile does not say what it added up"
    flat=$(sed -n 's/^ *\([0-9]*\)B .* worker_leak$/\1/p' "$WORK/$mode.top")
    close_enough "${flat:-0}" "$bytes" "$tol" || fail "$mode: pprof's worker_leak is ${flat:-none}, want $bytes"
done

# html (and diff) of every worker's files: one warning for the first pair
# of different processes and one line counting the rest, not one each
"$MEMPROF_BIN" html "${files[@]}" -o "$WORK/all.html" 2>"$WORK/html.err" || fail "html exited $?"
n=$(grep -c '^memprof: warning: ' "$WORK/html.err" || true)
[[ $n -le 2 ]] || fail "html of ${#files[@]} files of 4 processes warned $n times: $(cat "$WORK/html.err")"
grep -q 'different processes' "$WORK/html.err" || fail "html did not warn of different processes: $(cat "$WORK/html.err")"
echo "html of ${#files[@]} files: $n warning lines"
echo "merged reports: a forking server added up"
