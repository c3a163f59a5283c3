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
