#!/usr/bin/env bash
# sec_lib.sh - helpers for the tests/e2e/sec_*.sh safety tests (SPEC
# "Safety in someone else's process"), sourced after common.sh. Run by
# itself (ctest e2e_sec_lib) it checks the helpers: as_user really changes
# the user, and the attack sysctls are what sec_attack_sysctls asked.
#
#   sec_setup          root, setpriv and the users nobody and daemon, else
#                      skip; $PUB: a 0755 directory under /tmp with copies
#                      of memprof ($BIN) and the shim ($SHIM) any user can
#                      run; everything in sec_cleanup (EXIT trap)
#   as_user U CMD...   CMD as user U (uid, its group, no other groups)
#   as_user_argv U     the same command prefix in AS_USER, for CMD & ($!)
#   sec_attack_sysctls fs.protected_symlinks=0, fs.protected_regular=0 if
#                      they can be set (restored at exit): the kernel's own
#                      defences off, as on many containers, so that the
#                      shim's defences are what the test sees
#   sec_cleanup_add CMD  one more command for the EXIT trap
#   wait_socket PID    until PID's shim listens on @memprof.PID

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    source "$(dirname "$0")/common.sh"
fi

SEC_CLEANUP=()
sec_cleanup_add() { SEC_CLEANUP+=("$*"); }
sec_cleanup() {
    local i
    for ((i = ${#SEC_CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${SEC_CLEANUP[i]}" >/dev/null 2>&1 || true
    done
}
trap sec_cleanup EXIT

sec_setup() {
    if [[ $(id -u) -ne 0 ]] || ! command -v setpriv >/dev/null || ! id nobody >/dev/null 2>&1 ||
        ! id daemon >/dev/null 2>&1; then
        echo "skip: needs root, setpriv and the users nobody and daemon"
        exit 0
    fi
    PUB=$(mktemp -d /tmp/memprof-sec.XXXXXX)
    sec_cleanup_add "rm -rf '$PUB'"
    chmod 0755 "$PUB"
    cp "$MEMPROF_BIN" "$MEMPROF_SHIM" "$PUB/"
    BIN=$PUB/$(basename "$MEMPROF_BIN")
    SHIM=$PUB/$(basename "$MEMPROF_SHIM")
    # `memprof run` as another user must find this copy, not the build's
    # (a build under a 0700 directory, as a clean clone in mktemp -d is)
    export MEMPROF_SHIM=$SHIM
    chmod 0755 "$BIN" "$SHIM"
}

# setpriv also for root. In the background use "${AS_USER[@]}" U CMD &
# instead (a function would run in a subshell, and $! would be its pid).
as_user() {
    local u=$1
    shift
    setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups "$@"
}
# as_user_argv U: the setpriv command line of as_user into AS_USER.
as_user_argv() {
    AS_USER=(setpriv --reuid="$1" --regid="$(id -g "$1")" --clear-groups)
}

sec_attack_sysctls() {
    local k old
    for k in fs.protected_symlinks fs.protected_regular; do
        old=$(sysctl -n "$k" 2>/dev/null) || continue
        [[ $old == 0 ]] && continue
        if sysctl -qw "$k=0" 2>/dev/null; then
            sec_cleanup_add "sysctl -qw $k=$old"
        fi
    done
}

# wait_socket PID: until the shim of PID listens on @memprof.PID.
wait_socket() {
    local _
    for _ in $(seq 50); do
        grep -q "@memprof.$1\$" /proc/net/unix 2>/dev/null && return 0
        sleep 0.1
    done
    fail "process $1 never opened its request socket"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    sec_setup
    [[ $(as_user nobody id -u) == "$(id -u nobody)" ]] || fail "as_user nobody is not nobody"
    [[ $(as_user daemon id -G) == "$(id -g daemon)" ]] || fail "as_user daemon kept groups"
    [[ -x $BIN && -r $SHIM ]] || fail "no copies in $PUB"
    as_user nobody test -x "$BIN" || fail "nobody cannot run $BIN"
    sec_attack_sysctls
    echo "protected_symlinks=$(sysctl -n fs.protected_symlinks) protected_regular=$(sysctl -n fs.protected_regular)"
    echo "ok: sec_lib helpers"
fi
