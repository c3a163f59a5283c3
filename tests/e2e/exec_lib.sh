#!/usr/bin/env bash
# exec_lib.sh - helpers of the exec tests (life_exec.sh, life_exec_contexts.sh),
# sourced after common.sh and real_lib.sh. Run by itself (ctest e2e_exec_lib)
# it checks the helpers on one real exec, and that a wrong expectation fails.

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    source "$(dirname "$0")/common.sh"
    source "$(dirname "$0")/real_lib.sh"
fi

PROG=$TEST_PROGS/life_exec
# No MEMPROF_INTERVAL: the collector thread starts with the program's first
# thread, so a single-threaded parent's fork child is single-threaded too.
REAL_ENV=(MEMPROF_SAMPLE=1)
export LIFE_EXEC_VAR=inherited
GARBAGE=$WORK/garbage
printf 'no program, no #! line\n' >"$GARBAGE"
chmod 0755 "$GARBAGE"

# The snapshots of the life_exec processes of run NAME (one per line).
own_files() {
    snapshots "$WORK/$1.snaps" | grep '/life_exec\.' || true
}

# pid_of FILE: the pid in a snapshot's name.
pid_of() {
    basename "$1" | sed -E 's/.*\.([0-9]+)\.[0-9]{4}\.mprof$/\1/'
}

# expect_snapshot FILE TRIGGER "EXEC_LEAK" "AFTER_LEAK" "CHILD_LEAK": the
# report of FILE has that trigger and exactly those (bytes count) inner
# sites, and its rank 1 is the largest of them by name.
expect_snapshot() {
    local f=$1 trigger=$2 want_exec=$3 want_after=$4 want_child=$5
    report_json "$f" "$f.json"
    local got want first
    # One python run: trigger, the three culprits' "bytes count", rank 1.
    got=$(jq_py "$f.json" '"|".join([d["trigger"]] + [" ".join(map(str, inner(n))) for n in ("exec_leak", "after_leak", "child_leak")] + [fn(d["sites"][0]["frames"][0]) if d["sites"] and d["sites"][0]["frames"] else "-"])')
    first=${got##*|}
    got=${got%|*}
    want="$trigger|$want_exec|$want_after|$want_child"
    [[ $got == "$want" ]] || fail "$f: trigger|exec_leak|after_leak|child_leak is '$got', expected '$want'"
    case "$want_exec/$want_child" in
        "100000 10/0 0") [[ $first == exec_leak ]] ;;
        "0 0/20000 2") [[ $first == child_leak ]] ;;
        *) [[ $first == after_leak ]] ;;
    esac || fail "$f: rank 1 is $first"
}

# The exec'd sh of pid ran under the shim and left its exit snapshot.
expect_sh() {
    local name=$1 pid=$2
    [[ -n $(snapshots "$WORK/$name.snaps" | grep -E "/sh\.$pid\.[0-9]{4}\.mprof$") ]] ||
        fail "$name: no snapshot of the sh that pid $pid exec'd: $(ls "$WORK/$name.snaps")"
}


# Self-test when run on its own rather than sourced.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    real_run self 30 -- "$PROG" execv
    mapfile -t mine < <(own_files self)
    [[ ${#mine[@]} -eq 1 ]] || fail "self-test: ${mine[*]:-no snapshot}"
    expect_snapshot "${mine[0]}" exec "100000 10" "0 0" "0 0"
    expect_sh self "$(pid_of "${mine[0]}")"
    for wrong in 'exit|100000 10|0 0' 'exec|100000 9|0 0' 'exec|100000 10|10000 1'; do
        IFS='|' read -r t e a <<<"$wrong"
        if (expect_snapshot "${mine[0]}" "$t" "$e" "$a" "0 0") 2>/dev/null; then
            fail "self-test: expect_snapshot accepted $wrong"
        fi
    done
    if (expect_sh self 1) 2>/dev/null; then fail "self-test: expect_sh accepted pid 1"; fi
    echo "ok: exec_lib helpers"
fi
