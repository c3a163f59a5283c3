#!/usr/bin/env bash
# MEMPROF_OUT whose absolute path does not fit the shim's 4095 bytes: a
# relative name in a working directory too deep for getcwd, a relative
# name that makes the whole path too long, and an absolute path that is.
# Each time the program runs as without the shim, one `memprof:` line
# says the snapshot was skipped, and no directory is made anywhere: not the
# relative name under "/", not a prefix of the path cut short.
source "$(dirname "$0")/common.sh"

prog=$TEST_PROGS/life_exit
comp=$(printf 'd%.0s' $(seq 1 200))   # a 200-byte path component

# into DIR N: cd to DIR/comp/comp/... N levels, making them (one level
# at a time: a path that long cannot be given to mkdir or cd whole).
into() {
    cd "$1" || return 1
    for ((i = 0; i < $2; i++)); do
        mkdir -p "$comp" && cd "$comp" || return 1
    done
}

# run_in NAME DIR N OUT: life_exit return7 in DIR's N levels deep
# directory with MEMPROF_OUT=OUT.
run_in() {
    local name=$1 dir=$2 n=$3 out=$4 rc=0
    (into "$dir" "$n" && exec timeout -k 5 30 env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$out" \
        "$prog" return7 0) >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
    [[ $rc -eq 7 ]] || fail "$name: status $rc, expected 7: $(cat "$WORK/$name.err")"
}

# one_line NAME: the run's stderr is the one line saying why.
one_line() {
    local name=$1
    [[ $(grep -c '^memprof:' "$WORK/$name.err") -eq 1 ]] &&
        grep -q '^memprof: cannot write a snapshot in .*: its absolute path is longer than 4095 bytes; snapshot skipped' "$WORK/$name.err" ||
        fail "$name: expected one line saying the path is too long, got: $(cat "$WORK/$name.err")"
}

# 1. The working directory is deeper than getcwd can say (over 4096 bytes):
# the relative name must not be taken from "/".
name=memprof_longpath_$$
rm -rf "${WORK:?}/one" && mkdir -p "$WORK/one"
run_in cwd_too_deep "$WORK/one" 21 "$name"
[[ ! -e /$name ]] || { rm -rf "/${name:?}"; fail "cwd_too_deep: /$name was created"; }
one_line cwd_too_deep
[[ $(find "$WORK/one" -mindepth 1 | wc -l) -eq 21 ]] ||
    fail "cwd_too_deep: something was made in the working directory"

# 2. The working directory fits, the name appended to it does not.
rm -rf "$WORK/two" && mkdir -p "$WORK/two"
n=$(((3900 - ${#WORK}) / 201))
run_in joined_too_long "$WORK/two" "$n" "$comp/$comp/snaps"
[[ $(find "$WORK/two" -mindepth 1 | wc -l) -eq $n ]] ||
    fail "joined_too_long: a directory was made for a path cut short"
one_line joined_too_long

# 3. An absolute path longer than 4095 bytes.
rm -rf "$WORK/three" && mkdir -p "$WORK/three"
long=$WORK/three
while ((${#long} < 4300)); do long+=/$comp; done
run_in absolute_too_long "$WORK" 0 "$long"
[[ -z $(find "$WORK/three" -mindepth 1 | head -1) ]] ||
    fail "absolute_too_long: a directory was made for a path cut short"
one_line absolute_too_long
echo "ok: three output paths too long, each refused with one line, nothing made"
