#!/usr/bin/env bash
# Daemonisation (double fork, setsid, chdir /, fds to /dev/null) with a
# relative MEMPROF_OUT: all three processes leave exit snapshots in the
# directory as resolved at start-up, and the daemon's holds its leak.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

cd "$WORK"
marker=$WORK/daemon.done
rc=0
timeout -k 5 30 env LD_PRELOAD="$MEMPROF_SHIM:$REAL_WITNESS" LIFE_WITNESS="$WORK/daemon.witness" \
    MEMPROF_OUT=daemon.snaps MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=0 \
    "$TEST_PROGS/life_daemon" "$marker" >"$WORK/daemon.out" 2>"$WORK/daemon.err" || rc=$?
[[ $rc -eq 0 ]] || fail "life_daemon exited $rc: $(cat "$WORK/daemon.err")"
[[ $(cat "$WORK/daemon.out") == "starting daemon" ]] || fail "output: $(cat "$WORK/daemon.out")"
for _ in $(seq 1 100); do
    [[ -s $marker ]] && break
    sleep 0.1
done
[[ -s $marker ]] || fail "the daemon never created $marker"
dpid=$(cat "$marker")
# The daemon exits right after the marker; wait for it to be gone.
for _ in $(seq 1 100); do
    kill -0 "$dpid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$dpid" 2>/dev/null && fail "the daemon $dpid did not exit"
[[ -d /daemon.snaps ]] && fail "snapshots went to /daemon.snaps: MEMPROF_OUT was resolved after chdir"
[[ $(cut -d' ' -f1 "$WORK/daemon.witness" | sort -u | wc -l) -eq 3 ]] ||
    fail "expected 3 processes, the witness saw: $(cat "$WORK/daemon.witness")"
real_check_snapshots daemon
mapfile -t mine < <(pid_snapshots "$WORK/daemon.snaps" "$dpid")
[[ ${#mine[@]} -ge 1 ]] || fail "no snapshot of the daemon $dpid"
report_json "${mine[-1]}" "$WORK/daemon.json"
[[ $(jq_py "$WORK/daemon.json" 'inner("daemon_leak")') == "80000 8" ]] ||
    fail "daemon_leak holds '$(jq_py "$WORK/daemon.json" 'inner("daemon_leak")')', expected '80000 8'"
echo "ok: the daemon profiled itself into MEMPROF_OUT"
