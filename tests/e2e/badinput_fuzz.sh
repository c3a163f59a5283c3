#!/usr/bin/env bash
# The libFuzzer target for the snapshot reader (tests/fuzz/fuzz_reader.c),
# built with clang -fsanitize=fuzzer,address,undefined against
# analyzer/reader.c, modindex.c and util.c, seeded with real snapshots
# (tests/fuzz/make_corpus.sh), run for MEMPROF_FUZZ_SECONDS (default 20):
# any crash, sanitizer report, leak, 10 s hang or 2 GiB input fails the test.
# scripts/fuzz is the same for longer runs.
source "$(dirname "$0")/common.sh"

root=$(cd "$E2E_DIR/../.." && pwd)
command -v clang >/dev/null || fail "clang is missing (run scripts/setup)"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -D_GNU_SOURCE -I"$root/include" -I"$root/analyzer" \
    "$root/tests/fuzz/fuzz_reader.c" "$root/analyzer/reader.c" "$root/analyzer/modindex.c" \
    "$root/analyzer/util.c" \
    -lxxhash -o "$WORK/fuzz_reader" 2>"$WORK/build.log" ||
    { cat "$WORK/build.log" >&2; fail "cannot build the fuzzer (libclang-rt-14-dev?)"; }
"$root/tests/fuzz/make_corpus.sh" "$MEMPROF_SHIM" "$TEST_PROGS" "$WORK/seeds"
mkdir -p "$WORK/corpus"
cd "$WORK"
rc=0
timeout -k 10 $(( ${MEMPROF_FUZZ_SECONDS:-20} + 60 )) ./fuzz_reader -max_total_time="${MEMPROF_FUZZ_SECONDS:-20}" \
    -timeout=10 -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 \
    corpus seeds >"$WORK/fuzz.log" 2>&1 || rc=$?
grep -E '^stat::number_of_executed_units|^Done' "$WORK/fuzz.log" || true
if [[ $rc -ne 0 ]]; then
    grep -E -A30 'ERROR|runtime error|deadly signal|Timeout|out-of-memory' "$WORK/fuzz.log" | head -60 >&2
    fail "the fuzzer found a problem (status $rc); reproducer: $(ls "$WORK"/crash-* "$WORK"/timeout-* "$WORK"/leak-* "$WORK"/oom-* 2>/dev/null | head -3)"
fi
echo "ok: fuzzed the reader for ${MEMPROF_FUZZ_SECONDS:-20} s"
