#!/usr/bin/env bash
# unshare(CLONE_NEWUSER) needs a single-threaded process; the shim's
# collector thread steps aside for it, so `unshare -U -r` behaves the same
# with and without the shim (where user namespaces are disabled, both fail
# the same way).
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

command -v unshare >/dev/null || { echo "skip: no unshare"; exit 0; }
REAL_ENV=(MEMPROF_SAMPLE=4096)
# unshare execs id, so only id leaves a snapshot.
real_run unshare 30 -- unshare -U -r sh -c 'id -u; echo done'
echo "ok: unshare -U under the shim (status $(cat "$WORK/unshare.plain.rc"))"

# The same as an ordinary user (the shim copied where that user can read
# it): inside the new namespace its euid reads 0, which is not a drop of
# privileges (snapfile.c), so its files go to the output directory itself,
# with nothing printed.
if [[ $(id -u) -eq 0 ]] && id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
    pub=$(mktemp -d /tmp/memprof-unshare.XXXXXX)
    trap 'rm -rf "$pub"' EXIT
    chmod 0755 "$pub"
    cp "$MEMPROF_SHIM" "$pub/" && chmod 0755 "$pub/$(basename "$MEMPROF_SHIM")"
    mkdir "$pub/snaps" && chown nobody "$pub/snaps"
    rc=0
    timeout -k 5 30 setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
        env LD_PRELOAD="$pub/$(basename "$MEMPROF_SHIM")" MEMPROF_OUT="$pub/snaps" MEMPROF_SAMPLE=4096 \
        unshare -U -r sh -c 'id -u' >"$WORK/nobody.out" 2>"$WORK/nobody.err" || rc=$?
    if [[ $(cat "$WORK/unshare.plain.rc") -eq 0 ]]; then
        [[ $rc -eq 0 && $(cat "$WORK/nobody.out") == 0 ]] || fail "unshare as nobody: status $rc: $(cat "$WORK/nobody.out" "$WORK/nobody.err")"
        [[ ! -s $WORK/nobody.err ]] || fail "unshare as nobody: the shim printed: $(head -3 "$WORK/nobody.err")"
        [[ -n $(snapshots "$pub/snaps") ]] || fail "unshare as nobody: no snapshot in the output directory"
        [[ -z $(find "$pub/snaps" -mindepth 1 -type d) ]] || fail "unshare as nobody: a uid-N directory was made: $(find "$pub/snaps" -mindepth 1 -type d)"
        echo "ok: unshare -U -r as nobody: snapshots in the output directory, nothing printed"
    fi
fi
