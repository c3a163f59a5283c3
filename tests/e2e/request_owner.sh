#!/usr/bin/env bash
# SPEC "Safety": `memprof snapshot PID` is honoured only for the process's
# own user or root. The abstract socket itself has no permissions, so the
# shim checks the peer's credentials: another user gets exit 1 and one
# line, and no snapshot is written; root and the owner get theirs. Runs as
# root, with `nobody` as the other user (setpriv).
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/sec_lib.sh"   # wait_socket (its EXIT trap is replaced below)

if [[ $(id -u) -ne 0 ]] || ! command -v setpriv >/dev/null || ! id nobody >/dev/null 2>&1; then
    echo "skip: needs root, setpriv and the user nobody"
    exit 0
fi
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

# nobody must reach the binaries, wherever the checkout sits.
pub=$(mktemp -d /tmp/memprof-request-owner.XXXXXX)
trap 'kill $victim $owned 2>/dev/null || true; rm -rf "$pub"' EXIT
chmod 0755 "$pub"
cp "$MEMPROF_BIN" "$MEMPROF_SHIM" "$pub/"
bin=$pub/$(basename "$MEMPROF_BIN")
shim=$pub/$(basename "$MEMPROF_SHIM")
# Each process's own private directory (SPEC: the shim refuses a
# directory other users can write).
mkdir -m 0700 "$pub/snaps" "$pub/nobody-snaps"
chown nobody:nogroup "$pub/nobody-snaps"


# 1. A root process: nobody is refused, root is served.
LD_PRELOAD=$shim MEMPROF_OUT=$pub/snaps MEMPROF_INTERVAL=0 sleep 60 &
victim=$!
wait_socket $victim
rc=0
as_nobody "$bin" snapshot $victim >"$WORK/nobody.out" 2>"$WORK/nobody.err" || rc=$?
[[ $rc -eq 1 ]] || fail "nobody asking root's process: status $rc, expected 1"
[[ $(wc -l <"$WORK/nobody.err") -eq 1 ]] && grep -q '^memprof: .*not allowed' "$WORK/nobody.err" ||
    fail "nobody asking root's process: expected one 'not allowed' line: $(cat "$WORK/nobody.err")"
[[ ! -s $WORK/nobody.out ]] || fail "a refused request printed a path: $(cat "$WORK/nobody.out")"
[[ -z $(snapshots "$pub/snaps") ]] || fail "a refused request wrote $(snapshots "$pub/snaps")"
kill -0 $victim || fail "the refused request disturbed the process"
echo "nobody -> root's process: $(cat "$WORK/nobody.err")"
got=$("$bin" snapshot $victim) || fail "root asking its own process failed"
[[ -f $got && $got == "$pub/snaps/"* ]] || fail "root's request gave '$got'"

# 2. A process of nobody: nobody (its owner) and root are both served.
# setpriv itself, not the function: $! must be the process, not a subshell.
setpriv --reuid=nobody --regid=nogroup --clear-groups \
    env LD_PRELOAD="$shim" MEMPROF_OUT="$pub/nobody-snaps" MEMPROF_INTERVAL=0 sleep 60 &
owned=$!
wait_socket $owned
got=$(as_nobody "$bin" snapshot $owned) || fail "nobody asking its own process failed"
[[ -f $got ]] || fail "the owner's request gave '$got'"
[[ $(stat -c %U "$got") == nobody ]] || fail "the snapshot is not nobody's: $(stat -c %U "$got")"
got=$("$bin" snapshot $owned) || fail "root asking nobody's process failed"
[[ -f $got ]] || fail "root's request gave '$got'"
echo "ok: requests only from the process's own user or root"
