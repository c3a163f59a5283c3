#!/usr/bin/env bash
# Chromium under the shim, without flags (issue 11 item 8): its zygote
# aborts when it finds a thread it did not make, so with the shim's
# collector thread started at load every run failed. Now the shim has no
# thread until the program has one, and `chromium --headless --dump-dom`
# prints the same DOM as without the shim (the page's script ran), exits
# 0, and the browser process leaves its exit snapshot. Chromium brings its
# own allocator, so the shim's one warning about that is expected.
source "$(dirname "$0")/common.sh"

command -v chromium >/dev/null || { echo "skip: no chromium (scripts/setup installs it)"; exit 0; }
browser_page "$WORK/page.html"
run() {   # run NAME [VAR=VALUE...]
    local name=$1 rc=0
    shift
    mkdir -p "$WORK/$name.home"
    timeout -k 5 90 env HOME="$WORK/$name.home" "$@" chromium --headless --no-sandbox --disable-gpu \
        --user-data-dir="$WORK/$name.home/profile" --dump-dom "file://$WORK/page.html" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    echo "$rc" >"$WORK/$name.rc"
}
run plain
[[ $(cat "$WORK/plain.rc") -eq 0 ]] || { echo "skip: chromium fails here even without the shim: $(tail -3 "$WORK/plain.err")"; exit 0; }
grep -q "scripted 42" "$WORK/plain.out" || fail "plain chromium did not run the page's script: $(head -c 300 "$WORK/plain.out")"

mkdir -p "$WORK/snaps"
run shim LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$WORK/snaps"
rc=$(cat "$WORK/shim.rc")
[[ $rc -eq 0 ]] || fail "chromium under the shim exited $rc: $(grep -v dbus "$WORK/shim.err" | tail -5)"
cmp -s "$WORK/plain.out" "$WORK/shim.out" || fail "chromium under the shim printed another DOM: $(head -c 300 "$WORK/shim.out")"
! grep -q "FATAL\|Check failed" "$WORK/shim.err" || fail "chromium under the shim: $(grep "FATAL\|Check failed" "$WORK/shim.err" | head -3)"
[[ -n $(ls "$WORK/snaps"/chromium.*.mprof 2>/dev/null) ]] || fail "no snapshot of chromium's processes"
echo "ok: chromium --dump-dom under the shim, $(ls "$WORK/snaps" | wc -l) snapshots"
