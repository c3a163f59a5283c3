#!/usr/bin/env bash
# A program that loads and unloads a plugin 9000 times (more than the
# shim's module table holds, 8192 records) and then leaks from it: the leak
# is still ranked first under the plugin's function (the oldest records of
# unloaded objects are forgotten, not the new ones left out), and the
# report says that module records were forgotten.
source "$(dirname "$0")/common.sh"
check_planted_leak leak_dlopen leak_in_plugin libplugin.c -- "$TEST_PROGS/libplugin.so" 9000
for mode in sampled exact; do
    last=$(snapshots "$WORK/$mode" | tail -1)
    n=$("$MEMPROF_BIN" report --json "$last" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"]["modules_forgotten"])')
    [[ $n -gt 0 ]] || fail "$mode: counters.modules_forgotten is $n after 9000 plugin loads"
    "$MEMPROF_BIN" report "$last" >"$WORK/$mode.report" || fail "$mode: memprof report failed"
    grep -q "^warning: $n module records forgotten (the program loaded more objects" "$WORK/$mode.report" ||
        fail "$mode: the report does not say that $n module records were forgotten"
done
echo "ok: leak ranked by name after 9000 plugin loads; the report says $n records were forgotten"
