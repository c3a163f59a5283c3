#!/usr/bin/env bash
# A failed write of -o (a full disk) loses nothing: flame, pprof and html
# onto an existing file of one's own on a tiny tmpfs that is then filled
# exit 1 with one `memprof:` line, and leave the file there byte for byte
# as it was, with no temporary file beside it; a new name that cannot be
# written is not left behind half-written. With space again, the same
# commands replace the files whole, keeping their mode. report, diff,
# locks and folded onto a full disk through stdout exit 1 too. Needs root
# (mount).
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/export_lib.sh"

tiny_tmpfs 200k

run_under_shim "$WORK/heap" MEMPROF_SAMPLE=1 -- "$TEST_PROGS/leak_malloc"
snap=$(snapshot_of "$WORK/heap" 0002)

# out_cmd NAME: the command writing $mnt/NAME
out_cmd() {
    case $1 in
    heap.svg) echo flame "$snap" -o "$mnt/$1" ;;
    heap.pb.gz) echo pprof "$snap" -o "$mnt/$1" ;;
    report.html) echo html "$snap" -o "$mnt/$1" ;;
    esac
}
outputs=(heap.svg heap.pb.gz report.html)

# Earlier outputs, the kind a user keeps: small ones (here, each a few KiB
# of a previous version) that a full rewrite must not destroy.
for f in "${outputs[@]}"; do
    head -c 3000 /dev/urandom >"$mnt/$f"
    chmod 0640 "$mnt/$f"
    sha256sum "$mnt/$f" >>"$WORK/before.sum"
done
dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null || true
echo "free on the tmpfs: $(df -k --output=avail "$mnt" | tail -1) KiB"

for f in "${outputs[@]}" new.svg; do
    name=$f
    read -r -a cmd <<<"$(out_cmd "$f")"
    [[ $f == new.svg ]] && cmd=(flame "$snap" -o "$mnt/new.svg")
    rc=0
    "$MEMPROF_BIN" "${cmd[@]}" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    [[ $rc -eq 1 ]] || fail "${cmd[*]} on a full disk: exit $rc, expected 1: $(cat "$WORK/$name.err")"
    [[ $(wc -l <"$WORK/$name.err") -eq 1 ]] && grep -q '^memprof: .*write failed' "$WORK/$name.err" ||
        fail "${cmd[*]} on a full disk: expected one 'write failed' line: $(cat "$WORK/$name.err")"
    echo "${cmd[0]} -o $f on a full disk: $(cat "$WORK/$name.err")"
done
# The text and JSON commands write to standard output: a shell's
# redirection onto the full disk is a failure too (exit 1, one line), not
# an empty file and status 0 that a CI gate would take for a pass.
for c in "report $snap" "report $snap --json" "diff $snap $snap --json" "locks $snap" \
    "locks $snap --json" "folded $snap"; do
    rc=0
    "$MEMPROF_BIN" $c >"$mnt/stdout.txt" 2>"$WORK/stdout.err" || rc=$?
    [[ $rc -eq 1 ]] && grep -q '^memprof: stdout: write failed' "$WORK/stdout.err" ||
        fail "memprof $c > a full disk: exit $rc: $(cat "$WORK/stdout.err")"
    rm -f "$mnt/stdout.txt"
done
sha256sum -c --quiet "$WORK/before.sum" || fail "a failed write changed the file it was to replace"
[[ ! -e $mnt/new.svg ]] || fail "a failed write left new.svg ($(stat -c %s "$mnt/new.svg") bytes)"
left=$(find "$mnt" -name '.*' -type f)
[[ -z $left ]] || fail "temporary files left: $left"

# Space again: each output is replaced whole, mode kept.
rm -f "$mnt/filler"
for f in "${outputs[@]}"; do
    read -r -a cmd <<<"$(out_cmd "$f")"
    "$MEMPROF_BIN" "${cmd[@]}" 2>"$WORK/$f.err2" || fail "${cmd[*]} with space: $(cat "$WORK/$f.err2")"
    [[ $(stat -c %a "$mnt/$f") == 640 ]] || fail "$f: mode $(stat -c %a "$mnt/$f"), was 640"
done
grep -q '</svg>' "$mnt/heap.svg" || fail "heap.svg is not a whole SVG"
grep -q '</html>' "$mnt/report.html" || fail "report.html is not a whole page"
gzip -t "$mnt/heap.pb.gz" || fail "heap.pb.gz is not a whole gzip file"
left=$(find "$mnt" -name '.*' -type f)
[[ -z $left ]] || fail "temporary files left: $left"
echo "ok: failed writes kept the old files, successful ones replaced them whole"
