#!/usr/bin/env bash
# Chromium as users run it: an unprivileged user, the sandbox on (the
# zygote in new user and PID namespaces, which requires it to be
# single-threaded when it chroots itself; SPEC "Safety": the shim's thread
# must not break programs that check they are single-threaded). With the
# default settings that holds (e2e_real_chromium, and the first run
# here). With `memprof run --interval N`, `--signal SIG` or
# MEMPROF_START=off the shim's collector thread runs from the start in
# every process (collector.c, schedule_asked); the zygote's check
# (fstatat(proc_fd, "self/task/")) makes it step aside first
# (preload/threadcheck.c), and the zygote's namespaced child, made by
# clone() without the fork handlers, runs with the shim inert
# (lifecycle.c). Before that the zygote found a second thread and the
# browser aborted ("Failed to receive hello message from zygote", 134).
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/sec_lib.sh"
sec_setup
command -v chromium >/dev/null || fail "no chromium (scripts/setup test installs it)"
U=nobody
browser_page "$PUB/page.html"

# browse NAME [memprof run options...]: chromium --dump-dom as $U, plainly
# (NAME plain) or under `memprof run`.
browse() {
    local name=$1 rc=0
    shift
    local home=$PUB/$name.home
    mkdir -p "$home"
    chown "$U" "$home"
    local -a pre=()
    [[ $name == plain ]] || pre=("$BIN" run -o "$home/snaps" "$@" --)
    timeout -k 5 90 setpriv --reuid="$U" --regid="$(id -g "$U")" --clear-groups \
        env HOME="$home" "${pre[@]}" chromium --headless --disable-gpu \
        --user-data-dir="$home/profile" --dump-dom "file://$PUB/page.html" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    echo "$rc" >"$WORK/$name.rc"
}
browse plain
[[ $(cat "$WORK/plain.rc") -eq 0 ]] && grep -q "scripted 42" "$WORK/plain.out" ||
    { echo "skip: sandboxed chromium does not run here even without the shim: $(grep -v dbus "$WORK/plain.err" | tail -3)"; exit 0; }
failed=()
for how in default "--interval 5" "--signal USR2" dormant; do
    case $how in
    default) browse default ;;
    dormant) MEMPROF_START=off browse dormant ;;
    *) browse "${how//[- ]/}" $how ;;
    esac
    name=$how
    [[ $how == --* ]] && name=${how//[- ]/}
    rc=$(cat "$WORK/$name.rc")
    if [[ $rc -ne 0 ]] || ! cmp -s "$WORK/plain.out" "$WORK/$name.out"; then
        failed+=("$how (status $rc: $(grep -o 'FATAL:[^]]*] .*' "$WORK/$name.err" | head -1))")
    fi
done
[[ ${#failed[@]} -eq 0 ]] || fail "sandboxed chromium under memprof run broke with: ${failed[*]}"
echo "ok: sandboxed chromium under the shim, default, interval, signal and dormant"
