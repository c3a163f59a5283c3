#!/usr/bin/env bash
# SPEC "Safety": under secure execution (setuid/setgid programs, AT_SECURE)
# the shim is inert: it reads no MEMPROF_*, creates no directory, writes no
# file, opens no socket and starts no thread. The real path: the shim
# installed system-wide in /etc/ld.so.preload (ld.so ignores LD_PRELOAD
# for setuid programs but loads ld.so.preload), a setuid-root and a
# setgid copy of sleep run by nobody with MEMPROF_OUT pointing where only
# root could write. /etc/ld.so.preload is changed only inside a private
# mount namespace (an overlay on /etc), never on the machine itself.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/sec_lib.sh"

if [[ ${1:-} != --inside ]]; then
    [[ $(id -u) -eq 0 ]] || { echo "skip: needs root"; exit 0; }
    command -v unshare >/dev/null || fail "unshare (util-linux) is missing"
    exec unshare --mount --propagation private bash "$0" --inside
fi

sec_setup
# Becoming nobody under a system-wide preload: a static helper, which
# ld.so.preload cannot reach (setpriv would run under the shim itself).
cat >"$WORK/runas.c" <<'C'
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    if (argc < 4 || setgroups(0, NULL) || setgid(atoi(argv[2])) || setuid(atoi(argv[1])))
        return perror("runas"), 126;
    /* /usr/bin/env itself runs profiled (as nobody, not secure): its own
     * snapshot, if it sampled anything before its exec, goes here. */
    if (getenv("RUNAS_MEMPROF_OUT"))
        setenv("MEMPROF_OUT", getenv("RUNAS_MEMPROF_OUT"), 1);
    execv(argv[3], argv + 3);
    return perror(argv[3]), 127;
}
C
gcc -static -O1 -o "$PUB/runas" "$WORK/runas.c" || fail "cannot build a static program (libc6-dev?)"
nob="$PUB/runas $(id -u nobody) $(id -g nobody) /usr/bin/env"
ovl=$PUB/overlay
mkdir -p "$ovl/upper" "$ovl/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$ovl/upper,workdir=$ovl/work" /etc ||
    fail "cannot mount an overlay on /etc in a private mount namespace"
sec_cleanup_add "umount /etc"
echo "$SHIM" >/etc/ld.so.preload

cp "$(command -v sleep)" "$PUB/plain-sleep"
cp "$(command -v sleep)" "$PUB/suid-sleep"
cp "$(command -v sleep)" "$PUB/sgid-sleep"
chmod 0755 "$PUB/plain-sleep"
chmod 4755 "$PUB/suid-sleep"
chown root:root "$PUB/sgid-sleep"
chmod 2755 "$PUB/sgid-sleep"
mkdir -m 0700 "$PUB/nobody-out" "$PUB/root-only" "$PUB/env-out"
chown nobody:nogroup "$PUB/nobody-out" "$PUB/env-out"
export RUNAS_MEMPROF_OUT=$PUB/env-out

# The control: the same program without privileges, under the same
# system-wide preload, profiles and writes as nobody.
$nob MEMPROF_OUT="$PUB/nobody-out" MEMPROF_INTERVAL=0 "$PUB/plain-sleep" 0.3
[[ -n $(snapshots "$PUB/nobody-out") ]] || fail "the system-wide preload is not active (control wrote nothing)"
echo "control: $(basename "$(snapshots "$PUB/nobody-out")")"

for prog in suid-sleep sgid-sleep; do
    $nob MEMPROF_OUT="$PUB/root-only/evil/sub" MEMPROF_INTERVAL=1 \
        MEMPROF_SIGNAL=USR1 "$PUB/$prog" 1.5 2>"$WORK/$prog.err" &
    pid=$!
    sleep 0.7
    kill -0 $pid || fail "$prog ended early"
    [[ $(ls /proc/$pid/task | wc -l) -eq 1 ]] || fail "$prog: the shim started a thread under AT_SECURE"
    ! grep -q "@memprof.$pid\$" /proc/net/unix || fail "$prog: the shim opened its socket under AT_SECURE"
    # root asking it is told why there is no answer (memprof itself runs
    # under the system-wide preload here: its own snapshots go aside)
    rc=0
    MEMPROF_OUT=$WORK/memprof-self "$BIN" snapshot $pid >/dev/null 2>"$WORK/$prog.snap" || rc=$?
    [[ $rc -eq 1 ]] && grep -q 'secure execution' "$WORK/$prog.snap" ||
        fail "$prog: memprof snapshot: status $rc: $(cat "$WORK/$prog.snap")"
    wait $pid || fail "$prog failed under the inert shim"
    [[ ! -e $PUB/root-only/evil ]] || fail "$prog: the shim created $PUB/root-only/evil as root"
    [[ -z $(find "$PUB" / -xdev -maxdepth 1 -name "*.$pid.*mprof*" 2>/dev/null) ]] ||
        fail "$prog: a snapshot was written"
    [[ ! -s $WORK/$prog.err ]] || fail "$prog: the inert shim said something: $(cat "$WORK/$prog.err")"
    echo "$prog as nobody: no thread, no socket, no file, nothing said"
done
# A setuid program that leaks and execs (tests/programs/life_exec.c): no
# snapshot before the exec either, and the exec'd sh (euid root, uid
# nobody: secure execution too) writes nothing.
cp "$TEST_PROGS/life_exec" "$PUB/suid-exec"
chmod 4755 "$PUB/suid-exec"
out=$($nob MEMPROF_OUT="$PUB/root-only/evil/sub" MEMPROF_SAMPLE=1 LIFE_EXEC_VAR=x \
    "$PUB/suid-exec" execv 2>"$WORK/suid-exec.err") || fail "suid-exec failed: $(cat "$WORK/suid-exec.err")"
[[ $out == "one two|execv|x" ]] || fail "suid-exec: the exec'd sh printed '$out'"
[[ ! -e $PUB/root-only/evil ]] || fail "suid-exec: the shim created $PUB/root-only/evil as root"
found=$(find "$PUB" -name "*.mprof*" ! -path "$PUB/nobody-out/*" ! -path "$PUB/env-out/*"; find / -xdev -maxdepth 2 -name "suid-exec.*mprof*" 2>/dev/null)
[[ -z $found ]] || fail "suid-exec: a snapshot was written: $found"
[[ ! -s $WORK/suid-exec.err ]] || fail "suid-exec: the inert shim said something: $(cat "$WORK/suid-exec.err")"
echo "suid-exec as nobody: no snapshot before its exec, none after"
echo "ok: inert under secure execution"
