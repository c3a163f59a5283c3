#!/usr/bin/env bash
# MEMPROF_OUT that cannot be written: under a regular file, unwritable for
# the user, replaced by a file while the program runs, and removed while it
# runs (SPEC: "created if missing", so writing resumes). Each time: at most
# one `memprof:` line for a streak of failures, the program's output and
# status unchanged, and never a file under a final *.mprof name that is not
# a whole snapshot, nor a temporary file left behind.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

prog=$TEST_PROGS/life_exit
"$prog" return7 1 >"$WORK/plain.out" 2>/dev/null && fail "life_exit exited 0" || true

# run_prog NAME OUT [SECONDS] [RUNAS...]: runs life_exit return7 with
# MEMPROF_OUT=OUT and a 1 s timer; status must be 7, stdout unchanged.
run_prog() {
    local name=$1 out=$2 secs=${3:-1}
    shift 3 || shift $#
    local rc=0
    timeout -k 5 30 "$@" env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$out" MEMPROF_INTERVAL=1 \
        "$prog" return7 "$secs" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    [[ $rc -eq 7 ]] || fail "$name: status $rc, expected 7: $(cat "$WORK/$name.err")"
    cmp -s "$WORK/plain.out" "$WORK/$name.out" || fail "$name: stdout changed"
}
warnings() { grep -c '^memprof:' "$WORK/$1.err" || true; }
# whole DIR: every *.mprof in DIR reads, and no temporary file is left.
whole() {
    local f
    for f in $(snapshots "$1"); do
        "$MEMPROF_BIN" report "$f" >/dev/null 2>&1 || fail "$f is under a final name but does not read"
    done
    [[ -z $(find "$1" -maxdepth 1 -name '.*' ! -name . 2>/dev/null) ]] ||
        fail "temporary files left in $1: $(find "$1" -maxdepth 1 -name '.*' ! -name .)"
}

# 1. Under a regular file: ENOTDIR on every write (three: two timer, exit).
: >"$WORK/afile"
run_prog notdir "$WORK/afile/snaps" 2.5
[[ $(warnings notdir) -eq 1 ]] || fail "notdir: $(warnings notdir) warning lines, expected 1: $(cat "$WORK/notdir.err")"
echo "notdir: $(cat "$WORK/notdir.err")"

# 2. A directory the user may not write (as nobody, if we can switch).
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    # nobody must reach the program and the shim: the checkout may sit under
    # a private directory (a CI clone in a mktemp -d), so run copies from a
    # world-readable one.
    pub=$(mktemp -d /tmp/memprof-config-out.XXXXXX)
    chmod 0755 "$pub"
    cp "$prog" "$MEMPROF_SHIM" "$pub/"
    mkdir -p "$pub/ro"
    chmod 0555 "$pub/ro"
    prog=$pub/$(basename "$prog") MEMPROF_SHIM=$pub/$(basename "$MEMPROF_SHIM") \
        run_prog readonly "$pub/ro" 2.5 setpriv --reuid=nobody --regid=nogroup --clear-groups
    [[ $(warnings readonly) -eq 1 ]] || fail "readonly: $(warnings readonly) warning lines, expected 1: $(cat "$WORK/readonly.err")"
    [[ -z $(ls -A "$pub/ro") ]] || fail "readonly: files appeared in an unwritable directory"
    rm -rf "$pub"
    echo "readonly: $(cat "$WORK/readonly.err")"
else
    echo "skip: unwritable-directory case needs root and setpriv"
fi

# 3. Replaced by a regular file while running: the first timer snapshot is
# written, later ones fail: one warning for the streak.
(
    for _ in $(seq 1 100); do
        [[ -n $(snapshots "$WORK/vanish" 2>/dev/null) ]] && break
        sleep 0.05
    done
    mv "$WORK/vanish" "$WORK/vanish.moved"
    : >"$WORK/vanish"
) &
helper=$!
run_prog replaced "$WORK/vanish" 3
wait "$helper"
[[ -n $(snapshots "$WORK/vanish.moved") ]] || fail "replaced: no snapshot before the directory was replaced"
[[ $(warnings replaced) -eq 1 ]] || fail "replaced: $(warnings replaced) warning lines, expected 1: $(cat "$WORK/replaced.err")"
whole "$WORK/vanish.moved"
echo "replaced: $(cat "$WORK/replaced.err")"

# 4. Removed while running: recreated, the exit snapshot lands there.
(
    for _ in $(seq 1 100); do
        [[ -n $(snapshots "$WORK/gone" 2>/dev/null) ]] && break
        sleep 0.05
    done
    rm -rf "$WORK/gone"
) &
helper=$!
run_prog removed "$WORK/gone" 2.5
wait "$helper"
mapfile -t files < <(snapshots "$WORK/gone")
[[ ${#files[@]} -ge 1 ]] || fail "removed: MEMPROF_OUT was not recreated: no snapshot after removal ($(cat "$WORK/removed.err"))"
whole "$WORK/gone"
head -1 < <("$MEMPROF_BIN" report "${files[-1]}") | grep -q '(exit)' || fail "removed: the last snapshot is not the exit one"
echo "removed: recreated, ${#files[@]} snapshot(s) after removal, $(warnings removed) warning(s)"
echo "ok: unwritable and vanishing MEMPROF_OUT"
