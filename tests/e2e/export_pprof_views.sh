#!/usr/bin/env bash
# pprof for source views and fleets (issue 13):
#  - a program compiled from a subdirectory with a relative source path
#    (DW_AT_name ../src/relsrc.c): `go tool pprof -list` run from another
#    directory shows the source lines, because file names are joined with
#    DW_AT_comp_dir;
#  - the C culprit's Function has its own name as system_name (as Go
#    writes it for a name that is not mangled) and the line its definition
#    starts at as start_line (`-raw` shows s=LINE and no "(other name)");
#  - --labels service=..,host=..,version=..: every sample carries them,
#    `go tool pprof -tags` shows each with 100% of the total; a malformed
#    list is refused with one memprof: line and exit 1, writing nothing.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/export_lib.sh"
need_consumers
need_tool gcc gcc

mkdir -p "$WORK/proj/src" "$WORK/proj/build"
cat >"$WORK/proj/src/relsrc.c" <<'C'
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) void *rel_leak(size_t n)
{
    void *p = malloc(n);   /* the leak's line */
    if (p)
        memset(p, 1, n);
    return p;
}

int main(void)
{
    for (int i = 0; i < 64; i++)
        rel_leak(65536);
    return 0;
}
C
(cd "$WORK/proj/build" && gcc -g -O1 -fno-inline ../src/relsrc.c -o relsrc) ||
    fail "cannot compile relsrc.c"
readelf --debug-dump=info "$WORK/proj/build/relsrc" >"$WORK/relsrc.info" || fail "readelf failed"
grep -q 'DW_AT_name.*: \.\./src/relsrc\.c' "$WORK/relsrc.info" ||
    fail "relsrc's DW_AT_name is not the relative ../src/relsrc.c"
run_under_shim "$WORK/run" MEMPROF_SAMPLE=1 -- "$WORK/proj/build/relsrc"
snap=$(snapshot_of "$WORK/run" 0001)

mp /dev/null pprof "$snap" -o "$WORK/rel.pb.gz"
gopprof "$WORK/list.txt" -list rel_leak "$WORK/rel.pb.gz"   # runs in $WORK, not proj/build
grep -q 'ROUTINE =* rel_leak in /.*relsrc\.c' "$WORK/list.txt" ||
    fail "-list names no absolute source file: $(head -3 "$WORK/list.txt")"
grep -Eq '^ +[0-9.]+[kKMG]?B +[0-9.]+[kKMG]?B +[0-9]+: +void \*p = malloc\(n\);' "$WORK/list.txt" ||
    fail "-list does not show the leak's source line with its bytes: $(cat "$WORK/list.txt")"

# --- Function.system_name and start_line
start=$(grep -n '^__attribute__((noinline)) void \*rel_leak(size_t n)$' "$WORK/proj/src/relsrc.c" | cut -d: -f1)
pycheck pprof-functions "$WORK/rel.pb.gz" >"$WORK/functions.tsv" || fail "pprof Functions: see above"
row=$(awk -F'\t' '$2 == "rel_leak"' "$WORK/functions.tsv")
expect_eq "pprof Function of rel_leak (id, name, system_name, file, start_line)" "$(cut -f2- <<<"$row")" \
    "$(printf 'rel_leak\trel_leak\t%s\t%s' "$WORK/proj/build/../src/relsrc.c" "$start")"
gopprof "$WORK/raw.txt" -raw "$WORK/rel.pb.gz"
grep -Eq " M=1 rel_leak $WORK/proj/build/\.\./src/relsrc\.c:[0-9]+ s=$start\$" "$WORK/raw.txt" ||
    fail "pprof -raw does not show rel_leak with s=$start: $(grep rel_leak "$WORK/raw.txt")"

# --- labels
mp /dev/null pprof "$snap" --labels service=api,host=web-1.example,version=1.2.3 -o "$WORK/lab.pb.gz"
gopprof "$WORK/tags.txt" -tags "$WORK/lab.pb.gz"
for kv in service:api host:web-1.example version:1.2.3; do
    awk -v k="${kv%%:*}:" -v v="${kv#*:}" '$1 == k {key = 1; next} key && /^ *[a-z]+:/ {key = 0}
        key && $NF == v && /100%/ {found = 1} END {exit !found}' "$WORK/tags.txt" ||
        fail "-tags does not show ${kv%%:*}=${kv#*:} on 100% of the profile: $(cat "$WORK/tags.txt")"
done
for bad in "" service "=api" "service=" "service=a,service=b" "1x=y" "pid=7" "a=b,,c=d" \
    "a=b$(printf '\t')c"; do
    rc=0
    "$MEMPROF_BIN" pprof "$snap" --labels "$bad" -o "$WORK/bad.pb.gz" 2>"$WORK/bad.err" || rc=$?
    expect_eq "exit status of --labels '$bad'" "$rc" 1
    [[ $(grep -c '^memprof: ' "$WORK/bad.err") -eq 1 && $(wc -l <"$WORK/bad.err") -eq 1 ]] ||
        fail "--labels '$bad': not one memprof: line: $(cat "$WORK/bad.err")"
    [[ ! -e $WORK/bad.pb.gz ]] || fail "--labels '$bad' wrote a profile"
done
echo "export_pprof_views: ok"
