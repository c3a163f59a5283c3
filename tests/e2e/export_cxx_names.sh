#!/usr/bin/env bash
# C++ names through every export (tests/programs/export_cxx_names.cpp):
# "(anonymous namespace)::Box<std::pair<int, char>&>::grow(int)",
# "operator<(Key const&, Key const&)" and "operator\"\" _blocks(unsigned long long)"
# hold < > & , " spaces and parentheses. The flame SVG must stay well-formed
# and carry them unaltered, folded lines keep their shape (the value after
# the last space), and go tool pprof shows them as memprof report does.
# pprof's Functions carry the mangled linkage name as system_name (the one
# `nm` pairs with the demangled name) and the line each function starts at
# as start_line, as Go's own profiles do; `-raw` shows both.
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/export_lib.sh"
need_consumers

run_under_shim "$WORK/run" MEMPROF_SAMPLE=1 -- "$TEST_PROGS/export_cxx_names"
snap=$(snapshot_of "$WORK/run" 0001)
mp "$WORK/report.json" report "$snap" --json --top 0
names=("(anonymous namespace)::Box<std::pair<int, char>&>::grow(int)"
    "operator<(Key const&, Key const&)"
    'operator"" _blocks(unsigned long long)')
tags=(box less literal)
total=$(json_get "$WORK/report.json" 'd["total"]["bytes"]')
for i in 0 1 2; do
    n=${names[i]}
    want=$(sed -n "s/^LEAK ${tags[i]} bytes=\([0-9]*\)$/\1/p" "$WORK/run.out")
    [[ -n $want ]] || fail "no LEAK ${tags[i]} line"
    got=$(NAME=$n json_get "$WORK/report.json" \
        'sum(s["bytes"] for s in d["sites"] if s["frames"][0]["function"] == __import__("os").environ["NAME"])')
    expect_eq "report: bytes of $n" "$got" "$want"
done

# --- folded: names intact, one line each with the exact bytes
mp "$WORK/heap.folded" folded "$snap"
pycheck folded "$WORK/heap.folded" --total "$total" --leaf "${names[2]}" --via main ||
    fail "folded: see above"
for i in 0 1 2; do
    want=$(sed -n "s/^LEAK ${tags[i]} bytes=\([0-9]*\)$/\1/p" "$WORK/run.out")
    grep -Fqx -- "_start;__libc_start_main;__libc_start_call_main;main;${names[i]} $want" "$WORK/heap.folded" ||
        fail "folded: no line main;${names[i]} $want"
done

# --- flame: well-formed, and the attribute values unescape to the names
mp /dev/null flame "$snap" -o "$WORK/heap.svg"
check_svg "$WORK/heap.svg" --root-value "$total"
python3 - "$WORK/heap.svg" "${names[@]}" <<'EOF' || fail "flame: C++ names altered, see above"
import sys, xml.etree.ElementTree as ET
svg, want = sys.argv[1], sys.argv[2:]
ns = "{http://www.w3.org/2000/svg}"
got = {}
for g in ET.parse(svg).getroot().iter(ns + "g"):
    if g.get("class") == "f":
        got[g.get("data-n")] = g.find(ns + "title").text
bad = [n for n in want if n not in got or not got[n].startswith(n + "\n")]
for n in bad:
    print("flame: no frame named %r with that title (frames: %s)" % (n, sorted(got)), file=sys.stderr)
sys.exit(1 if bad else 0)
EOF

# --- pprof: go tool pprof names the functions as memprof does
mp /dev/null pprof "$snap" -o "$WORK/heap.pb.gz"
gopprof "$WORK/raw_none.txt" -raw -symbolize=none "$WORK/heap.pb.gz"
for n in "${names[@]}"; do
    grep -Fq -- " M=1 $n " "$WORK/raw_none.txt" || fail "pprof -raw -symbolize=none: no location in $n"
done
# With pprof's default options the names must come out as written: pprof
# "demangles" Function.system_name whenever it equals Function.name (or
# name is empty), and on a name that is already demangled its fallback
# strips every (...) and <...>, so "(anonymous namespace)::Box<...>::grow(int)"
# would show as "::Box::grow". An exporter that writes demangled names must
# leave system_name out or put the mangled linkage name there.
gopprof "$WORK/top.txt" -top -unit=B "$WORK/heap.pb.gz"
for i in 0 1 2; do
    want=$(sed -n "s/^LEAK ${tags[i]} bytes=\([0-9]*\)$/\1/p" "$WORK/run.out")
    grep -Fq -- "${want}B" "$WORK/top.txt" || fail "pprof -top: no ${want}B"
    shown=$(grep -E "^ *${want}B +[0-9.]+% +[0-9.]+% +${want}B " "$WORK/top.txt" | sed 's/^.*%  //' | head -1)
    if [[ $shown != "${names[i]}" ]]; then
        sed -n '/flat%/,$p' "$WORK/top.txt" >&2
        fail "go tool pprof -top (default options) shows '$shown' for the ${want}B that memprof report gives to '${names[i]}'"
    fi
done

# --- pprof: system_name is the linkage name, start_line the definition's line
nm --defined-only "$TEST_PROGS/export_cxx_names" | awk '{print $3}' >"$WORK/nm.raw"
nm --defined-only -C "$TEST_PROGS/export_cxx_names" | cut -d' ' -f3- >"$WORK/nm.demangled"
paste "$WORK/nm.demangled" "$WORK/nm.raw" >"$WORK/nm.pairs"
pycheck pprof-functions "$WORK/heap.pb.gz" >"$WORK/functions.tsv" || fail "pprof Functions: see above"
gopprof "$WORK/raw.txt" -raw "$WORK/heap.pb.gz"
src=$(cd "$E2E_DIR/../programs" && pwd)/export_cxx_names.cpp
defs=('static CULPRIT void grow(int blocks)' 'CULPRIT bool operator<(const Key &a' 'CULPRIT unsigned long long operator""_blocks(')
for i in 0 1 2; do
    n=${names[i]}
    mangled=$(awk -F'\t' -v n="$n" '$1 == n {print $2}' "$WORK/nm.pairs" | sort -u)
    [[ $mangled == _Z* && $mangled != *$'\n'* ]] || fail "nm pairs '$n' with '$mangled', not one _Z name"
    start=$(grep -nF -- "${defs[i]}" "$src" | cut -d: -f1)
    [[ -n $start ]] || fail "no definition of $n in $src"
    row=$(awk -F'\t' -v n="$n" '$2 == n' "$WORK/functions.tsv")
    [[ -n $row ]] || fail "pprof has no Function named $n: $(cat "$WORK/functions.tsv")"
    expect_eq "pprof system_name of $n" "$(cut -f3 <<<"$row")" "$mangled"
    expect_eq "pprof start_line of $n" "$(cut -f5 <<<"$row")" "$start"
    grep -Fq -- " $n $src:" "$WORK/raw.txt" || fail "pprof -raw: no line of $n in $src"
    grep -F -- " $n " "$WORK/raw.txt" | grep -Fq -- " s=$start($mangled)" ||
        fail "pprof -raw does not show s=$start($mangled) for $n: $(grep -F -- " $n " "$WORK/raw.txt")"
done
echo "export_cxx_names: ok"
