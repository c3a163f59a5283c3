#!/usr/bin/env bash
# `memprof run` checks its options with the shim's own parser
# (include/memprof_options.h): a value the shim would refuse is refused by
# the launcher first, with one `memprof:` line naming the option, exit 1,
# and the program never started; a value it accepts reaches the shim as the
# MEMPROF_* variable and works end to end, without a warning.
source "$(dirname "$0")/common.sh"

# Refused: every signal but USR1, USR2 and the real-time ones (uncatchable,
# faults, TERM and the like, those the kernel sends on the program's own
# account), by name and number, unknown names,
# and out-of-range numbers of the other options.
refused=(
    "--signal KILL" "--signal SIGKILL" "--signal 9" "--signal STOP" "--signal SEGV"
    "--signal 11" "--signal 0" "--signal FOO" "--signal 999" "--signal="
    "--signal PIPE" "--signal 14" "--signal SIGCHLD" "--signal winch" "--signal 33"
    "--signal TERM" "--signal 15" "--signal hup"
    "--sample 0" "--sample 1e3" "--sample 12kb" "--interval 99999999999" "--interval -1"
)
i=0
for opts in "${refused[@]}"; do
    i=$((i + 1))
    marker=$WORK/ran$i
    read -r -a words <<<"$opts"
    rc=0
    timeout -k 5 30 "$MEMPROF_BIN" run -o "$WORK/refused$i" "${words[@]}" -- touch "$marker" \
        >"$WORK/refused$i.out" 2>"$WORK/refused$i.err" || rc=$?
    [[ $rc -eq 1 ]] || fail "run $opts: status $rc, expected 1: $(cat "$WORK/refused$i.err")"
    [[ $(wc -l <"$WORK/refused$i.err") -eq 1 ]] && grep -q '^memprof: ' "$WORK/refused$i.err" ||
        fail "run $opts: expected one 'memprof:' line, got: $(cat "$WORK/refused$i.err")"
    grep -q -- "${words[0]%%=*}" "$WORK/refused$i.err" ||
        fail "run $opts: the message does not name the option: $(cat "$WORK/refused$i.err")"
    [[ ! -e $marker ]] || fail "run $opts: the program ran anyway"
    [[ ! -e $WORK/refused$i ]] || fail "run $opts: an output directory was created"
    echo "$opts -> $(cat "$WORK/refused$i.err")"
done

# Accepted: the launcher hands the shim the canonical spelling.
"$MEMPROF_BIN" run -o "$WORK/envdir" --signal sigusr2 --sample 64K --interval 0 --no-locks \
    -- env >"$WORK/env.out" 2>"$WORK/env.err" || fail "run -- env failed: $(cat "$WORK/env.err")"
[[ ! -s $WORK/env.err ]] || fail "valid options, but: $(cat "$WORK/env.err")"
for want in MEMPROF_SIGNAL=12 MEMPROF_SAMPLE=65536 MEMPROF_INTERVAL=0 MEMPROF_LOCKS=0 \
    "MEMPROF_OUT=$WORK/envdir"; do
    grep -qx -- "$want" "$WORK/env.out" || fail "the program's environment lacks $want"
done

# End to end, each spelling of USR2: the program's own SIGUSR2 (tp_snapshot)
# writes a snapshot, the exit another, and the planted leak ranks first.
for sig in USR2 SIGUSR2 12; do
    dir=$WORK/run_$sig
    rc=0
    timeout -k 5 100 "$MEMPROF_BIN" run -o "$dir" --signal "$sig" --interval 0 -- \
        "$TEST_PROGS/leak_malloc" >"$dir.out" 2>"$dir.err" || rc=$?
    [[ $rc -eq 0 ]] || fail "run --signal $sig: status $rc: $(cat "$dir.err")"
    [[ ! -s $dir.err ]] || fail "run --signal $sig: stderr: $(cat "$dir.err")"
    diff_old_new "$dir" "$dir.json"
    "$MEMPROF_BIN" report --json "$(snapshots "$dir" | head -1)" >"$dir.first.json"
    python3 - "$dir.first.json" "$dir.json" <<'PY' || fail "run --signal $sig: wrong snapshots"
import json, sys
first = json.load(open(sys.argv[1]))
assert first["trigger"] == "signal", first["trigger"]
top = json.load(open(sys.argv[2]))["sites"][0]["frames"][0]["function"]
assert top == "leak_plain_malloc", top
PY
    echo "--signal $sig: signal snapshot, then exit; leak_plain_malloc ranks first"
done
echo "ok: memprof run refuses what the shim refuses, and passes on what it accepts"
