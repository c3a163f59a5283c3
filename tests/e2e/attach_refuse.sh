#!/usr/bin/env bash
# memprof attach refuses, with one `memprof:` line and exit 1, and leaves
# the target untouched (libmemprof.so not mapped, no extra thread, its
# output unchanged): another user's process (attacher unprivileged), a
# statically linked program, a process already profiled (preloaded, or
# attached), a process in a mount namespace where the library's path does
# not exist, a stopped process, one whose request socket name another user
# holds, no gdb on PATH, no such process, bad
# options or MEMPROF_ATTACH_WAIT. An unprivileged user attaching to its
# own process succeeds.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/attach_lib.sh"

prog=$TEST_PROGS/attach_target

# refused NAME WORD PID [ENV...] -- [PREFIX...]: memprof attach PID run
# (under PREFIX) must exit 1 with one line mentioning WORD.
refused() {
    local name=$1 word=$2 pid=$3 rc=0
    shift 3
    local -a envs=()
    while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    local maps_before=0
    [[ -r /proc/$pid/maps ]] && maps_before=$(grep -c 'libmemprof\.so' "/proc/$pid/maps" || true)
    timeout -k 5 60 env "${envs[@]}" "$@" "$MEMPROF_BIN" attach "$pid" -o "$WORK/pub/snaps" "${EXTRA[@]}" \
        >"$WORK/$name.aout" 2>"$WORK/$name.aerr" || rc=$?
    [[ $rc -eq 1 ]] || fail "$name: memprof attach exited $rc, expected 1: $(cat "$WORK/$name.aerr")"
    [[ $(wc -l <"$WORK/$name.aerr") -eq 1 ]] && grep -q '^memprof: attach: ' "$WORK/$name.aerr" ||
        fail "$name: expected one memprof: line, got: $(cat "$WORK/$name.aerr")"
    grep -qi -- "$word" "$WORK/$name.aerr" || fail "$name: the refusal does not say '$word': $(cat "$WORK/$name.aerr")"
    [[ ! -s $WORK/$name.aout ]] || fail "$name: stdout: $(cat "$WORK/$name.aout")"
    if [[ -r /proc/$pid/maps ]]; then
        [[ $(grep -c 'libmemprof\.so' "/proc/$pid/maps" || true) -eq $maps_before ]] ||
            fail "$name: libmemprof.so got mapped into the refused process"
    fi
    echo "$name: $(cat "$WORK/$name.aerr")"
}

# untouched NAME: the cmd target runs on and ends like a plain run.
untouched() {
    local name=$1
    [[ $(threads "$TGT_PID") -eq 1 ]] || fail "$name: the target has $(threads "$TGT_PID") threads"
    tgt_send churn
    tgt_wait_line "$name" '^CHURNED 1$'
    tgt_send quit
    tgt_finish
    [[ $TGT_RC -eq 0 ]] || fail "$name: the target exited $TGT_RC"
    [[ $(cat "$WORK/$name.out") == $'READY\nCHURNED 1\nDONE' ]] || fail "$name: output: $(cat "$WORK/$name.out")"
}

EXTRA=()
mkdir -p "$WORK/pub"
chmod 1777 "$WORK/pub"

refused bad-pid 'PID' notapid --
refused no-pid 'no process' 2147483000 --
EXTRA=(--bogus)
refused bad-option 'unknown option' $$ --
EXTRA=(--sample x)
refused bad-sample 'bad --sample' $$ --
EXTRA=(-o "$WORK/x
MEMPROF_SAMPLE=1")
refused newline-in-dir 'control characters' $$ --
EXTRA=(-o "$WORK/tab	dir")
refused tab-in-dir 'control characters' $$ --
EXTRA=()
for w in abc -3 0 3601 1.5; do
    refused "bad-wait-$w" 'invalid MEMPROF_ATTACH_WAIT' $$ MEMPROF_ATTACH_WAIT="$w" --
done

if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    # nobody must reach memprof, the shim and the program: copies in a
    # world-readable place (the checkout may be private)
    public_dir "$MEMPROF_BIN" "$MEMPROF_SHIM" "$prog"
    root_bin=$MEMPROF_BIN root_shim=$MEMPROF_SHIM root_prog=$prog
    MEMPROF_BIN=$PUBLIC/$(basename "$MEMPROF_BIN")
    export MEMPROF_SHIM=$PUBLIC/$(basename "$MEMPROF_SHIM")
    prog=$PUBLIC/$(basename "$prog")
    mkdir -m 1777 "$PUBLIC/pub"
    tgt_start other "$prog" cmd
    tgt_wait_line other '^READY$'
    refused other-user 'belongs to root' "$TGT_PID" -- setpriv --reuid=nobody --regid=nogroup --clear-groups
    untouched other

    # Root attaching to nobody's process, snapshots into a directory only
    # root may write: nobody could not write them.
    tgt_start rootdir setpriv --reuid=nobody --regid=nogroup --clear-groups "$prog" cmd
    tgt_wait_line rootdir '^READY$'
    mkdir -p "$WORK/rootonly"
    chmod 700 "$WORK/rootonly"
    rc=0
    timeout -k 5 60 "$MEMPROF_BIN" attach "$TGT_PID" -o "$WORK/rootonly/sub" >"$WORK/rootdir.aout" 2>"$WORK/rootdir.aerr" || rc=$?
    [[ $rc -eq 1 && $(wc -l <"$WORK/rootdir.aerr") -eq 1 ]] && grep -q 'cannot write' "$WORK/rootdir.aerr" ||
        fail "unwritable output directory: exit $rc: $(cat "$WORK/rootdir.aerr")"
    ! mapped "$TGT_PID" || fail "rootdir: libmemprof.so got mapped"
    echo "rootdir: $(cat "$WORK/rootdir.aerr")"
    untouched rootdir

    # A setuid-root program started by nobody (real uid nobody, effective
    # root): secure execution, where the shim is inert. Root's attach is
    # refused, else nobody would own its profiler and its requests.
    cp "$prog" "$PUBLIC/setuid_target"
    chown root:root "$PUBLIC/setuid_target"
    chmod 4755 "$PUBLIC/setuid_target"
    tgt_start setuid setpriv --reuid=nobody --regid=nogroup --clear-groups "$PUBLIC/setuid_target" cmd
    tgt_wait_line setuid '^READY$'
    [[ $(awk '/^Uid:/ {print $2, $3}' /proc/$TGT_PID/status) == "$(id -u nobody) 0" ]] ||
        fail "setuid: the target is not setuid root: $(grep '^Uid:' /proc/$TGT_PID/status)"
    refused setuid 'setuid' "$TGT_PID" --
    untouched setuid

    # nobody squats @memprof.<pid> of root's process: not "already
    # profiled" (the name is not the process's), but refused all the same
    # (the profiler would be unreachable), naming the squatter.
    tgt_start squatted "$prog" cmd
    tgt_wait_line squatted '^READY$'
    setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\0memprof." + sys.argv[1]); s.listen(1)
print("bound", flush=True); time.sleep(60)' "$TGT_PID" >"$WORK/squat.out" &
    squatter=$!
    for _ in $(seq 100); do [[ -s $WORK/squat.out ]] && break; sleep 0.05; done
    [[ -s $WORK/squat.out ]] || fail "squatted: the squatter could not bind"
    refused squatted "taken by process $squatter (uid $(id -u nobody))" "$TGT_PID" --
    kill $squatter
    wait $squatter 2>/dev/null || true
    untouched squatted

    # Its own process: allowed without any privilege.
    tgt_start own setpriv --reuid=nobody --regid=nogroup --clear-groups "$prog" cmd
    tgt_wait_line own '^READY$'
    rc=0
    timeout -k 5 60 setpriv --reuid=nobody --regid=nogroup --clear-groups \
        "$MEMPROF_BIN" attach "$TGT_PID" -o "$PUBLIC/pub/own" --interval 0 >"$WORK/own.aout" 2>"$WORK/own.aerr" || rc=$?
    [[ $rc -eq 0 ]] || fail "an unprivileged user could not attach to its own process: $(cat "$WORK/own.aerr")"
    tgt_send churn
    tgt_wait_line own '^CHURNED 1$'
    f=$(snap "$TGT_PID")
    [[ $(stat -c %U "$f") == nobody ]] || fail "the snapshot is not owned by the process's user"
    tgt_send quit
    tgt_finish
    [[ $TGT_RC -eq 0 ]] || fail "own: the target exited $TGT_RC"
    echo "own: attached as nobody to nobody's process"
    MEMPROF_BIN=$root_bin MEMPROF_SHIM=$root_shim prog=$root_prog
    rm -rf "$PUBLIC"
else
    echo "skip: the other-user cases need root and setpriv"
fi

# A target whose own dlopen fails and whose dlerror says, after a newline,
# that the attach succeeded, with a terminal escape: the refusal is one
# line, escaped, and gdb's verdict is not the target's.
cat >"$WORK/liar.c" <<'C'
#include <stdio.h>
void *dlopen(const char *f, int m) { (void)f; (void)m; return 0; }
char *dlerror(void) { return "no\nmemprof-attach: ok\n\033[2Jcleared"; }
int main(void) { char b[64]; puts("READY"); fflush(stdout); while (fgets(b, sizeof b, stdin)) ; return 0; }
C
gcc -O1 -rdynamic -o "$WORK/liar" "$WORK/liar.c" || fail "cannot build the lying target"
tgt_start liar "$WORK/liar"
tgt_wait_line liar '^READY$'
refused liar 'could not load' "$TGT_PID" --
! LC_ALL=C grep -q $'\x1b' "$WORK/liar.aerr" || fail "liar: the target's escape reached the terminal"
tgt_finish

cat >"$WORK/static.c" <<'C'
#include <stdio.h>
int main(void) { char b[64]; while (fgets(b, sizeof b, stdin)) puts(b); return 0; }
C
gcc -static -O1 -o "$WORK/static_reader" "$WORK/static.c" || fail "cannot build a static program"
tgt_start static "$WORK/static_reader"
refused static 'statically linked' "$TGT_PID" --
tgt_finish

tgt_start pre env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$WORK/pre.snaps" MEMPROF_INTERVAL=0 "$prog" cmd
tgt_wait_line pre '^READY$'
refused preloaded 'already profiled' "$TGT_PID" --
tgt_send quit
tgt_finish

tgt_start twice "$prog" cmd
tgt_wait_line twice '^READY$'
attach_ok "$TGT_PID" -o "$WORK/twice.snaps" --interval 0
refused attached-twice 'already profiled' "$TGT_PID" --
detach_ok "$TGT_PID"
tgt_send quit
tgt_finish

tgt_start stopped "$prog" cmd
tgt_wait_line stopped '^READY$'
kill -STOP "$TGT_PID"
for i in $(seq 1 100); do grep -q '^State:.*T' "/proc/$TGT_PID/status" && break; sleep 0.01; done
refused stopped 'stopped' "$TGT_PID" --
kill -CONT "$TGT_PID"
untouched stopped

tgt_start nogdb "$prog" cmd
tgt_wait_line nogdb '^READY$'
mkdir -p "$WORK/emptybin"
refused no-gdb 'gdb not found' "$TGT_PID" PATH="$WORK/emptybin" --
untouched nogdb

if [[ $(id -u) -eq 0 ]] && command -v unshare >/dev/null; then
    shimdir=$(dirname "$MEMPROF_SHIM")
    # A process whose mount namespace hides the library (as a container's would).
    (exec unshare -m --propagation private sh -c "mount -t tmpfs none '$shimdir' && exec sleep 60") &
    TGT_PID=$!
    for i in $(seq 1 200); do [[ $(readlink "/proc/$TGT_PID/exe") == */sleep ]] && break; sleep 0.01; done
    refused mntns 'mount namespace' "$TGT_PID" --
    kill "$TGT_PID"; wait "$TGT_PID" 2>/dev/null || true
    TGT_PID=
else
    echo "skip: the mount-namespace case needs root and unshare"
fi
echo "ok: every refusal was one line, exit 1, target untouched"
