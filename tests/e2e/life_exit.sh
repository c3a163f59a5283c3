#!/usr/bin/env bash
# Every way out (tests/programs/life_exit.c): return, exit, _exit, _Exit,
# quick_exit and main's pthread_exit (the process ends when its last thread
# does, though the shim's collector thread is still there) keep the exit status and write the exit snapshot holding exit_leak's
# 4 x 5000 bytes (SPEC "Triggers"); abort and SIGKILL after ~2.5 s with the
# 1 s timer keep the periodic snapshots already written, all readable, and
# no partial file under a final name. `memprof run` returns the status, or
# 128+N for death by signal N.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

REAL_ENV=(MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=0)
for mode in return7 exit3 _exit5 _Exit6 quick_exit4 pthread_exit0; do
    real_run "$mode" 30 -- "$TEST_PROGS/life_exit" "$mode"
    want=${mode//[!0-9]/}
    [[ $(cat "$WORK/$mode.shim.rc") == "$want" ]] || fail "$mode: status $(cat "$WORK/$mode.shim.rc")"
    last=$(snapshots "$WORK/$mode.snaps" | grep '/life_exit\.' | tail -1)
    report_json "$last" "$last.json"
    got=$(jq_py "$last.json" 'inner("exit_leak")')
    [[ $got == "20000 4" ]] || fail "$mode: exit_leak holds '$got' in the exit snapshot, expected '20000 4'"
done

# Killed by a signal: no exit snapshot, but the periodic ones stay. real_run
# would insist on an exit snapshot, so these run by hand.
for mode in abort kill; do
    sig=$([[ $mode == abort ]] && echo 6 || echo 9)
    dir=$WORK/$mode
    rc=0
    timeout -k 5 30 "$TEST_PROGS/life_exit" "$mode" 2.5 >"$dir.plain.out" 2>/dev/null || rc=$?
    [[ $rc -eq $((128 + sig)) ]] || fail "$mode: plain status $rc"
    rc=0
    timeout -k 5 30 "$MEMPROF_BIN" run -o "$dir" --sample 1 --interval 1 -- \
        "$TEST_PROGS/life_exit" "$mode" 2.5 >"$dir.out" 2>"$dir.err" || rc=$?
    [[ $rc -eq $((128 + sig)) ]] || fail "$mode: memprof run exited $rc, expected $((128 + sig)): $(cat "$dir.err")"
    cmp -s "$dir.plain.out" "$dir.out" || fail "$mode: stdout differs under the shim"
    mapfile -t files < <(snapshots "$dir")
    [[ ${#files[@]} -ge 2 ]] || fail "$mode: ${#files[@]} periodic snapshots survived 2.5 s at a 1 s interval"
    for f in "${files[@]}"; do
        "$MEMPROF_BIN" report "$f" >"$f.txt" || fail "$mode: memprof report $f exited $?"
        "$MEMPROF_BIN" locks "$f" >/dev/null || fail "$mode: memprof locks $f exited $?"
        head -1 "$f.txt" | grep -q '(timer)' || fail "$mode: $f is not a timer snapshot: $(head -1 "$f.txt")"
    done
    report_json "${files[-1]}" "$dir.json"
    [[ $(jq_py "$dir.json" 'inner("exit_leak")') == "20000 4" ]] ||
        fail "$mode: the last periodic snapshot holds exit_leak '$(jq_py "$dir.json" 'inner("exit_leak")')'"
    echo "$mode: status $rc, ${#files[@]} periodic snapshots readable"
done
echo "ok: every way out"
