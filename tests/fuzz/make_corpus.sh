#!/usr/bin/env bash
# make_corpus.sh SHIM TEST_PROGS OUTDIR - the fuzz seed corpus: real
# snapshots (heap, stacks, locks, dlopen'ed modules, a forked child, an empty
# one) written by the shim, and small versions of gen_hostile.py's hostile
# files (shared frame ranges, overlapping modules and lock sites, long
# strings), each stored twice, behind mode byte 0 (load as is) and mode
# byte 1 (fix the checksum after mutation); see fuzz_reader.c.
set -euo pipefail
shim=$1 progs=$2 out=$3
snaps=$(mktemp -d)
trap 'rm -rf "$snaps"' EXIT
run() { timeout -k 5 60 env LD_PRELOAD="$shim" MEMPROF_OUT="$snaps" MEMPROF_INTERVAL=0 "$@" >/dev/null 2>&1 || true; }
run MEMPROF_SAMPLE=1 /bin/true
run MEMPROF_SAMPLE=1 "$progs/life_signal"
run MEMPROF_SAMPLE=64 "$progs/life_dlopen" "$progs" 20
run MEMPROF_SAMPLE=1 "$progs/life_spawn"
run MEMPROF_SAMPLE=4096 "$progs/lock_hot" 20000
run MEMPROF_LOCKS=0 MEMPROF_DEPTH=4 "$progs/life_threads"
python3 "$(dirname "$0")/gen_hostile.py" "$snaps" --scale 0.01
mkdir -p "$out"
n=0
for f in "$snaps"/*.mprof; do
    [[ -e $f ]] || continue
    # Keep the corpus small: at most 200 KiB per seed.
    [[ $(stat -c %s "$f") -le 204800 ]] || continue
    b=$(basename "$f" .mprof)
    { printf '\0'; cat "$f"; } >"$out/raw-$b"
    { printf '\1'; cat "$f"; } >"$out/fix-$b"
    n=$((n + 1))
done
[[ $n -gt 0 ]] || { echo "make_corpus: no snapshot was written" >&2; exit 1; }
echo "make_corpus: $n snapshots, $((2 * n)) seeds in $out"
