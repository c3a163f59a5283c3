#!/usr/bin/env bash
# Fork children of a multi-threaded parent whose second thread loops
# dlopen, dl_iterate_phdr and dlclose (tests/programs/life_fork_threaded.c):
# at the fork another thread of the parent often holds the loader's list
# lock, which glibc does not reset in the child. 200 children that _exit
# after a failed exec, 200 that exec /bin/true: none may hang (each has an
# alarm, the run a timeout), and each must write its snapshot (exit, or
# exec) with its planted leak named: 3 x 10000 bytes in child_leak, from
# the module table inherited from the parent. Exact sampling.
#
# Then 100 "plug" children that also dlopen a library of their own
# (liblife_plug_b.so, never loaded in the parent) and leak 5 x 256 bytes
# in its plug_b_leak: a frozen child rescans its modules from
# /proc/self/maps, so the fast unwinder walks through the new library and
# the exit snapshot names plug_b_leak, called from main (not a bare
# address, not a stack cut at the library). The churn thread pauses across
# each fork there (a pthread_atfork mutex): glibc's own dlopen in the child
# needs the loader lock that fork does not reset.
#
# Not real_run: it runs the analyzer twice on each of the 400 files. Here
# one report adds up every child's file (each child leaks exactly 3 blocks
# in child_leak, so N processes holding 3N blocks means each holds its 3),
# and a few files are read one by one for their trigger.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

PROG=$TEST_PROGS/life_fork_threaded
LIB=$TEST_PROGS/liblife_plug_a.so
PLUG=$TEST_PROGS/liblife_plug_b.so

for mode in fail true plug; do
    N=200 extra=()
    [[ $mode == plug ]] && N=100 extra=("$PLUG")
    snaps=$WORK/$mode.snaps out=$WORK/$mode.out err=$WORK/$mode.err
    mkdir -p "$snaps"
    rc=0
    timeout -k 5 150 env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$snaps" MEMPROF_SAMPLE=1 \
        "$PROG" "$mode" "$LIB" "$N" "${extra[@]}" >"$out" 2>"$err" || rc=$?
    [[ $rc -ne 124 && $rc -ne 137 ]] || fail "$mode: the run did not finish in 150 s: $(tail -3 "$out")"
    [[ $rc -eq 0 ]] && grep -qx "children ok $N" "$out" || fail "$mode: status $rc: $(head -5 "$out")"
    ! grep '^memprof:' "$err" | head -3 | grep . || fail "$mode: the shim printed warnings"
    [[ -z $(find "$snaps" -name '.*.tmp') ]] || fail "$mode: temporary files left in $snaps"
    mapfile -t pids < <(sed -n 's/^child \([0-9]*\)$/\1/p' "$err")
    [[ ${#pids[@]} -eq $N ]] || fail "$mode: ${#pids[@]} child pids on stderr, expected $N"
    files=() missing=()
    for pid in "${pids[@]}"; do
        mapfile -t mine < <(pid_snapshots "$snaps" "$pid" | grep '/life_fork_threaded\.')
        if [[ ${#mine[@]} -ne 1 || ${mine[0]} != */life_fork_threaded.$pid.0001.mprof ]]; then
            missing+=("$pid: ${mine[*]:-none}")
        elif [[ $mode == true && ! -f $snaps/true.$pid.0001.mprof ]]; then
            missing+=("$pid: no snapshot of the /bin/true it exec'd")
        else
            files+=("${mine[0]}")
        fi
    done
    [[ ${#missing[@]} -eq 0 ]] || fail "$mode: ${#missing[@]} children without their one snapshot: ${missing[*]:0:5}"
    timeout -k 5 "$REAL_ANALYZER_TIMEOUT" "$MEMPROF_BIN" report "${files[@]}" --json --top 0 \
        >"$WORK/$mode.json" 2>"$WORK/$mode.json.err" || fail "$mode: report: $(head -3 "$WORK/$mode.json.err")"
    got=$(jq_py "$WORK/$mode.json" '"%d %s %s" % (d["processes"], " ".join(map(str, inner("child_leak"))), fn(d["sites"][0]["frames"][0]))')
    [[ $got == "$N $((N * 30000)) $((N * 3)) child_leak" ]] ||
        fail "$mode: processes, child_leak bytes and count, rank 1: '$got', expected '$N $((N * 30000)) $((N * 3)) child_leak'"
    trigger=exit
    [[ $mode == true ]] && trigger=exec
    if [[ $mode == plug ]]; then
        got=$(jq_py "$WORK/$mode.json" '"%s %s" % (" ".join(map(str, inner("plug_b_leak"))), sorted({"main" in [fn(f) for f in s["frames"]] for s in d["sites"] if s["frames"] and fn(s["frames"][0]) == "plug_b_leak"}))')
        [[ $got == "$((N * 1280)) $((N * 5)) [True]" ]] ||
            fail "plug: plug_b_leak bytes, count, called from main: '$got', expected '$((N * 1280)) $((N * 5)) [True]'"
    fi
    for i in 0 $((N / 2)) $((N - 1)); do
        report_json "${files[$i]}" "$WORK/$mode.$i.json"
        got=$(jq_py "$WORK/$mode.$i.json" '"%s %s" % (d["trigger"], " ".join(map(str, inner("child_leak"))))')
        [[ $got == "$trigger 30000 3" ]] || fail "${files[$i]}: '$got', expected '$trigger 30000 3'"
    done
    echo "$mode: $N children of a threaded parent, none hung, each wrote its $trigger snapshot naming child_leak"
done
echo "ok: fork children of a threaded parent write their snapshots"
