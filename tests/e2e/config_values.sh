#!/usr/bin/env bash
# Invalid values of every MEMPROF_ variable (SPEC "Running a program under
# the shim": "A bad value prints one line starting memprof: to stderr and the
# default is used"): exactly one such line naming the variable, the program's
# output and status unchanged, the exit snapshot still written and readable,
# with the default in effect where the snapshot shows it.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

prog=$TEST_PROGS/life_exit
"$prog" return7 >"$WORK/plain.out" 2>&1 && fail "life_exit return7 exited 0" || true

cases=(
    "MEMPROF_SAMPLE=abc" "MEMPROF_SAMPLE=-1" "MEMPROF_SAMPLE=0" "MEMPROF_SAMPLE=1e3"
    "MEMPROF_SAMPLE=99999999999999999999999" "MEMPROF_SAMPLE=12kb" "MEMPROF_SAMPLE= -1"
    "MEMPROF_INTERVAL=-5" "MEMPROF_INTERVAL=x" "MEMPROF_INTERVAL=1.5" "MEMPROF_INTERVAL=99999999999"
    "MEMPROF_SIGNAL=FOO" "MEMPROF_SIGNAL=0" "MEMPROF_SIGNAL=9" "MEMPROF_SIGNAL=KILL"
    "MEMPROF_SIGNAL=SIGSTOP" "MEMPROF_SIGNAL=999" "MEMPROF_SIGNAL=-12" "MEMPROF_SIGNAL=usr2x"
    "MEMPROF_LOCKS=2" "MEMPROF_LOCKS=yes" "MEMPROF_LOCKS=-1" "MEMPROF_LOCKS=on"
    "MEMPROF_DEPTH=0" "MEMPROF_DEPTH=x" "MEMPROF_DEPTH=100000000" "MEMPROF_DEPTH=-3"
    "MEMPROF_SIGNAL=SEGV" "MEMPROF_SIGNAL=11" "MEMPROF_START=maybe" "MEMPROF_START=1"
    "MEMPROF_SIGNAL=PIPE" "MEMPROF_SIGNAL=13" "MEMPROF_SIGNAL=ALRM" "MEMPROF_SIGNAL=SIGCHLD"
    "MEMPROF_SIGNAL=WINCH" "MEMPROF_SIGNAL=XFSZ" "MEMPROF_SIGNAL=ABRT" "MEMPROF_SIGNAL=32"
    "MEMPROF_SIGNAL=URG" "MEMPROF_SIGNAL=TSTP" "MEMPROF_SIGNAL=TERM" "MEMPROF_SIGNAL=HUP"
    "MEMPROF_SIGNAL=SIGINT" "MEMPROF_SIGNAL=3"
    "MEMPROF_UNWIND_CHECK=7" "MEMPROF_UNWIND_CHECK=yes" "MEMPROF_UNWIND_CHECK=10"
)
i=0
for c in "${cases[@]}"; do
    i=$((i + 1))
    var=${c%%=*}
    dir=$WORK/case$i
    rc=0
    timeout -k 5 30 env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$dir" MEMPROF_INTERVAL=0 "$c" \
        "$prog" return7 >"$dir.out" 2>"$dir.err" || rc=$?
    [[ $rc -eq 7 ]] || fail "$c: status $rc, expected 7: $(cat "$dir.err")"
    cmp -s "$WORK/plain.out" "$dir.out" || fail "$c: stdout changed"
    n=$(grep -c '^memprof:' "$dir.err" || true)
    [[ $n -eq 1 ]] || fail "$c: $n 'memprof:' lines on stderr, expected 1: $(cat "$dir.err")"
    [[ $(wc -l <"$dir.err") -eq 1 ]] || fail "$c: stderr has more than the warning: $(cat "$dir.err")"
    grep -q "$var" "$dir.err" || fail "$c: the warning does not name $var: $(cat "$dir.err")"
    mapfile -t files < <(snapshots "$dir")
    [[ ${#files[@]} -eq 1 ]] || fail "$c: expected the exit snapshot, found ${#files[@]}"
    report_json "${files[0]}" "$dir.json"
    if [[ $var == MEMPROF_SAMPLE ]]; then
        [[ $(jq_py "$dir.json" 'd["sample_bytes"]') == 524288 ]] ||
            fail "$c: sample_bytes is $(jq_py "$dir.json" 'd["sample_bytes"]'), not the default 524288"
    fi
    "$MEMPROF_BIN" locks "${files[0]}" >/dev/null || fail "$c: memprof locks failed"
    echo "$c -> $(cat "$dir.err")"
done

# Valid spellings must not warn.
for c in MEMPROF_SIGNAL=USR2 MEMPROF_SIGNAL=SIGUSR2 MEMPROF_SIGNAL=12 MEMPROF_LOCKS=0 MEMPROF_LOCKS=1 \
    MEMPROF_SAMPLE=1 MEMPROF_DEPTH=1 MEMPROF_INTERVAL=0 MEMPROF_SIGNAL=usr2 MEMPROF_SIGNAL=RTMIN+1 \
    MEMPROF_SAMPLE=64K MEMPROF_START=on MEMPROF_START=OFF MEMPROF_UNWIND_CHECK=0 MEMPROF_UNWIND_CHECK=1; do
    dir=$WORK/valid_${c//=/_}
    rc=0
    timeout -k 5 30 env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$dir" MEMPROF_INTERVAL=0 "$c" \
        "$prog" return7 >"$dir.out" 2>"$dir.err" || rc=$?
    [[ $rc -eq 7 ]] || fail "$c: status $rc"
    [[ ! -s $dir.err ]] || fail "$c is valid but the shim said: $(cat "$dir.err")"
    # Dormant and never enabled: nothing recorded, nothing written.
    [[ $c != MEMPROF_START=OFF || -z $(snapshots "$dir" 2>/dev/null) ]] ||
        fail "$c: a dormant process that was never enabled wrote $(snapshots "$dir")"
done
echo "ok: ${#cases[@]} invalid values, one warning each, defaults used"

# A refused signal leaves the program's own behaviour alone: yes dies of
# SIGPIPE when head has read its byte (status 141), as without the shim.
rc=$(LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$WORK/pipe" MEMPROF_SIGNAL=PIPE bash -c \
    'yes 2>/dev/null | head -c1 >/dev/null; echo ${PIPESTATUS[0]}')
[[ $rc -eq 141 ]] || fail "MEMPROF_SIGNAL=PIPE: yes exited $rc, not 141 (SIGPIPE)"
echo "MEMPROF_SIGNAL=PIPE: yes still dies of SIGPIPE"
