#!/usr/bin/env bash
# Rust programs, whose standard library owns the allocation path (trial20):
#   - ripgrep (Debian's rg, stripped) searching a tree of 1000 files, the
#     counts sorted: same output and status, every snapshot read;
#   - tests/programs/rust/rust_cache.rs, built here with rustc -O -g: two
#     threads churn, the main thread leaks through Vec's inlined path. The
#     leak must be the top site named as a Rust user reads it:
#     "rust_cache::leaky_cache_insert (rust_cache.rs:LINE)", the line of the
#     vec! (rustc nests functions in DW_TAG_namespace, where libdw's
#     dwarf_getscopes does not look: the inlined frames were lost and the
#     site read "leaky_cache_insert::h9839f975a61ecbae (alloc.rs:95)"), with
#     liballoc's frames folded as allocator plumbing, no legacy hash and no
#     "_ZN" left in any text frame ("...E.llvm.1208..." kept std's closure
#     from being demangled), and "<T as Trait>::f" keeping its type;
#     built with -C symbol-mangling-version=v0, its paths demangled too.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"
command -v rg >/dev/null || fail "no rg (run scripts/setup test: ripgrep)"
RUSTC=$(command -v rustc || true)
[[ -n $RUSTC ]] || fail "no rustc (run scripts/setup test: rustc)"

tree() {
    awk 'BEGIN { for (i = 1; i <= 40; i++) { system("mkdir d" i); for (j = 1; j <= 25; j++) {
        f = "d" i "/f" j ".txt"
        for (n = i * j; n <= i * j + 400; n++) print "line " n " foo" j " bar" (n % 7) > f
        close(f) } } }'
}
real_run rg 60 tree -- bash -c "rg -c 'foo1[0-9] bar[35]' | sort && rg --files | wc -l && rg -l -i 'FOO2 BAR6' | sort | head -50"

src=$E2E_DIR/../programs/rust/rust_cache.rs
"$RUSTC" -O -g -o "$WORK/rust_cache" "$src" 2>"$WORK/rustc.err" || fail "rustc failed: $(tail -5 "$WORK/rustc.err")"
real_run rust_cache 60 -- "$WORK/rust_cache"
bytes=$(leak_field "$WORK/rust_cache.shim.out" bytes)
line=$(grep -n 'let v = vec!' "$src" | cut -d: -f1)
exitsnap=$(pid_snapshots "$WORK/rust_cache.snaps" "$(sed -n 's/^\([0-9]*\) .*/\1/p' "$WORK/rust_cache.witness" | head -1)" | tail -1)
[[ -n $exitsnap ]] || fail "no snapshot of rust_cache"
"$MEMPROF_BIN" report "$exitsnap" --top 3 >"$WORK/report.txt" || fail "memprof report failed"
top=$(awk '$1 == 1 { print $NF == "" ? "" : $0; exit }' "$WORK/report.txt" | sed 's/.*[0-9]  *//')
[[ $top == "rust_cache::leaky_cache_insert (rust_cache.rs:$line)" ]] ||
    fail "the top site reads '$top', expected 'rust_cache::leaky_cache_insert (rust_cache.rs:$line)': $(sed -n 5,10p "$WORK/report.txt")"
# A qualified path keeps its type: "<u8 as ...::SpecFromElem>::from_elem",
# not the C++ shortening's "<>::from_elem".
grep -q '<u8 as alloc::vec::spec_from_elem::SpecFromElem>::from_elem' "$WORK/report.txt" ||
    fail "Rust's <T as Trait>::f frames lost their type: $(grep 'folded away' "$WORK/report.txt")"
! grep -E '(^| )_ZN|::h[0-9a-f]{16}( |$)' "$WORK/report.txt" ||
    fail "a Rust frame is left mangled or with its hash"
report_json "$exitsnap" "$WORK/r.json"
got=$(jq_py "$WORK/r.json" 'sum(s["bytes"] for s in d["sites"] if any(f["function"] == "rust_cache::leaky_cache_insert" for f in s["frames"]))')
python3 -c "import sys; g, w = int(sys.argv[1]), int(sys.argv[2]); sys.exit(0 if abs(g - w) <= 0.25 * w else 1)" "$got" "$bytes" ||
    fail "leaky_cache_insert holds $got bytes, the program leaked $bytes"

# The same built with Rust's v0 mangling: its plain paths demangled
# ("rust_cache::main", not "_RNvCs..._10rust_cache4main").
"$RUSTC" -O -g -C symbol-mangling-version=v0 -o "$WORK/rust_cache_v0" "$src" 2>"$WORK/rustc.err" ||
    fail "rustc (v0) failed: $(tail -5 "$WORK/rustc.err")"
shim_exec 60 "$WORK/v0.snaps" -- "$WORK/rust_cache_v0" >"$WORK/v0.out" 2>"$WORK/v0.err" || fail "rust_cache_v0 failed under the shim: $(cat "$WORK/v0.err")"
"$MEMPROF_BIN" report "$(snapshots "$WORK/v0.snaps" | tail -1)" --top 1 --frames 20 >"$WORK/v0.txt" || fail "memprof report (v0) failed"
grep -q '<- rust_cache::main (rust_cache.rs:' "$WORK/v0.txt" ||
    fail "v0-mangled rust_cache::main is not demangled: $(sed -n 5,30p "$WORK/v0.txt" | grep -i main)"
echo "ok: rg and a Rust program under the shim; the leak: $top, $got of $bytes bytes"
