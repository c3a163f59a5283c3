#!/usr/bin/env bash
# A request to a process that has exited but is not reaped yet (a zombie:
# kill(pid, 0) still succeeds, its maps and socket are gone), as happens
# to `memprof snapshot` racing a profiled program's exit: one line saying
# it has exited, status 1, not "is not profiled by memprof". The zombie is
# a profiled child whose parent exec'd into sleep, which never reaps it
# (the child ends only after that exec, or bash would reap it).
source "$(dirname "$0")/common.sh"

mkdir -p "$WORK/snaps"
LD_PRELOAD=$MEMPROF_SHIM MEMPROF_OUT=$WORK/snaps \
    bash -c 'sh -c "until grep -qx sleep /proc/\$PPID/comm; do sleep 0.01; done" &
             echo $! >"$1"; exec sleep 30' _ "$WORK/child.pid" &
parent=$!
trap 'kill $parent 2>/dev/null || true' EXIT
zpid=
for _ in $(seq 200); do
    zpid=$(cat "$WORK/child.pid" 2>/dev/null || true)
    [[ -n $zpid ]] && [[ $(awk '{print $3}' "/proc/$zpid/stat" 2>/dev/null) == Z ]] && break
    sleep 0.05
done
[[ $(awk '{print $3}' "/proc/$zpid/stat" 2>/dev/null) == Z ]] || fail "no zombie child ($zpid)"
for cmd in snapshot enable; do
    rc=0
    timeout 20 "$MEMPROF_BIN" $cmd "$zpid" >"$WORK/$cmd.out" 2>"$WORK/$cmd.err" || rc=$?
    [[ $rc -eq 1 && ! -s $WORK/$cmd.out && $(wc -l <"$WORK/$cmd.err") -eq 1 ]] ||
        fail "memprof $cmd of a zombie: status $rc: $(cat "$WORK/$cmd.out" "$WORK/$cmd.err")"
    grep -q "^memprof: process $zpid has exited" "$WORK/$cmd.err" ||
        fail "memprof $cmd of a zombie says: $(cat "$WORK/$cmd.err")"
done
echo "ok: $(cat "$WORK/snapshot.err")"
