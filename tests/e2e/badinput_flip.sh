#!/usr/bin/env bash
# Changed bytes in a real snapshot: one byte flipped (all bits, and single
# bits) at every 1/200th of the file and at every header and section-table
# byte; SPEC: "Every changed byte of a snapshot is detected" -> exit 2 with
# one line naming the file, from every command.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/badinput_lib.sh"

good=$(badinput_good "$WORK/good")
size=$(stat -c %s "$good")
mapfile -t flips < <(python3 - "$good" "$WORK/flipped" <<'PY'
import os, struct, sys
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
d = open(src, "rb").read()
count = struct.unpack_from("<I", d, 32)[0]
offs = set(range(0, min(len(d), 40 + 24 * count)))
offs.update(range(0, len(d), max(1, len(d) // 200)))
offs.add(len(d) - 1)
for o in sorted(offs):
    for mask in ((0xFF, 0x01) if o % 3 == 0 else (0x80,)):
        b = bytearray(d)
        b[o] ^= mask
        p = os.path.join(out, "flip_%d_%02x.mprof" % (o, mask))
        open(p, "wb").write(b)
        print(p)
PY
)
echo "snapshot of $size bytes, ${#flips[@]} damaged copies"
n=0
for bad in "${flips[@]}"; do
    if ((n % 10 == 0)); then
        every_command "$bad" "$good"
    else
        expect_bad "$bad" "$MEMPROF_BIN" report "$bad"
    fi
    n=$((n + 1))
done
echo "ok: $BADINPUT_CHECKS refusals with status 2"
