#!/usr/bin/env bash
# A full disk: MEMPROF_OUT on a tiny tmpfs that is filled up. Snapshots fail
# to write (ENOSPC): one `memprof:` line for the streak, output and status
# unchanged, no partial file under a final name and no temporary file left.
# Then space is freed and a later snapshot must be whole. Needs root (mount).
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

tiny_tmpfs 256k

prog=$TEST_PROGS/life_exit
"$prog" return7 3.5 >"$WORK/plain.out" 2>/dev/null && fail "life_exit exited 0" || true

mkdir -p "$mnt/snaps"
# Fill it up completely: creating the temporary file still works (tmpfs
# inodes are not blocks), writing it fails part-way or at once.
dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null || true
echo "free on the tmpfs: $(df -k --output=avail "$mnt" | tail -1) KiB"

# Once a snapshot has failed (its warning is out), free the space: writing
# must resume with whole files. Not at a fixed time: a loaded machine may
# start the program late enough that its first snapshot (1 s) comes after.
( for _ in $(seq 600); do grep -q '^memprof:' "$WORK/full.err" 2>/dev/null && break; sleep 0.05; done
  rm -f "$mnt/filler" ) &
helper=$!
rc=0
timeout -k 5 30 env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$mnt/snaps" MEMPROF_INTERVAL=1 MEMPROF_SAMPLE=1 \
    "$prog" return7 3.5 >"$WORK/full.out" 2>"$WORK/full.err" || rc=$?
wait "$helper"
[[ $rc -eq 7 ]] || fail "status $rc, expected 7: $(cat "$WORK/full.err")"
cmp -s "$WORK/plain.out" "$WORK/full.out" || fail "stdout changed on a full disk"
n=$(grep -c '^memprof:' "$WORK/full.err" || true)
[[ $n -eq 1 ]] || fail "$n warning lines for one streak of failures, expected 1: $(cat "$WORK/full.err")"
echo "warning: $(cat "$WORK/full.err")"
leftovers=$(find "$mnt/snaps" -maxdepth 1 -name '.*' ! -name .)
[[ -z $leftovers ]] || fail "temporary files left on the full disk: $leftovers"
mapfile -t files < <(snapshots "$mnt/snaps")
[[ ${#files[@]} -ge 1 ]] || fail "no snapshot written after space was freed"
for f in "${files[@]}"; do
    "$MEMPROF_BIN" report "$f" >/dev/null || fail "$f is under a final name but does not read"
done
[[ ${files[0]} == *.0001.mprof ]] || fail "failed writes consumed sequence numbers: ${files[*]}"
echo "ok: full disk: ${#files[@]} whole snapshot(s) after space came back"
