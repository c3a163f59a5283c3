#!/usr/bin/env bash
# A real snapshot (heap, stacks, locks) truncated at every section boundary
# (and one byte either side), inside the header and section table, and at
# 150 more offsets spread over the file; each fed to every command: exit 2,
# one line naming the file, never a signal death or a hang (SPEC "Exit
# status").
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/badinput_lib.sh"

good=$(badinput_good "$WORK/good")
size=$(stat -c %s "$good")
# Offsets: header fields, section table entries, each section's start and
# end, +-1, then an even spread.
mapfile -t offsets < <(python3 - "$good" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
size = len(d)
count = struct.unpack_from("<I", d, 32)[0]
offs = set([0, 1, 7, 8, 11, 12, 15, 16, 23, 24, 31, 32, 35, 36, 39, 40])
for i in range(min(count, 64)):
    at = 40 + 24 * i
    offs.update([at, at + 4, at + 8, at + 16, at + 23, at + 24])
    typ, rsz, off, cnt = struct.unpack_from("<IIQQ", d, at)
    end = off + rsz * cnt
    for o in (off, end):
        offs.update([o - 1, o, o + 1])
step = max(1, size // 150)
offs.update(range(0, size, step))
for o in sorted(o for o in offs if 0 <= o < size):
    print(o)
PY
)
[[ ${#offsets[@]} -gt 100 ]] || fail "too few offsets: ${#offsets[@]}"
echo "snapshot of $size bytes, ${#offsets[@]} truncation points"
n=0
for off in "${offsets[@]}"; do
    bad=$WORK/trunc$off.mprof
    head -c "$off" "$good" >"$bad"
    if ((n % 8 == 0)); then
        every_command "$bad" "$good"     # all commands on every 8th
    else
        expect_bad "$bad" "$MEMPROF_BIN" report "$bad"
        expect_bad "$bad" "$MEMPROF_BIN" locks "$bad"
    fi
    rm -f "$bad"
    n=$((n + 1))
done
# Longer than it says it is.
cat "$good" - <<<"trailing" >"$WORK/long.mprof"
every_command "$WORK/long.mprof" "$good"
echo "ok: $BADINPUT_CHECKS refusals with status 2"
