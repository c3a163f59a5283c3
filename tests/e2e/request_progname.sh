#!/usr/bin/env bash
# <prog> in snapshot file names comes from argv[0], which whoever starts
# the program chooses. What must not reach a file name becomes '_': a
# newline (it split the path `memprof snapshot` prints, so scripts got a
# path that did not exist), an escape or DEL, a leading dot (the shim's
# own temporary files look so) or dash (`memprof report *` took it for an
# option), C1 controls and bytes that are not UTF-8, and the bidi
# overrides that make a listing show another name. A name too long for a
# file name is cut to 160 bytes (at a character) instead of costing every
# snapshot. `memprof snapshot PID` prints one line, the file's path.
source "$(dirname "$0")/common.sh"

# named ARGV0 WANT: the process started as ARGV0 writes WANT.<pid>.0001.mprof
named() {
    local argv0=$1 want=$2 dir=$WORK/snaps$((++case_n)) pid got name
    mkdir -p "$dir"
    LD_PRELOAD=$MEMPROF_SHIM MEMPROF_OUT=$dir MEMPROF_INTERVAL=0 MEMPROF_SIGNAL=USR2 \
        bash -c 'exec -a "$0" perl -e "sleep 30"' "$argv0" &
    pid=$!
    got=
    for _ in $(seq 50); do   # once bash has become perl
        [[ $(cat /proc/$pid/comm 2>/dev/null) == perl ]] || { sleep 0.1; continue; }
        got=$("$MEMPROF_BIN" snapshot "$pid" 2>"$WORK/snap.err") && break
        got=
        sleep 0.1
    done
    kill $pid
    wait $pid 2>/dev/null || true
    [[ -n $got ]] || fail "$(printf %q "$argv0"): memprof snapshot failed: $(cat "$WORK/snap.err")"
    [[ $(printf '%s\n' "$got" | wc -l) -eq 1 && -f $got ]] ||
        fail "$(printf %q "$argv0"): memprof snapshot printed '$got', not one existing file"
    name=$(basename "$got")
    [[ $name == "$want.$pid.0001.mprof" ]] ||
        fail "$(printf %q "$argv0"): snapshot named $(printf %q "$name"), expected $(printf %q "$want").$pid.0001.mprof"
    "$MEMPROF_BIN" report "$got" >/dev/null || fail "memprof report cannot read $got"
    echo "argv[0] $(printf %q "$argv0") -> $(printf %q "$name")"
}
case_n=0
named $'/nowhere/.evil\nline\x1b[2Jname\x7f' '_evil_line_[2Jname_'
named '--help' '_-help'
named $'c1\xc2\x9bcsi\xffbad' 'c1__csi_bad'
named $'gpj.\xe2\x80\xaeexe' 'gpj.___exe'
named 'grüße-日本' 'grüße-日本'
long=$(printf 'x%.0s' $(seq 300))
named "$long" "${long:0:160}"
named "$(printf 'é%.0s' $(seq 100))" "$(printf 'é%.0s' $(seq 80))"
echo "ok: every argv[0] became a safe, whole file name"
