#!/usr/bin/env bash
# fork+exec, vfork+exec, a vfork child whose exec fails, posix_spawn,
# posix_spawnp of a missing program and system() (tests/programs/
# life_spawn.c), plain and profiled: same output and statuses; every started
# program leaves its own exit snapshot (seq 0001) holding exactly its own
# leak, and the parent's holds its own.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

REAL_ENV=(MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=0)
real_run spawn 60 -- "$TEST_PROGS/life_spawn"
cat "$WORK/spawn.shim.out"
expected='child 1
fork+exec: 0
child 2
vfork+exec: 0
vfork+failed exec: 127
child 3
posix_spawn: 0
posix_spawnp missing: error
child 4
system: 0'
[[ $(cat "$WORK/spawn.shim.out") == "$expected" ]] || fail "unexpected output (see above)"

snaps=$WORK/spawn.snaps
declare -A seen=()
for f in $(snapshots "$snaps" | grep '/life_spawn\.'); do
    report_json "$f" "$f.json"
    [[ $f == *.0001.mprof ]] || fail "$f: one process, one snapshot, expected seq 0001"
    spawned=$(jq_py "$f.json" 'inner("spawned_leak")')
    parent=$(jq_py "$f.json" 'inner("parent_leak")')
    if [[ $parent == "5000 5" && $spawned == "0 0" ]]; then
        seen[parent]=1
    elif [[ $parent == "0 0" && $spawned =~ ^([1-4])000\ ([1-4])$ && ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]]; then
        seen[child${BASH_REMATCH[2]}]=1
    else
        fail "$f: spawned_leak '$spawned', parent_leak '$parent' (bytes count): not one process's own allocations"
    fi
done
for k in parent child1 child2 child3 child4; do
    [[ -n ${seen[$k]:-} ]] || fail "no snapshot holds exactly the allocations of $k"
done
echo "ok: each started process profiled itself"
