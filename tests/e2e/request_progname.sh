#!/usr/bin/env bash
# <prog> in snapshot file names comes from argv[0], which whoever starts
# the program chooses: a newline, a terminal escape or a leading
# dot in it must not reach the file name (a newline split the path that
# `memprof snapshot` prints, so scripts got a path that did not exist; a
# leading dot made snapshots look like the shim's temporary files). Each
# becomes '_'; `memprof snapshot PID` prints one line, the file's path.
source "$(dirname "$0")/common.sh"

argv0=$'/nowhere/.evil\nline\x1b[2Jname\x7f'
mkdir -p "$WORK/snaps"
LD_PRELOAD=$MEMPROF_SHIM MEMPROF_OUT=$WORK/snaps MEMPROF_INTERVAL=0 MEMPROF_SIGNAL=USR2 \
    bash -c 'exec -a "$0" perl -e "sleep 30"' "$argv0" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
got=
for _ in $(seq 50); do
    got=$("$MEMPROF_BIN" snapshot "$pid" 2>"$WORK/snap.err") && break
    got=
    sleep 0.1
done
[[ -n $got ]] || fail "memprof snapshot $pid failed: $(cat "$WORK/snap.err")"
[[ $(printf '%s\n' "$got" | wc -l) -eq 1 ]] || fail "memprof snapshot printed more than one line: $got"
[[ -f $got ]] || fail "memprof snapshot printed '$got', which is not a file"
name=$(basename "$got")
[[ $name == "_evil_line_[2Jname_.$pid.0001.mprof" ]] || fail "snapshot named '$(printf %q "$name")'"
"$MEMPROF_BIN" report "$got" >/dev/null || fail "memprof report cannot read $got"
kill $pid
wait $pid 2>/dev/null || true
mapfile -t files < <(find "$WORK/snaps" -name '*.mprof')
[[ ${#files[@]} -ge 1 ]] || fail "no snapshot found by find"
for f in "${files[@]}"; do
    ! LC_ALL=C grep -q $'[\x01-\x1f\x7f]' <<<"${f#"$WORK"/snaps/}" || fail "a control character in $(printf %q "$f")"
done
echo "ok: argv[0] $(printf %q "$argv0") -> $name"
