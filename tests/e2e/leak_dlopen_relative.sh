#!/usr/bin/env bash
# A leak inside a library dlopen'd by a relative name ("./libplugin.so",
# as plugin hosts and tutorials do): the loader knows it by that name, and
# the snapshot used to record it so; the analyzer (rightly) refuses a
# relative module path, so the culprit was an unnamed "??" frame. The shim
# now records the kernel's absolute path: the leak ranks first by name,
# from the directory the test runs in as from any other.
source "$(dirname "$0")/common.sh"
cd "$TEST_PROGS"
check_planted_leak leak_dlopen leak_in_plugin libplugin.c -- ./libplugin.so
f=$(snapshots "$WORK/exact" | tail -1)
"$MEMPROF_BIN" report "$f" --json --top 0 >"$WORK/modules.json" || fail "memprof report $f failed"
python3 - "$WORK/modules.json" "$TEST_PROGS/libplugin.so" <<'PY' || fail "libplugin.so is not recorded by its absolute path"
import json, os, sys
d = json.load(open(sys.argv[1]))
mods = {f["module"] for s in d["sites"] for f in s["frames"]}
want = os.path.realpath(sys.argv[2])
sys.exit(0 if want in {os.path.realpath(m) for m in mods if m.startswith("/")} and
         not any(m.startswith("./") for m in mods) else 1)
PY
echo "ok: a library dlopen'd by a relative name is named"
