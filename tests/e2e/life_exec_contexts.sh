#!/usr/bin/env bash
# exec where writing a snapshot would be unsafe or racy
# (tests/programs/life_exec.c): a vfork child never writes (the parent's
# heap stays exact); a fork child writes only its own allocations, also
# when its parent had a second thread (life_fork_threaded.sh: while that
# thread holds the loader's lock); an exec from a thread while
# three others allocate; from a thread with a 16 KiB stack and a handler on
# a 16 KiB alternate stack; from a signal handler, the program in pause()
# or churning malloc/free. Nothing hangs, and the exec'd sh runs.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"
source "$(dirname "$0")/exec_lib.sh"

# ---- vfork children never write; the parent's heap stays exact ----
real_run vfork 30 -- "$PROG" vfork "$GARBAGE"
[[ $(cat "$WORK/vfork.shim.out") == "one two|vfork|inherited
vfork+exec: 0
vfork+failed exec: 127" ]] || fail "vfork: printed '$(cat "$WORK/vfork.shim.out")'"
mapfile -t mine < <(own_files vfork)
[[ ${#mine[@]} -eq 1 && ${mine[0]} == *.0001.mprof ]] ||
    fail "vfork: expected only the parent's exit snapshot: ${mine[*]:-none}"
expect_snapshot "${mine[0]}" exit "100000 10" "30000 3" "0 0"
[[ $(snapshots "$WORK/vfork.snaps" | grep -c '/sh\.') -eq 1 ]] || fail "vfork: the exec'd sh left no snapshot"
echo "vfork: no file from either child, the parent's exit snapshot exact"

# ---- fork children: their own allocations, threaded parent or not ----
for run in fork forkmt; do
    real_run "$run" 30 -- "$PROG" "$run"
    mapfile -t mine < <(own_files "$run")
    [[ ${#mine[@]} -eq 2 ]] || fail "$run: expected the parent's and the child's snapshot: ${mine[*]:-none}"
    execs=0
    for f in "${mine[@]}"; do
        report_json "$f" "$f.json"
        if [[ $(jq_py "$f.json" 'd["trigger"]') == exec ]]; then
            expect_snapshot "$f" exec "0 0" "0 0" "20000 2"
            expect_sh "$run" "$(pid_of "$f")"
            execs=$((execs + 1))
        else
            expect_snapshot "$f" exit "100000 10" "0 0" "0 0"
        fi
    done
    [[ $execs -eq 1 ]] || fail "$run: $execs exec snapshots, expected the child's one"
done
echo "fork: the child's exec snapshot holds child_leak only, after a threaded parent too"

# ---- from a thread while three others allocate, and from a signal handler ----
real_run thread 30 -- "$PROG" thread
mapfile -t mine < <(own_files thread)
[[ ${#mine[@]} -eq 1 ]] || fail "thread: expected one snapshot: ${mine[*]:-none}"
expect_snapshot "${mine[0]}" exec "100000 10" "0 0" "0 0"
real_run signal 30 -- "$PROG" signal
[[ $(cat "$WORK/signal.shim.out") == "one two|signal|inherited" ]] || fail "signal: sh did not run"
mapfile -t mine < <(own_files signal)
[[ ${#mine[@]} -eq 1 ]] || fail "signal: expected one snapshot: ${mine[*]:-none}"
expect_snapshot "${mine[0]}" exec "100000 10" "0 0" "0 0"
echo "signal: the handler's exec (the program in pause) wrote the snapshot"
# A 16 KiB thread stack and a 16 KiB alternate signal stack: the snapshot
# runs on a stack of its own, so neither overflows.
for m in smallstack altstack; do
    real_run "$m" 30 -- "$PROG" "$m"
    [[ $(cat "$WORK/$m.shim.out") == "one two|$m|inherited" ]] || fail "$m: sh did not run"
    mapfile -t mine < <(own_files "$m")
    [[ ${#mine[@]} -eq 1 ]] || fail "$m: expected one snapshot: ${mine[*]:-none}"
    expect_snapshot "${mine[0]}" exec "100000 10" "0 0" "0 0"
    echo "$m: exec snapshot written from a 16 KiB stack"
done
# A handler that lands inside a hook skips the snapshot (its locks are this
# thread's); one that lands in the real malloc or free writes it (the
# snapshot takes no allocator lock). Exact sampling puts most of the loop
# inside the hooks, sparse sampling most of it outside; either way nothing
# hangs and sh runs.
for i in 1 2 3 4; do
    if ((i <= 2)); then REAL_ENV=(MEMPROF_SAMPLE=1); else REAL_ENV=(MEMPROF_SAMPLE=100000); fi
    real_run "churn$i" 30 -- "$PROG" signalchurn
    [[ $(cat "$WORK/churn$i.shim.out") == "one two|signalchurn|inherited" ]] || fail "churn$i: sh did not run"
    mapfile -t mine < <(own_files "churn$i")
    [[ ${#mine[@]} -le 1 ]] || fail "churn$i: ${mine[*]}"
    if [[ ${#mine[@]} -eq 1 ]]; then
        report_json "${mine[0]}" "${mine[0]}.json"
        [[ $(jq_py "${mine[0]}.json" 'd["trigger"]') == exec ]] || fail "churn$i: not an exec snapshot"
    fi
    echo "churn run $i (${REAL_ENV[*]}): exec from the handler, ${#mine[@]} snapshot before it"
done
REAL_ENV=(MEMPROF_SAMPLE=1)

echo "ok: exec in vfork and fork children, threads and signal handlers"
