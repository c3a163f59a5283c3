#!/usr/bin/env bash
# dlopen/dlclose loop over two plugins that leak from their own code and are
# then unloaded, often mapped at the same address
# (tests/programs/life_dlopen.c): every leaked byte must be attributed to the
# right function of the right (unloaded) library.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

REAL_ENV=(MEMPROF_SAMPLE=1 MEMPROF_INTERVAL=1)
real_run dlopen 60 -- "$TEST_PROGS/life_dlopen" "$TEST_PROGS" 400
a=$(sed -n 's/^plug_a_leak bytes=//p' "$WORK/dlopen.shim.out")
b=$(sed -n 's/^plug_b_leak bytes=//p' "$WORK/dlopen.shim.out")
last=$(snapshots "$WORK/dlopen.snaps" | grep '/life_dlopen\.' | tail -1)
report_json "$last" "$last.json"
got_a=$(jq_py "$last.json" 'inner("plug_a_leak")')
got_b=$(jq_py "$last.json" 'inner("plug_b_leak")')
[[ $got_a == "$a 400" ]] || fail "plug_a_leak holds '$got_a', expected '$a 400' (bytes count)"
[[ $got_b == "$b 400" ]] || fail "plug_b_leak holds '$got_b', expected '$b 400' (bytes count)"
python3 - "$last.json" <<'PY' || fail "frames of the unloaded plugins name the wrong module"
import json, sys
d = json.load(open(sys.argv[1]))
for s in d["sites"]:
    f = s["frames"][0]
    for lib in ("a", "b"):
        if f["function"] == "plug_%s_leak" % lib and not f["module"].endswith("liblife_plug_%s.so" % lib):
            print("plug_%s_leak attributed to module %s" % (lib, f["module"]))
            sys.exit(1)
PY
echo "ok: stacks into unloaded libraries symbolized against the right library"
