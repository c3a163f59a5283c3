#!/usr/bin/env bash
# Hostile inputs and arguments (issue 11 items 5 and 10): small files with
# valid checksums built to cost a naive analyzer minutes or gigabytes
# (tests/fuzz/gen_hostile.py), streams that are not snapshots, names that
# carry terminal escapes, values near 2^64, and -o aimed at planted
# symbolic links, run as root and as an unprivileged user.
#
# Every command on every file must finish within 10 s of CPU (prlimit
# --cpu: wall time on a loaded machine says nothing of the analyzer; a
# wall-clock 60 s still catches a command that blocks) and within an
# address-space limit of 20x the file plus 384 MiB (prlimit --as), and
# exit 2 with one `memprof:` line naming the file (bad-*) or 0 (ok-*).
source "$(dirname "$0")/common.sh"
source "$E2E_DIR/badinput_lib.sh"

command -v prlimit >/dev/null || fail "prlimit is missing (util-linux)"
root=$(cd "$E2E_DIR/../.." && pwd)
gen=$WORK/gen
# a third of the full size: still 100x what the old reader could afford
# on the shared-frame files, and light enough for a loaded CI machine
python3 "$root/tests/fuzz/gen_hostile.py" "$gen" --scale 0.3
good=$(badinput_good "$WORK/good")

# limited LIMIT_FILE CMD... -> runs CMD under the time and memory limits
# sized from LIMIT_FILE; stdout/stderr in $WORK/lim.{out,err}; sets $rc.
limited() {
    local size=$(stat -c %s "$1")
    shift
    rc=0
    # soft limit 10 s: SIGXCPU (152); the hard 11 s: SIGKILL (137)
    timeout -k 2 60 prlimit --cpu=10:11 --as=$((20 * size + (384 << 20))) -- "$@" \
        >"$WORK/lim.out" 2>"$WORK/lim.err" || rc=$?
    [[ $rc -ne 152 && $rc -ne 137 ]] || fail "$*: over 10 s of CPU"
    [[ $rc -ne 124 ]] || fail "$*: over 60 s (blocked?)"
    [[ $rc -lt 128 ]] || fail "$*: died of signal $((rc - 128)): $(head -3 "$WORK/lim.err")"
}

# Every command reading FILE, alone and as OLD and NEW next to OTHER (a
# good snapshot for the bad files; the file itself for the good ones, as
# locks wants two snapshots of one process).
commands() {
    local f=$1 good=$2
    echo "report $f --json"
    echo "diff $good $f"
    echo "locks $f"
    echo "locks $good $f --json"
    echo "flame $good $f -o $WORK/out.svg"
    echo "folded $f --what locks"
    echo "pprof $f -o $WORK/out.pb.gz"
    if "$MEMPROF_BIN" html --help >/dev/null 2>&1; then echo "html $f -o $WORK/out.html"; fi
}

checks=0
for f in "$gen"/bad-*.mprof; do
    while read -r -a cmd; do
        limited "$f" "$MEMPROF_BIN" "${cmd[@]}"
        [[ $rc -eq 2 ]] || fail "${cmd[*]}: exit $rc, expected 2: $(head -3 "$WORK/lim.err")"
        [[ $(wc -l <"$WORK/lim.err") -eq 1 ]] || fail "${cmd[*]}: not one line: $(head -3 "$WORK/lim.err")"
        grep -q "^memprof: $f: " "$WORK/lim.err" || fail "${cmd[*]}: $(cat "$WORK/lim.err")"
        checks=$((checks + 1))
    done < <(commands "$f" "$good")
done
for f in "$gen"/ok-*.mprof; do
    while read -r -a cmd; do
        limited "$f" "$MEMPROF_BIN" "${cmd[@]}"
        [[ $rc -eq 0 ]] || fail "${cmd[*]}: exit $rc, expected 0: $(head -3 "$WORK/lim.err")"
        checks=$((checks + 1))
    done < <(commands "$f" "$f")
done
# the reasons, so a file refused for the wrong reason is noticed
reason() {
    limited "$gen/$1" "$MEMPROF_BIN" report "$gen/$1"
    grep -q -- "$2" "$WORK/lim.err" || fail "$1: refused for another reason: $(cat "$WORK/lim.err")"
}
reason bad-shared-frames.mprof "stacks 0 and 1 share frames"
reason bad-shared-frames-150k.mprof "share frames"
reason bad-overlapping-frames.mprof "share frames"
reason bad-modules-same-gen.mprof "overlap in the same generation"
reason bad-lock-sites-shared.mprof "share lock sites"
reason bad-lock-sites-overlap.mprof "share lock sites"
reason bad-long-path.mprof "longer than 4096 bytes"
reason bad-long-prog.mprof "longer than 4096 bytes"
echo "ok: $checks commands on $(ls "$gen" | wc -l) generated files within 10 s of CPU and 20x memory"

# ---- streams: the header is checked before anything else is read ----
small=$WORK/small
head -c 65536 /dev/zero >"$small"
stream() {   # stream WHAT EXPECT CMD...: exit 2, one line mentioning EXPECT
    local what=$1 expect=$2
    shift 2
    limited "$small" "$@"
    [[ $rc -eq 2 && $(wc -l <"$WORK/lim.err") -eq 1 ]] || fail "$what: exit $rc: $(cat "$WORK/lim.err")"
    grep -q -- "$expect" "$WORK/lim.err" || fail "$what: $(cat "$WORK/lim.err")"
}
stream /dev/zero "bad magic" "$MEMPROF_BIN" report /dev/zero
stream "a pipe of zeros" "bad magic" bash -c 'exec "$0" report <(cat /dev/zero)' "$MEMPROF_BIN"
# a header claiming 1 TiB, then zeros forever: refused from the header alone
python3 - "$good" "$WORK/huge-header" <<'EOF'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read(40))
struct.pack_into("<Q", d, 16, 1 << 40)
open(sys.argv[2], "wb").write(d)
EOF
stream "1 TiB header" "over the" bash -c 'exec "$0" report <(cat "$1" /dev/zero)' "$MEMPROF_BIN" "$WORK/huge-header"
stream "a header claiming more than the limit" "over the" "$MEMPROF_BIN" report "$WORK/huge-header"
limited "$good" bash -c 'exec "$0" report <(cat "$1")' "$MEMPROF_BIN" "$good"
[[ $rc -eq 0 ]] || fail "a good snapshot through a pipe: exit $rc: $(cat "$WORK/lim.err")"
mkfifo "$WORK/fifo"
stream "a FIFO nobody writes" "empty (no writer" "$MEMPROF_BIN" report "$WORK/fifo"
stream "a directory" "is a directory" "$MEMPROF_BIN" report "$WORK"
stream "a missing file" "No such file" "$MEMPROF_BIN" report "$WORK/missing.mprof"
echo "ok: streams, FIFOs, directories and lying headers refused from the header"

# ---- escapes, huge values, different processes ----
for cmd in "report" "diff $good" "locks"; do
    "$MEMPROF_BIN" $cmd "$gen/ok-escapes.mprof" >"$WORK/esc.out" 2>&1 || fail "$cmd ok-escapes failed"
    if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$WORK/esc.out"; then
        fail "$cmd: a control character reached the terminal: $(cat -v "$WORK/esc.out" | head -5)"
    fi
done
"$MEMPROF_BIN" report "$gen/ok-escapes.mprof" >"$WORK/esc.out"
grep -qF 'evil\x1b]0;owned\x07\x1b[2J' "$WORK/esc.out" || fail "program name not shown escaped: $(cat -v "$WORK/esc.out")"
grep -qF '\x1b[31mred\x1b[0m\x0d.so' "$WORK/esc.out" || fail "module name not shown escaped: $(cat -v "$WORK/esc.out")"
"$MEMPROF_BIN" report "$gen/ok-huge-values.mprof" >"$WORK/huge.out"
grep -q -- '-[0-9.]* [KMGTPE]*i*B' "$WORK/huge.out" && fail "a size printed negative: $(cat "$WORK/huge.out")"
grep -q "live heap: 16.0 EiB (18446744073709551615 bytes)" "$WORK/huge.out" ||
    fail "2^64-1 bytes not shown as 16.0 EiB: $(head -3 "$WORK/huge.out")"
"$MEMPROF_BIN" diff "$gen/ok-worker-pid1.mprof" "$gen/ok-worker-pid2.mprof" >/dev/null 2>"$WORK/pid.err"
grep -q "^memprof: warning: .*two different processes of 'worker' (pid 1001 and pid 1002)" "$WORK/pid.err" ||
    fail "diff of two processes of one program does not warn: $(cat "$WORK/pid.err")"
"$MEMPROF_BIN" diff "$good" "$good" >/dev/null 2>"$WORK/same.err"
grep -q "^memprof: warning: .* are the same snapshot" "$WORK/same.err" ||
    fail "diff of one file twice does not warn: $(cat "$WORK/same.err")"
echo "ok: escapes shown as \\xNN, 2^64-1 as 16.0 EiB, diff warns on two processes and on one file twice"

# ---- -o and symbolic links, as root and as nobody ----
out_refused() {   # out_refused WHO EXPECT CMD...: exit 1, one line, no write
    local who=$1 expect=$2 rc=0
    shift 2
    "$@" >/dev/null 2>"$WORK/o.err" || rc=$?
    [[ $rc -eq 1 && $(wc -l <"$WORK/o.err") -eq 1 ]] || fail "$who: $*: exit $rc: $(cat "$WORK/o.err")"
    grep -q -- "$expect" "$WORK/o.err" || fail "$who: $*: $(cat "$WORK/o.err")"
}
# nobody must reach the binary and the files: a world-readable place
public_dir "$MEMPROF_BIN"
NB_BIN=$PUBLIC/$(basename "$MEMPROF_BIN")
shared=$PUBLIC/shared
mkdir -m 1777 "$shared"
cp "$good" "$shared/in.mprof"
chmod 0644 "$shared/in.mprof"
echo precious >"$PUBLIC/victim"
chmod 0644 "$PUBLIC/victim"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
# another user's link in a shared sticky directory: root must not follow it
as_nobody ln -s "$PUBLIC/victim" "$shared/planted.svg"
out_refused root "owned by another user" "$MEMPROF_BIN" flame "$good" -o "$shared/planted.svg"
[[ $(cat "$PUBLIC/victim") == precious ]] || fail "root wrote through nobody's link"
# root's own link to a name in the shared directory where nobody's link
# waits: the chain is nobody's to aim, so refused too
ln -s "$shared/planted.svg" "$WORK/chain.svg"
out_refused root "leads through a symbolic link owned by another user" \
    "$MEMPROF_BIN" flame "$good" -o "$WORK/chain.svg"
[[ $(cat "$PUBLIC/victim") == precious ]] || fail "root wrote through a chain ending in nobody's link"
# nobody's link standing for a directory on the way
mkdir -p "$PUBLIC/victim-dir"
echo precious >"$PUBLIC/victim-dir/out.svg"
as_nobody ln -s "$PUBLIC/victim-dir" "$shared/dirlink"
out_refused root "directory link owned by another user" \
    "$MEMPROF_BIN" flame "$good" -o "$shared/dirlink/out.svg"
[[ $(cat "$PUBLIC/victim-dir/out.svg") == precious ]] || fail "root wrote through nobody's directory link"
# a dangling link is never followed, by anyone
as_nobody ln -s "$PUBLIC/created-by-link" "$shared/dangling.svg"
out_refused root "dangling" "$MEMPROF_BIN" flame "$good" -o "$shared/dangling.svg"
out_refused nobody "dangling" as_nobody "$NB_BIN" flame "$shared/in.mprof" -o "$shared/dangling.svg"
[[ ! -e $PUBLIC/created-by-link ]] || fail "a dangling link was followed"
# another user's file planted under the name (fs.protected_regular may be
# off): root must not write its report into a file nobody owns and reads
as_nobody bash -c "umask 0; : >'$shared/planted-file.svg'"
out_refused root "owned by another user" "$MEMPROF_BIN" flame "$good" -o "$shared/planted-file.svg"
[[ ! -s $shared/planted-file.svg ]] || fail "root wrote into nobody's file"
# nor into nobody's FIFO: no hang waiting for a reader, no report for one
as_nobody mkfifo -m 0666 "$shared/planted.fifo"
out_refused root "FIFO owned by another user" timeout 10 "$MEMPROF_BIN" flame "$good" -o "$shared/planted.fifo"
# a file of one's own is overwritten as usual, as root and as nobody
"$MEMPROF_BIN" flame "$good" -o "$shared/root-own.svg" && "$MEMPROF_BIN" flame "$good" -o "$shared/root-own.svg" ||
    fail "root could not overwrite its own output"
as_nobody "$NB_BIN" flame "$shared/in.mprof" -o "$shared/planted-file.svg" &&
    grep -q "<svg" "$shared/planted-file.svg" || fail "nobody could not write its own file"
# root's own link is the user's explicit choice: followed
ln -s "$WORK/own-target.svg" "$WORK/own.svg"
: >"$WORK/own-target.svg"
"$MEMPROF_BIN" flame "$good" -o "$WORK/own.svg" || fail "root's own link was refused"
grep -q "<svg" "$WORK/own-target.svg" || fail "root's own link was not written through"
"$MEMPROF_BIN" pprof "$good" -o /dev/stdout >"$WORK/stdout.pb.gz" ||
    fail "-o /dev/stdout (root's link) was refused"
head -c 2 "$WORK/stdout.pb.gz" | od -An -tx1 | grep -q "1f 8b" || fail "-o /dev/stdout wrote no gzip"
# an output that is an input is refused and the input left whole
cp "$good" "$WORK/both.mprof"
out_refused root "is also an input" "$MEMPROF_BIN" flame "$WORK/both.mprof" -o "$WORK/both.mprof"
cmp -s "$good" "$WORK/both.mprof" || fail "the input was damaged by -o"
# nobody reading a file it may not read: exit 2, one line
cp "$good" "$shared/private.mprof"
chmod 0600 "$shared/private.mprof"
rc=0
as_nobody "$NB_BIN" report "$shared/private.mprof" >/dev/null 2>"$WORK/perm.err" || rc=$?
[[ $rc -eq 2 && $(wc -l <"$WORK/perm.err") -eq 1 ]] && grep -q "Permission denied" "$WORK/perm.err" ||
    fail "unreadable file as nobody: exit $rc: $(cat "$WORK/perm.err")"
rm -rf "$PUBLIC"
echo "ok: -o refuses other users' and dangling links, other users' files and the input, follows the user's own"
