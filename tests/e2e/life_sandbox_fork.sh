#!/usr/bin/env bash
# A fork child that sandboxes itself as Firefox's content processes do
# (seccomp-bpf; a system call outside the policy raises SIGSYS, whose
# handler reports the violation and ends the process). Found by trial20:
# `memprof run --interval 1 -- firefox-esr --headless --screenshot ...`
# logged "seccomp sandbox violation: ... syscall 310" for three content
# processes, and they died. Two bugs behind it:
#   - with an interval (or a signal, or dormant mode) the collector thread
#     runs from the start, and glibc's flag made every fork child of even
#     a single-threaded program "frozen" (modules.c), reading its modules
#     from /proc/self/maps instead of asking the loader;
#   - a frozen child copied each object's headers with process_vm_readv
#     (modules_maps.c), which Firefox's policy traps: SIGSYS, never an
#     error to fall back from.
#
# tests/programs/sandbox_fork: the parent forks (alone, or with a thread of
# its own alive across the fork: "threaded", a child that really is
# frozen); the child installs a filter that traps process_vm_readv only,
# loads libplugin.so and leaks through it. It must end as it does plainly
# (status 0), and its exit snapshot must name the plugin's leak.
source "$(dirname "$0")/common.sh"

prog=$TEST_PROGS/sandbox_fork
plugin=$TEST_PROGS/libplugin.so

# case NAME [threaded]
case_ok() {
    local name=$1 rc=0 child status f
    shift
    plain_ok "sandbox_fork $*" "$WORK/$name.plain" "$prog" "$plugin" "$@"
    grep -q 'status 0$' "$WORK/$name.plain" ||
        fail "$name: sandbox_fork's child fails without the shim: $(cat "$WORK/$name.plain")"
    shim_exec 60 "$WORK/$name.snaps" MEMPROF_INTERVAL=1 MEMPROF_SAMPLE=1 -- "$prog" "$plugin" "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    [[ $rc -eq 0 ]] || fail "$name: sandbox_fork under the shim: status $rc: $(cat "$WORK/$name.err")"
    read -r _ child _ status <"$WORK/$name.out"
    [[ $status == 0 ]] ||
        fail "$name: the sandboxed child died under the shim (status $status): $(head -3 "$WORK/$name.err")"
    f=$(snapshots "$WORK/$name.snaps" | grep -E "\.$child\.[0-9]{4}\.mprof\$" | tail -1)
    [[ -n $f ]] || fail "$name: the sandboxed child $child left no snapshot"
    "$MEMPROF_BIN" report --json --top 0 "$f" >"$WORK/$name.json" || fail "$name: report $f failed"
    python3 - "$WORK/$name.json" <<'PY' || fail "$name: the child's exit snapshot does not name leak_in_plugin first"
import json, sys
d = json.load(open(sys.argv[1]))
fr = d["sites"][0]["frames"]
sys.exit(0 if fr and fr[0]["function"] == "leak_in_plugin" else 1)
PY
}

case_ok alone
case_ok threaded threaded

# The child of a program whose only other thread is the shim's collector
# asks the loader, as a child of a program that never had one does: it
# never reads /proc/self/maps (which costs it libunwind, modules.c).
command -v strace >/dev/null || fail "strace is missing (scripts/setup installs it)"
timeout -k 5 60 strace -f -qq -e trace=openat -o "$WORK/trace" \
    -E LD_PRELOAD="$MEMPROF_SHIM" -E MEMPROF_OUT="$WORK/traced" -E MEMPROF_INTERVAL=1 \
    "$prog" "$plugin" >"$WORK/traced.out" 2>"$WORK/traced.err" ||
    fail "sandbox_fork under strace: $(head -3 "$WORK/traced.err")"
read -r _ child _ status <"$WORK/traced.out"
[[ $status == 0 ]] || fail "the traced child died (status $status)"
! grep -E "^$child +openat\(.*/proc/self/maps" "$WORK/trace" >/dev/null ||
    fail "the fork child of a program with no thread but the collector read /proc/self/maps (frozen)"
echo "ok: a seccomp-sandboxed fork child under the shim ends as it does plainly, its leak named (parent alone and threaded); a collector alone does not freeze the child"
