#!/usr/bin/env bash
# fork from a multithreaded parent while the other threads allocate and hold
# a lock (tests/programs/life_fork_mt.c). Exact sampling. Each child must
# profile itself into its own files (its own pid, seq from 0001), with its
# own collector (the long-lived last child writes a periodic snapshot), and
# its exit snapshot must hold exactly what it allocated itself: child_leak's
# 64 x 4096 bytes, nothing of the parent's, no event lost. Three rounds,
# because a lost-event race shows only sometimes.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

REAL_ENV=(MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=1)
for round in 1 2 3; do
    name=fork$round
    real_run "$name" 60 -- "$TEST_PROGS/life_fork_mt"
    grep -qx 'children ok 5' "$WORK/$name.shim.out" || fail "$name: $(cat "$WORK/$name.shim.out")"
    snaps=$WORK/$name.snaps
    mapfile -t children < <(sed -n 's/^child \([0-9]*\)$/\1/p' "$WORK/$name.shim.err")
    [[ ${#children[@]} -eq 5 ]] || fail "$name: expected 5 child pids on stderr: $(cat "$WORK/$name.shim.err")"
    problems=()
    for i in "${!children[@]}"; do
        pid=${children[$i]}
        mapfile -t mine < <(pid_snapshots "$snaps" "$pid")
        [[ ${#mine[@]} -ge 1 && ${mine[0]} == *".$pid.0001.mprof" ]] ||
            { problems+=("child $pid: snapshots ${mine[*]:-none}, the first is not seq 0001"); continue; }
        if [[ $i -eq 4 && ${#mine[@]} -lt 2 ]]; then
            problems+=("last child $pid lived 1.5 s with MEMPROF_INTERVAL=1 but wrote ${#mine[@]} snapshot(s): no collector of its own?")
        fi
        last=${mine[-1]}
        report_json "$last" "$last.json"
        [[ $(jq_py "$last.json" 'd["pid"]') == "$pid" ]] || problems+=("$last: pid is $(jq_py "$last.json" 'd["pid"]')")
        leak=$(jq_py "$last.json" 'inner("child_leak")')
        [[ $leak == "262144 64" ]] || problems+=("child $pid: child_leak holds '$leak' (bytes count), expected '262144 64'")
        for f in parent_leak worker; do
            [[ $(jq_py "$last.json" "anywhere('$f')") == 0 ]] || problems+=("child $pid: holds the parent's $f allocations")
        done
        dropped=$(jq_py "$last.json" 'dropped')
        [[ $dropped == 0 ]] || problems+=("child $pid: $dropped events dropped in exact mode")
    done
    ppid_snaps=$(snapshots "$snaps" | grep -v -E "\.($(IFS='|'; echo "${children[*]}"))\.[0-9]{4}\.mprof$" | grep '/life_fork_mt\.' | tail -1)
    [[ -n $ppid_snaps ]] || fail "$name: no snapshot of the parent"
    report_json "$ppid_snaps" "$ppid_snaps.json"
    [[ $(jq_py "$ppid_snaps.json" 'inner("parent_leak")') == "1048576 1" ]] ||
        problems+=("parent: parent_leak holds '$(jq_py "$ppid_snaps.json" 'inner("parent_leak")')', expected '1048576 1'")
    if [[ ${#problems[@]} -gt 0 ]]; then
        printf '  %s\n' "${problems[@]}" >&2
        fail "$name: forked children did not profile themselves correctly (snapshots in $snaps)"
    fi
done
echo "ok: children of a multithreaded parent profile themselves"
