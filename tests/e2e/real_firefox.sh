#!/usr/bin/env bash
# Firefox as users run it: an unprivileged user, headless, its content,
# RDD and socket processes sandboxed (seccomp-bpf with a file broker that
# lets them create no file outside a few directories of its own), under
# `memprof run` with the default settings and then attached to while it
# runs (trial20).
#
# Firefox links its own allocator (mozjemalloc), so the shim warns once
# per process that malloc is not libc's and profiles its locks only
# (README, "Known limitations"); the sandboxed processes cannot create
# their snapshot files and each says so in one line. What must hold:
#   - the screenshot is the one Firefox takes plainly, the status the same,
#     no sandbox violation logged (the shim stays inside the policy);
#   - no other `memprof:` line; every snapshot written is read by report
#     and locks; the browser's own exit snapshot ranks named locks;
#   - `memprof attach` to a running Firefox, `memprof snapshot`, `memprof
#     detach`: each snapshot says "after attach", the browser runs on and
#     exits by SIGTERM writing nothing more; a sandboxed content process
#     is refused in one line (exit 1), left running.
# The --interval run breaks the sandboxed processes: e2e_life_sandbox_fork.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/sec_lib.sh"
sec_setup
command -v firefox-esr >/dev/null || fail "no firefox-esr (run scripts/setup test)"
U=nobody
browser_page "$PUB/page.html"

# ff_home NAME: a fresh home and profile for $U.
ff_home() {
    local home=$PUB/$1.home
    mkdir -p "$home/profile"
    chown -R "$U" "$home"
    echo "$home"
}

# shot NAME [memprof run options...]: a screenshot of the page as $U,
# plainly (NAME plain) or under `memprof run`; status into $WORK/NAME.rc.
shot() {
    local name=$1 rc=0 home
    shift
    home=$(ff_home "$name")
    local -a pre=()
    [[ $name == plain ]] || pre=("$BIN" run -o "$home/snaps" "$@" --)
    timeout -k 5 120 setpriv --reuid="$U" --regid="$(id -g "$U")" --clear-groups \
        env HOME="$home" "${pre[@]}" firefox-esr --headless --no-remote --profile "$home/profile" \
        --screenshot "$home/shot.png" "file://$PUB/page.html" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    echo "$rc" >"$WORK/$name.rc"
    [[ $rc -ne 124 ]] || fail "firefox ($name) did not finish within 120 s"
}

shot plain
[[ $(cat "$WORK/plain.rc") -eq 0 && -s $PUB/plain.home/shot.png ]] ||
    { echo "skip: headless firefox does not run here even without the shim: $(tail -3 "$WORK/plain.err")"; exit 0; }
shot default
rc=$(cat "$WORK/default.rc")
[[ $rc -eq 0 ]] || fail "firefox under memprof run exited $rc: $(tail -5 "$WORK/default.err")"
cmp -s "$PUB/plain.home/shot.png" "$PUB/default.home/shot.png" ||
    fail "firefox's screenshot differs under the shim"
! grep -i 'sandbox violation' "$WORK/default.err" ||
    fail "a sandboxed firefox process met its seccomp policy under the shim"
snaps=$PUB/default.home/snaps
# A sandboxed process's files go through the parent's broker: it refuses
# ours (Permission denied), and once the parent has closed the broker at
# shutdown, SandboxBrokerClient::DoCall reads EOF and returns EIO (seen on a
# loaded machine, the content process's exit snapshot after the parent's).
others=$(grep '^memprof:' "$WORK/default.err" | grep -v -e ': malloc is provided by .*, not by libc;' \
    -e "^memprof: cannot write a snapshot in $snaps: Permission denied;" \
    -e "^memprof: cannot write a snapshot in $snaps: Input/output error;" || true)
[[ -z $others ]] || fail "unexpected warnings under memprof run: $(head -3 <<<"$others")"
mapfile -t files < <(snapshots "$snaps")
[[ ${#files[@]} -gt 0 ]] || fail "firefox under memprof run left no snapshot"
for f in "${files[@]}"; do
    timeout -k 5 60 "$BIN" report "$f" --top 5 >"$f.report" 2>&1 || fail "memprof report $f failed: $(head -3 "$f.report")"
    timeout -k 5 60 "$BIN" locks "$f" --top 5 >"$f.locks" 2>&1 || fail "memprof locks $f failed: $(head -3 "$f.locks")"
done
browser=$(grep -l '^memprof report: firefox-esr (pid [0-9]*), snapshot [0-9]* (exit)' "$snaps"/*.report |
    head -1)
[[ -n $browser ]] || fail "no firefox-esr exit snapshot among: $(ls "$snaps")"
browser=${browser%.report}
# The browser process is the first firefox-esr started: its pid is the lowest.
timeout -k 5 60 "$BIN" locks "$browser" --json --top 5 >"$WORK/locks.json" || fail "locks --json $browser failed"
python3 - "$WORK/locks.json" <<'PY' || fail "firefox's exit snapshot ranks no named lock: $(sed -n 2,6p "$browser.locks")"
import json, sys
d = json.load(open(sys.argv[1]))
locks = d["locks"]
assert locks, "no contended lock"
fr = locks[0]["frames"]
sys.exit(0 if fr and fr[0]["function"] not in (None, "", "??") else 1)
PY
echo "default: ${#files[@]} snapshots, $(grep -c 'cannot write a snapshot' "$WORK/default.err" || true) sandboxed processes skipped; top lock $(grep -m1 "first used at" "$browser.locks" | sed "s/^ *first used at //" | cut -c1-90)"

# Attach to a running browser (no --screenshot: it stays up).
home=$(ff_home attach)
as_user_argv "$U"
"${AS_USER[@]}" env HOME="$home" firefox-esr --headless --no-remote --profile "$home/profile" \
    "file://$PUB/page.html" >"$WORK/attach.ff.out" 2>"$WORK/attach.ff.err" &
ff=$!
sec_cleanup_add "kill -9 $ff"
content=
for _ in $(seq 600); do   # until a sandboxed content process is up (60 s)
    content=$(pgrep -u "$U" -f -- '-isForBrowser' | head -1 || true)
    [[ -n $content ]] && grep -q '^Seccomp:[[:space:]]*2' "/proc/$content/status" 2>/dev/null && break
    content=
    sleep 0.1
done
[[ -n $content ]] || fail "firefox started no sandboxed content process in 60 s"
rc=0
as_user "$U" "$BIN" attach "$ff" -o "$home/snaps" >"$WORK/attach.out" 2>&1 || rc=$?
[[ $rc -eq 0 ]] || fail "memprof attach to firefox exited $rc: $(cat "$WORK/attach.out")"
rc=0
as_user "$U" "$BIN" snapshot "$ff" >"$WORK/snapshot.out" 2>&1 || rc=$?
[[ $rc -eq 0 ]] || fail "memprof snapshot of attached firefox exited $rc: $(cat "$WORK/snapshot.out")"
rc=0
as_user "$U" "$BIN" detach "$ff" >"$WORK/detach.out" 2>&1 || rc=$?
[[ $rc -eq 0 ]] || fail "memprof detach from firefox exited $rc: $(cat "$WORK/detach.out")"
kill -0 "$ff" 2>/dev/null || fail "firefox is gone after the detach"
rc=0
as_user "$U" "$BIN" attach "$content" -o "$home/csnaps" >"$WORK/cattach.out" 2>&1 || rc=$?
[[ $rc -eq 1 && $(wc -l <"$WORK/cattach.out") -eq 1 ]] ||
    fail "attach to a sandboxed content process: status $rc, expected 1 and one line: $(cat "$WORK/cattach.out")"
kill -0 "$content" 2>/dev/null || fail "the content process is gone after the refused attach"
mapfile -t asnaps < <(snapshots "$home/snaps")
[[ ${#asnaps[@]} -eq 2 ]] || fail "attach, snapshot, detach: expected 2 snapshots, found ${#asnaps[@]}: ${asnaps[*]}"
for f in "${asnaps[@]}"; do
    "$BIN" report "$f" --top 3 >"$f.report" 2>&1 || fail "memprof report $f failed: $(head -3 "$f.report")"
    head -1 "$f.report" | grep -q 'after attach' || fail "$f does not say it was taken after an attach: $(head -1 "$f.report")"
    "$BIN" locks "$f" --top 3 >/dev/null 2>&1 || fail "memprof locks $f failed"
done
kill -TERM "$ff"
wait_gone "$ff" 60 || fail "firefox did not end on SIGTERM after the detach"
n=$(snapshots "$home/snaps" | wc -l)
[[ $n -eq 2 ]] || fail "a detached firefox wrote $((n - 2)) more snapshots at its exit"
echo "attach: 2 snapshots after attach, detach, clean exit; content process $content refused: $(cat "$WORK/cattach.out")"
echo "ok: firefox under the shim, default and attached"
