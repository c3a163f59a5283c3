#!/usr/bin/env bash
# A fork child that sandboxes itself as Firefox's content processes do
# (seccomp-bpf; a system call outside the policy raises SIGSYS, whose
# handler reports the violation and ends the process). Found by trial20:
# `memprof run --interval 1 -- firefox-esr --headless --screenshot ...`
# logged "seccomp sandbox violation: ... syscall 310" for three content
# processes, and they died. With an interval (or a signal, or dormant mode)
# the collector thread runs from the start, the fork server's children
# are fork children of a multi-threaded parent, and those read their
# modules from /proc/self/maps, copying each object's headers with
# process_vm_readv (modules_maps.c, copy_self), which Firefox's policy
# traps. copy_self falls back to memcpy on ENOSYS or EPERM, but a trapping
# policy never returns an error: the process gets SIGSYS instead.
# KNOWN BROKEN, so registered DISABLED in tests/CMakeLists.txt.
#
# tests/programs/sandbox_fork: the parent forks; the child installs a
# filter that traps process_vm_readv only, loads libplugin.so and leaks
# through it. It must end as it does plainly (status 0), and its exit
# snapshot must name the plugin's leak.
source "$(dirname "$0")/common.sh"

prog=$TEST_PROGS/sandbox_fork
plugin=$TEST_PROGS/libplugin.so
plain_ok "sandbox_fork" "$WORK/plain.out" "$prog" "$plugin"
grep -q 'status 0$' "$WORK/plain.out" || fail "sandbox_fork's child fails without the shim: $(cat "$WORK/plain.out")"

rc=0
shim_exec 60 "$WORK/snaps" MEMPROF_INTERVAL=1 MEMPROF_SAMPLE=1 -- "$prog" "$plugin" \
    >"$WORK/shim.out" 2>"$WORK/shim.err" || rc=$?
[[ $rc -eq 0 ]] || fail "sandbox_fork under the shim: status $rc: $(cat "$WORK/shim.err")"
read -r _ child _ status <"$WORK/shim.out"
[[ $status == 0 ]] ||
    fail "the sandboxed child died under the shim (status $status): $(head -3 "$WORK/shim.err")"
f=$(snapshots "$WORK/snaps" | grep -E "\.$child\.[0-9]{4}\.mprof\$" | tail -1)
[[ -n $f ]] || fail "the sandboxed child $child left no snapshot"
"$MEMPROF_BIN" report --json --top 0 "$f" >"$WORK/child.json" || fail "report $f failed"
python3 - "$WORK/child.json" <<'PY' || fail "the child's exit snapshot does not name leak_in_plugin first"
import json, sys
d = json.load(open(sys.argv[1]))
fr = d["sites"][0]["frames"]
sys.exit(0 if fr and fr[0]["function"] == "leak_in_plugin" else 1)
PY
echo "ok: a seccomp-sandboxed fork child under the shim ends as it does plainly, its leak named"
