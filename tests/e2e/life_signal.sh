#!/usr/bin/env bash
# Signal handlers that allocate, delivered while the shim's hooks run, and
# snapshot-signal requests during heavy allocation (tests/programs/
# life_signal.c): no hang, same output, and with exact sampling the exit
# snapshot holds exactly the blocks the handlers leaked: most under
# handler_leak, and those whose handler interrupted the shim's own slow path
# (where unwinding is unsafe) under the unknown stack, so the totals stay
# exact and nothing is lost silently.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

for sample in 1 4096; do
    REAL_ENV=(MEMPROF_SAMPLE=$sample MEMPROF_INTERVAL=1 MEMPROF_SIGNAL=USR2)
    real_run sig$sample 60 -- "$TEST_PROGS/life_signal"
    grep -qx 'signal handlers ran: yes' "$WORK/sig$sample.shim.out" || fail "the handler never ran"
done
n=$(sed -n 's/^handler_leak blocks=//p' "$WORK/sig1.shim.err")
last=$(snapshots "$WORK/sig1.snaps" | grep '/life_signal\.' | tail -1)
[[ $(snapshots "$WORK/sig1.snaps" | grep -c '/life_signal\.') -ge 2 ]] ||
    fail "SIGUSR2 requests during the run wrote no snapshot"
report_json "$last" "$last.json"
# A nested call that finds its address-set shard held by the code it
# interrupted gives up rather than deadlock; that loss must be counted.
got=$(jq_py "$last.json" '[x + y for x, y in zip(inner("handler_leak"), unknown())]')
lost=$(jq_py "$last.json" 'd["counters"]["events_dropped"] + d["counters"]["addrset_full"]')
read -r got_bytes got_count <<<"$got"
(( got_count <= n && got_count + lost >= n && got_bytes == got_count * 48 )) ||
    fail "handler_leak + unknown stack hold '$got', expected '$((n * 48)) $n' (bytes count), $lost counted as lost"
named=$(jq_py "$last.json" 'inner("handler_leak")[1]')
(( named * 2 >= n )) || fail "only $named of $n handler blocks attributed to handler_leak"
echo "ok: allocating signal handlers"
