#!/usr/bin/env bash
# Inputs that are not snapshots at all, fed to every command: empty, random
# bytes, text, wrong magic, a snapshot of a newer format version, a bare
# header, a huge section count, a directory, a missing path, /dev/null and a
# FIFO with a truncated snapshot. Exit 2, one line naming the file and the
# problem, never a signal death or a hang.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/badinput_lib.sh"

good=$(badinput_good "$WORK/good")
d=$WORK/in
mkdir -p "$d"
: >"$d/empty.mprof"
head -c 100000 /dev/urandom >"$d/random.mprof"
head -c 7 /dev/urandom >"$d/random7.mprof"
printf 'hello, this is not a snapshot\n' >"$d/text.mprof"
python3 - "$good" "$d" <<'PY'
import struct, sys
src, d = sys.argv[1], sys.argv[2]
g = bytearray(open(src, "rb").read())
def w(name, b): open("%s/%s" % (d, name), "wb").write(bytes(b))
b = bytearray(g); b[0:8] = b"MEMPROG\0"; w("badmagic.mprof", b)
b = bytearray(g); b[0:8] = b"memprof\0"; w("lowermagic.mprof", b)
b = bytearray(g); struct.pack_into("<I", b, 8, 2); w("version2.mprof", b)
b = bytearray(g); struct.pack_into("<I", b, 8, 0); w("version0.mprof", b)
b = bytearray(g); struct.pack_into("<I", b, 8, 0xFFFFFFFF); w("versionmax.mprof", b)
b = bytearray(g); struct.pack_into("<I", b, 12, 4096); w("headersize.mprof", b)
b = bytearray(g); struct.pack_into("<Q", b, 16, 1 << 62); w("filesize.mprof", b)
b = bytearray(g); struct.pack_into("<I", b, 32, 0xFFFFFFFF); w("sections.mprof", b)
w("headeronly.mprof", g[:40])
w("magiconly.mprof", g[:8])
w("double.mprof", g + g)
PY
mkdir -p "$d/dir.mprof"
every=(empty random random7 text badmagic lowermagic version2 version0 versionmax headersize
       filesize sections headeronly magiconly double)
for name in "${every[@]}"; do
    every_command "$d/$name.mprof" "$good"
    echo "$name: $(cat "$WORK/bad.stderr")"
done
for v in version2 version0 versionmax; do
    msg=$("$MEMPROF_BIN" report "$d/$v.mprof" 2>&1 || true)
    grep -qi version <<<"$msg" || fail "$v: the error does not say 'version': $msg"
done
msg=$("$MEMPROF_BIN" report "$d/badmagic.mprof" 2>&1 || true)
grep -qi 'magic\|not a memprof' <<<"$msg" || fail "badmagic: the error does not say what is wrong: $msg"
every_command "$d/dir.mprof" "$good"
echo "directory: $(cat "$WORK/bad.stderr")"
every_command "$d/missing.mprof" "$good"
expect_bad /dev/null "$MEMPROF_BIN" report /dev/null
expect_bad "$d" "$MEMPROF_BIN" report "$d"
# A FIFO carrying half a snapshot.
mkfifo "$d/fifo.mprof"
# The writer is bounded: the reader may refuse the FIFO before the writer
# has opened it (no writer yet), and then nobody would ever read it.
( timeout 10 bash -c 'head -c "$1" "$2" >"$3"' _ $(( $(stat -c %s "$good") / 2 )) "$good" \
    "$d/fifo.mprof" || true ) &
expect_bad "$d/fifo.mprof" "$MEMPROF_BIN" report "$d/fifo.mprof"
wait
echo "ok: $BADINPUT_CHECKS refusals with status 2"
