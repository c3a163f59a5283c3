#!/usr/bin/env bash
# A real snapshot, then damaged copies of it: the analyzer must refuse each
# with exit status 2 and one line naming the file (SPEC "Exit status").
source "$(dirname "$0")/common.sh"

# The exit snapshot of a program that simply exits.
env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$WORK/snaps" MEMPROF_INTERVAL=0 /bin/true ||
    fail "/bin/true failed under the shim"
mapfile -t files < <(snapshots "$WORK/snaps")
[[ ${#files[@]} -eq 1 ]] || fail "expected the exit snapshot of /bin/true, found ${#files[@]} files"
good=${files[0]}
[[ $(basename "$good") =~ ^true\.[0-9]+\.0001\.mprof$ ]] || fail "bad snapshot name $(basename "$good")"
[[ $(stat -c %a "$good") == 600 ]] || fail "snapshot mode is $(stat -c %a "$good"), not 600"
"$MEMPROF_BIN" report "$good" >/dev/null || fail "memprof report of a good snapshot failed"

size=$(stat -c %s "$good")
# expect_bad NAME CMD...: exit 2, exactly one stderr line, naming the file.
expect_bad() {
    local f=$1 rc=0
    shift
    "$@" >"$WORK/stdout" 2>"$WORK/stderr" || rc=$?
    [[ $rc -eq 2 ]] || fail "$* exited $rc, expected 2"
    [[ $(wc -l <"$WORK/stderr") -eq 1 ]] || fail "$* printed $(wc -l <"$WORK/stderr") lines on stderr, expected 1"
    grep -qF "$f" "$WORK/stderr" || fail "$*: the error does not name $f: $(cat "$WORK/stderr")"
}

for off in 0 9 40 $((size / 2)) $((size - 1)); do
    bad=$WORK/flip$off.mprof
    cp "$good" "$bad"
    # Flip every bit of one byte.
    python3 -c 'import sys; f = open(sys.argv[1], "r+b"); o = int(sys.argv[2]); f.seek(o); b = f.read(1)[0]; f.seek(o); f.write(bytes([b ^ 255]))' "$bad" "$off"
    cmp -s "$good" "$bad" && fail "could not corrupt byte $off"
    expect_bad "$bad" "$MEMPROF_BIN" report "$bad"
    expect_bad "$bad" "$MEMPROF_BIN" diff "$good" "$bad"
done
head -c $((size - 8)) "$good" >"$WORK/short.mprof"
expect_bad "$WORK/short.mprof" "$MEMPROF_BIN" report "$WORK/short.mprof"
: >"$WORK/empty.mprof"
expect_bad "$WORK/empty.mprof" "$MEMPROF_BIN" report "$WORK/empty.mprof"
expect_bad "$WORK/missing.mprof" "$MEMPROF_BIN" report "$WORK/missing.mprof"
echo "ok: corrupt, truncated, empty and missing inputs refused with status 2"
