#!/usr/bin/env bash
# An image that execs writes its last snapshot first (trigger "exec", the
# highest seq of that image), through every call of the family, with argv
# and envp passed through untouched (tests/programs/life_exec.c); a failed
# exec (ENOENT: no snapshot; ENOEXEC: one) keeps errno and the signal mask, goes on
# profiled, its exit snapshot a later seq; a re-exec of the same program
# never replaces the first image's file; bash's `exec` builtin; a dormant
# process writes nothing. life_exec_contexts.sh: vfork, fork, threads,
# signal handlers.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"
source "$(dirname "$0")/exec_lib.sh"

# ---- each call of the family ----
for call in execve execv execvp execvpe execl execle execlp fexecve execveat; do
    real_run "$call" 30 -- "$PROG" "$call"
    case $call in execve | execvpe | execle | fexecve | execveat) var=given ;; *) var=inherited ;; esac
    [[ $(cat "$WORK/$call.shim.out") == "one two|$call|$var" ]] ||
        fail "$call: sh printed '$(cat "$WORK/$call.shim.out")'"
    mapfile -t mine < <(own_files "$call")
    [[ ${#mine[@]} -eq 1 && ${mine[0]} == *.0001.mprof ]] ||
        fail "$call: expected one snapshot of the first image, found: ${mine[*]:-none}"
    expect_snapshot "${mine[0]}" exec "100000 10" "0 0" "0 0"
    expect_sh "$call" "$(pid_of "${mine[0]}")"
    echo "$call: $(basename "${mine[0]}") (exec) ranks exec_leak first, sh ran profiled"
done

# ---- failed execs: ENOENT writes nothing, ENOEXEC writes seq 1 ----
# A PATH every user can search: execvp reports EACCES, not ENOENT, when an
# entry cannot be searched (root's PATH as another user: /root/.cargo/bin).
PATH=/usr/local/bin:/usr/bin:/bin real_run fail 30 -- "$PROG" fail "$GARBAGE"
[[ $(cat "$WORK/fail.shim.out") == "exec program: -1 No such file or directory
exec memprof-not-on-path: -1 No such file or directory
exec garbage: -1 Exec format error
signal mask kept" ]] || fail "fail: printed '$(cat "$WORK/fail.shim.out")'"
mapfile -t mine < <(own_files fail)
[[ ${#mine[@]} -eq 2 && ${mine[0]} == *.0001.mprof && ${mine[1]} == *.0002.mprof ]] ||
    fail "fail: expected seq 0001 (the ENOEXEC exec) and 0002 (exit): ${mine[*]:-none}"
expect_snapshot "${mine[0]}" exec "100000 10" "0 0" "0 0"
expect_snapshot "${mine[1]}" exit "100000 10" "30000 3" "0 0"
echo "fail: errno and signal mask kept, seq 1 before the exec that failed, seq 2 at exit holds both leaks"

# ---- a re-exec of the same program, same pid and name ----
real_run reexec 30 -- "$PROG" reexec
mapfile -t mine < <(own_files reexec)
[[ ${#mine[@]} -eq 2 && ${mine[0]} == *.0001.mprof && ${mine[1]} == *.0002.mprof &&
    $(pid_of "${mine[0]}") == $(pid_of "${mine[1]}") ]] ||
    fail "reexec: expected the first image's 0001 and the second's 0002: ${mine[*]:-none}"
expect_snapshot "${mine[0]}" exec "100000 10" "0 0" "0 0"
expect_snapshot "${mine[1]}" exit "0 0" "30000 3" "0 0"
echo "reexec: the first image's file stayed its own, the second image took seq 2"

# ---- bash's exec builtin, a real program ----
real_run bash 30 -- bash -c 'a=(); for i in {1..2000}; do a+=("$i"); done; exec /bin/true'
mapfile -t mine < <(snapshots "$WORK/bash.snaps")
[[ ${#mine[@]} -eq 2 && ${mine[0]} == */bash.*.0001.mprof && ${mine[1]} == */true.*.0001.mprof &&
    $(pid_of "${mine[0]}") == $(pid_of "${mine[1]}") ]] ||
    fail "bash: expected bash's exec snapshot and true's exit snapshot: ${mine[*]:-none}"
report_json "${mine[0]}" "$WORK/bash.json"
[[ $(jq_py "$WORK/bash.json" 'd["trigger"]') == exec ]] || fail "bash: its snapshot is not the exec's"
echo "bash: exec builtin wrote bash's snapshot, then true's"

# ---- dormant: nothing recorded, nothing written ----
mkdir -p "$WORK/dormant"
env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$WORK/dormant" MEMPROF_START=off MEMPROF_SAMPLE=1 \
    timeout -k 5 30 "$PROG" execv >"$WORK/dormant.out" 2>&1 || fail "dormant: $(cat "$WORK/dormant.out")"
[[ -z $(snapshots "$WORK/dormant") ]] || fail "dormant: wrote $(snapshots "$WORK/dormant")"
echo "ok: exec snapshots"
