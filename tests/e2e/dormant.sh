#!/usr/bin/env bash
# MEMPROF_START=off: a process started under the shim records nothing
# (no sample, no lock, no periodic snapshot) until `memprof enable PID`;
# `memprof disable PID` returns it to dormant, and the same switches work
# on an attached process. Also: the switches refuse another user, an
# unprofiled process, and detach refuses a preloaded one.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/attach_lib.sh"

prog=$TEST_PROGS/attach_target
plugin=$TEST_PROGS/libplugin.so
samples() {
    "$MEMPROF_BIN" report "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["samples"])'
}
dormant_ms() {   # dormant_ms FILE: the snapshot's dormant time, in ms
    "$MEMPROF_BIN" report "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["dormant_ns"] // 1000000)'
}
# dormant_between A B LO HI: B's dormant time exceeds A's by LO..HI ms
dormant_between() {
    local a b
    a=$(dormant_ms "$1") b=$(dormant_ms "$2")
    (( b - a >= $3 && b - a <= $4 )) ||
        fail "dormant time went from $a to $b ms, expected a rise of $3..$4 ms"
}
switch_ok() {   # switch_ok enable|disable PID WORD
    local out
    out=$(timeout -k 5 30 "$MEMPROF_BIN" "$1" "$2") || fail "memprof $1 $2 failed"
    [[ $out == "$3" ]] || fail "memprof $1 printed '$out', expected '$3'"
}

rc=$(plain_run dorm $'leak\nplugin '"$plugin"$'\nchurn\nquit' "$prog" cmd)
[[ $rc -eq 0 ]] || fail "plain run exited $rc"

# ---- dormant from the start ----
snaps=$WORK/snaps
# The plugin's leak after enable is checked at SAMPLED_RATE (common.sh).
tgt_start dorm env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_START=off MEMPROF_INTERVAL=1 \
    MEMPROF_SAMPLE="$SAMPLED_RATE" MEMPROF_OUT="$snaps" "$prog" cmd
tgt_wait_line dorm '^READY$'
tgt_send leak
tgt_wait_line dorm '^LEAK '
sleep 1.5
[[ -z $(snapshots "$snaps" 2>/dev/null) ]] || fail "a dormant process wrote periodic snapshots: $(snapshots "$snaps")"
s0=$(snap "$TGT_PID")
[[ $(samples "$s0") -eq 0 ]] || fail "a dormant process took $(samples "$s0") samples"
# dormant since start, and the report says so
(( $(dormant_ms "$s0") >= 1400 )) || fail "dormant from the start, yet dormant_ns is $(dormant_ms "$s0") ms"
"$MEMPROF_BIN" report "$s0" | grep -q '^note: recording was off (dormant) for .* since start: ' ||
    fail "the report of a dormant snapshot does not say so: $("$MEMPROF_BIN" report "$s0" | head -5)"

switch_ok enable "$TGT_PID" recording
switch_ok enable "$TGT_PID" recording   # again: no change
s_on=$(snap "$TGT_PID")   # the dormant clock stopped at the enable
sleep 1   # recording: dormant time must not grow now
tgt_send "plugin $plugin"
tgt_wait_line dorm '^PLUGIN '
s1=$(snap "$TGT_PID")
diff_leak_ok "$s0" "$s1" "$WORK/enabled.json" "$WORK/dorm.out" PLUGIN leak_in_plugin libplugin.c
python3 - "$WORK/enabled.json" <<'PY' || fail "the leak made while dormant was recorded"
import json, sys
for s in json.load(open(sys.argv[1]))["sites"]:
    assert "leak_after_attach" not in [f["function"] for f in s["frames"]], s
PY

switch_ok disable "$TGT_PID" dormant
s2=$(snap "$TGT_PID")
n_dormant=$(snapshots "$snaps" | wc -l)
tgt_send churn
tgt_wait_line dorm '^CHURNED 1$'
sleep 1.5
s3=$(snap "$TGT_PID")
[[ $(samples "$s2") -eq $(samples "$s3") ]] ||
    fail "disabled, the process still sampled: $(samples "$s2") -> $(samples "$s3")"
dormant_between "$s_on" "$s1" 0 0   # recording since s_on: the clock stopped
dormant_between "$s2" "$s3" 1400 60000   # disabled for the churn and 1.5 s
n_before=$(snapshots "$snaps" | wc -l)
[[ $n_before -eq $((n_dormant + 1)) ]] || fail "periodic snapshots while disabled: $(snapshots "$snaps")"

# Refusals: another user, an unprofiled process, detach of a preloaded one.
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    rc=0
    timeout -k 5 30 setpriv --reuid=nobody --regid=nogroup --clear-groups \
        "$MEMPROF_BIN" enable "$TGT_PID" >/dev/null 2>"$WORK/other.err" || rc=$?
    [[ $rc -eq 1 ]] && grep -q 'not allowed' "$WORK/other.err" ||
        fail "another user could enable the process (exit $rc): $(cat "$WORK/other.err")"
fi
rc=0
timeout -k 5 30 "$MEMPROF_BIN" detach "$TGT_PID" >/dev/null 2>"$WORK/detach.err" || rc=$?
[[ $rc -eq 1 && $(wc -l <"$WORK/detach.err") -eq 1 ]] && grep -q 'not attached' "$WORK/detach.err" ||
    fail "detach of a preloaded process: exit $rc: $(cat "$WORK/detach.err")"
rc=0
timeout -k 5 30 "$MEMPROF_BIN" enable $$ >/dev/null 2>"$WORK/unprof.err" || rc=$?
[[ $rc -eq 1 ]] && grep -q 'not profiled' "$WORK/unprof.err" ||
    fail "enable of an unprofiled process: exit $rc: $(cat "$WORK/unprof.err")"

tgt_send quit
tgt_finish
[[ $TGT_RC -eq 0 ]] || fail "the dormant target exited $TGT_RC"
cmp -s "$WORK/dorm.plain.out" "$WORK/dorm.out" || fail "output differs from the plain run"
[[ ! -s $WORK/dorm.err ]] || fail "stderr: $(cat "$WORK/dorm.err")"
[[ $(snapshots "$snaps" | wc -l) -eq $((n_before + 1)) ]] || fail "no exit snapshot after recording once"

# ---- locks: nothing while dormant, ranked once enabled ----
tgt_start locks env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_START=off MEMPROF_INTERVAL=0 \
    MEMPROF_OUT="$WORK/locks.snaps" "$prog" busy 60 "$WORK/locks.stop"
sleep 0.5
l0=$(snap "$TGT_PID")
"$MEMPROF_BIN" locks "$l0" --json | python3 -c 'import json,sys; assert not json.load(sys.stdin)["locks"]' ||
    fail "a dormant process recorded lock contention"
switch_ok enable "$TGT_PID" recording
sleep 1
l1=$(snap "$TGT_PID")
"$MEMPROF_BIN" locks "$l1" --json | python3 -c '
import json, sys
locks = json.load(sys.stdin)["locks"]
assert locks and "busy_locked" in {f["function"] for s in locks[0]["sites"] for f in s["frames"]}, locks[:1]' ||
    fail "the contended mutex is not ranked after enable"
switch_ok disable "$TGT_PID" dormant
sleep 0.3
l2=$(snap "$TGT_PID")
sleep 1
l3=$(snap "$TGT_PID")
contentions() { "$MEMPROF_BIN" locks "$1" --json | python3 -c 'import json,sys; print(sum(l["contentions"] for l in json.load(sys.stdin)["locks"]))'; }
[[ $(contentions "$l2") -eq $(contentions "$l3") ]] ||
    fail "disabled, contention was still recorded: $(contentions "$l2") -> $(contentions "$l3")"
touch "$WORK/locks.stop"
tgt_finish
[[ $TGT_RC -eq 0 ]] || fail "the busy target exited $TGT_RC"

# ---- the switches on an attached process ----
tgt_start att "$prog" cmd
tgt_wait_line att '^READY$'
attach_ok "$TGT_PID" -o "$WORK/att.snaps" --interval 0
switch_ok disable "$TGT_PID" dormant
a0=$(snap "$TGT_PID")
tgt_send churn
tgt_wait_line att '^CHURNED 1$'
a1=$(snap "$TGT_PID")
[[ $(samples "$a0") -eq $(samples "$a1") ]] || fail "a disabled attached process still sampled"
switch_ok enable "$TGT_PID" recording
tgt_send churn
tgt_wait_line att '^CHURNED 2$'
a2=$(snap "$TGT_PID")
[[ $(samples "$a2") -gt $(samples "$a1") ]] || fail "an enabled attached process took no sample in 32 MiB of churn"
switch_ok disable "$TGT_PID" dormant
detach_ok "$TGT_PID"
tgt_send quit
tgt_finish
[[ $TGT_RC -eq 0 ]] || fail "the attached target exited $TGT_RC"
echo "ok: dormant start, enable, disable; on an attached process too"
