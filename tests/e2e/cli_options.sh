#!/usr/bin/env bash
# Every command answers --help (usage on stdout, exit 0) and refuses an
# unknown option or a bad value with exactly one "memprof:" line on stderr
# and exit 1 (SPEC "Exit status"); the commands come from `memprof --help`,
# checked against the list SPEC gives, so a command added to main.c's table
# is covered without editing this test.
source "$(dirname "$0")/common.sh"

# expect RC STDERR_LINES CMD...: exit status and stderr line count; for
# errors the line must start "memprof: ". stdout/stderr are kept in $WORK.
expect() {
    local want=$1 lines=$2 rc=0
    shift 2
    "$@" >"$WORK/stdout" 2>"$WORK/stderr" || rc=$?
    [[ $rc -eq $want ]] || fail "memprof ${*:2} exited $rc, expected $want: $(cat "$WORK/stderr")"
    [[ $(wc -l <"$WORK/stderr") -eq $lines ]] ||
        fail "memprof ${*:2} printed $(wc -l <"$WORK/stderr") stderr lines, expected $lines: $(cat "$WORK/stderr")"
    if [[ $lines -gt 0 ]]; then
        grep -q '^memprof: ' "$WORK/stderr" || fail "memprof ${*:2}: error is not a memprof: line: $(cat "$WORK/stderr")"
    fi
}

expect 0 0 "$MEMPROF_BIN" --help
mapfile -t cmds < <(sed -n '/^commands:/,/^$/p' "$WORK/stdout" | awk '/^  [a-z]/ {print $1}')
for c in run snapshot report diff locks flame folded pprof html; do
    printf '%s\n' "${cmds[@]}" | grep -qx "$c" || fail "memprof --help does not list '$c' (lists: ${cmds[*]})"
done

cd "$WORK"   # a stray output file would land here
for c in "${cmds[@]}"; do
    for h in --help -h; do
        expect 0 0 "$MEMPROF_BIN" "$c" "$h"
        head -1 "$WORK/stdout" | grep -q "^usage: memprof $c" ||
            fail "memprof $c $h: stdout does not start with its usage: $(head -1 "$WORK/stdout")"
    done
    expect 1 1 "$MEMPROF_BIN" "$c" --no-such-option
    [[ ! -s "$WORK/stdout" ]] || fail "memprof $c --no-such-option wrote to stdout"
    grep -q -- "--no-such-option" "$WORK/stderr" || fail "memprof $c: the error does not name the option"
done
expect 1 1 "$MEMPROF_BIN" no-such-command

# A real snapshot for the checks that get past option parsing.
env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$WORK/snaps" MEMPROF_INTERVAL=0 /bin/true ||
    fail "/bin/true failed under the shim"
mapfile -t files < <(snapshots "$WORK/snaps")
[[ ${#files[@]} -eq 1 ]] || fail "expected one snapshot of /bin/true, found ${#files[@]}"
s=${files[0]}

# Options in any order and in both spellings; --help wins wherever it is.
expect 0 0 "$MEMPROF_BIN" report --top=1 "$s" --json
python3 -c "import json, sys; json.load(open(sys.argv[1]))" "$WORK/stdout" || fail "report --top=1 --json is not JSON"
expect 0 0 "$MEMPROF_BIN" report "$s" --top 1 --help
grep -q '^usage: memprof report' "$WORK/stdout" || fail "report FILE --help did not print the usage"
expect 0 0 "$MEMPROF_BIN" folded --what=alloc "$s"
expect 0 0 "$MEMPROF_BIN" flame "$s" --output "$WORK/f.svg" --what locks
grep -q '<svg' "$WORK/f.svg" || fail "flame --output did not write an SVG"
# "--" ends the options: "--help" after it is a file name, which is missing.
expect 2 1 "$MEMPROF_BIN" report -- --help
# run's --help is answered only right after the command: later ones belong
# to the program (here printf prints it).
expect 0 0 "$MEMPROF_BIN" run -o "$WORK/runsnaps" -- /usr/bin/printf '%s\n' --help
grep -qx -- '--help' "$WORK/stdout" || fail "run -- printf --help did not pass --help to printf"

# Bad values and file counts: one line each, exit 1, no output file.
bad=(
    "report $s --top"
    "report $s --top x"
    "report $s --top -1"
    "report $s --top 99999999999999999999"
    "report $s --json=yes"
    "report"
    "report $s --frames 0"
    "report $s --frames 257"
    "report $s --what locks"
    "report $s --what locks-holders"
    "report $s --what stack"
    "diff $s"
    "diff $s $s --fail-over 12Q"
    "diff $s $s --fail-over"
    "locks $s $s $s"
    "flame $s --what"
    "flame $s --what=stack"
    "flame $s -o"
    "folded $s -o $WORK/never.txt"
    "pprof $s --top 3 -o $WORK/never.pb.gz"
    "html $s --json -o $WORK/never.html"
    "html $s --what heap -o $WORK/never.html"
)
for args in "${bad[@]}"; do
    # shellcheck disable=SC2086
    expect 1 1 "$MEMPROF_BIN" $args
    grep -q '; usage: memprof ' "$WORK/stderr" || fail "memprof $args: the error has no usage: $(cat "$WORK/stderr")"
done
# run's and attach's --help describe each option with the variable it sets
# (from the shim's table); attach names the run-only --signal as such, and
# "-o --" is a forgotten value, not a directory named "--"
for c in run attach; do
    expect 0 0 "$MEMPROF_BIN" "$c" --help
    for want in '-o DIR .*\[MEMPROF_OUT\]' '--sample BYTES .*\[MEMPROF_SAMPLE\]' \
        '--interval SECS .*\[MEMPROF_INTERVAL\]' '--no-locks .*\[MEMPROF_LOCKS\]'; do
        grep -q -- "^  $want\$" "$WORK/stdout" || fail "memprof $c --help lacks /$want/: $(cat "$WORK/stdout")"
    done
done
grep -q -- '--signal' "$WORK/stdout" && fail "memprof attach --help offers --signal"
expect 1 1 "$MEMPROF_BIN" attach $$ --signal USR2
grep -q -- "--signal is not an attach option" "$WORK/stderr" || fail "attach --signal USR2 said: $(cat "$WORK/stderr")"
expect 1 1 "$MEMPROF_BIN" run -o -- /bin/true
grep -q -- "-o needs a value" "$WORK/stderr" || fail "run -o -- said: $(cat "$WORK/stderr")"
[[ ! -e $WORK/-- ]] || fail "run -o -- created a directory named --"

# report's --what error lists what report takes, and sends lock views to `memprof locks`
for v in stack locks; do
    expect 1 1 "$MEMPROF_BIN" report "$s" --what "$v"
    grep -q "want heap, alloc, peak or temporary" "$WORK/stderr" ||
        fail "report --what $v: the error does not list report's values: $(cat "$WORK/stderr")"
    ! grep -q "locks-holders" "$WORK/stderr" ||
        fail "report --what $v: the error offers a value report refuses: $(cat "$WORK/stderr")"
done
grep -q 'lock waits are `memprof locks`' "$WORK/stderr" || fail "report --what locks does not name memprof locks"
[[ ! -e "$WORK/never.txt" && ! -e "$WORK/never.pb.gz" && ! -e "$WORK/never.html" ]] || fail "a refused command wrote its output file"
[[ -z "$(ls -A "$WORK" | grep -v -e '^snaps$' -e '^runsnaps$' -e '^f.svg$' -e '^std' )" ]] ||
    fail "stray files in the working directory: $(ls -A "$WORK")"
echo "ok: ${#cmds[@]} commands answer --help and refuse unknown options; ${#bad[@]} bad command lines refused"
