#!/usr/bin/env bash
# memprof attach on executables built without PIE that take the address of
# malloc and free: their own PLT entries are then the canonical addresses
# of those functions (every object's slot, and dlsym, give the stub), and
# all of the program's own calls go through its JUMP_SLOTs, which hold
# libc's definitions. Attaching must see those calls.
#  - attach_target_nopie: attached after its warm-up, snapshot, leak,
#    snapshot: `diff` ranks the leak first; the function pointers it took
#    before the attach still equal malloc and free; after a detach its
#    output and status are those of a plain run.
#  - Debian's /usr/bin/python3 (a non-PIE executable holding all of
#    CPython), if it is one: the 20 MB it grows after the attach are seen.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/attach_lib.sh"

# canonical_plt EXE FN: EXE is an ET_EXEC whose dynamic symbol FN is
# undefined with a value (the PLT stub's address).
canonical_plt() {
    LC_ALL=C readelf -h "$1" | grep -q 'Type: *EXEC' &&
        LC_ALL=C readelf -W --dyn-syms "$1" |
            awk -v fn="$2" '$8 ~ "^"fn"(@|$)" && $7 == "UND" && $2 !~ /^0+$/ {found = 1} END {exit !found}'
}

prog=$TEST_PROGS/attach_target_nopie
[[ -x $prog ]] || fail "missing $prog (build the test programs)"
command -v readelf >/dev/null || fail "no readelf (binutils)"
canonical_plt "$prog" malloc && canonical_plt "$prog" free ||
    fail "$prog does not make malloc and free canonical PLT entries: the test tests nothing"
cmds=$'leak\nchurn\nquit'
rc=$(plain_run leak "$cmds" "$prog" cmd)
[[ $rc -eq 0 ]] || fail "plain run exited $rc"
[[ $(tail -1 "$WORK/leak.plain.out") == DONE ]] || fail "plain run: $(tail -1 "$WORK/leak.plain.out")"

tgt_start leak "$prog" cmd
tgt_wait_line leak '^READY$'
attach_ok "$TGT_PID" -o "$WORK/snaps" --interval 0 --sample "$SAMPLED_RATE"
old=$(snap "$TGT_PID")
tgt_send leak
tgt_wait_line leak '^LEAK '
new=$(snap "$TGT_PID")
diff_leak_ok "$old" "$new" "$WORK/diff.json" "$WORK/leak.out" LEAK leak_after_attach attach_target.c
detach_ok "$TGT_PID"
tgt_send churn
tgt_wait_line leak '^CHURNED 1$'
tgt_send quit
tgt_finish
[[ $TGT_RC -eq 0 ]] || fail "the target exited $TGT_RC"
cmp -s "$WORK/leak.plain.out" "$WORK/leak.out" ||
    { diff "$WORK/leak.plain.out" "$WORK/leak.out" >&2; fail "output differs from the plain run"; }
[[ ! -s $WORK/leak.err ]] || fail "the target printed on stderr: $(cat "$WORK/leak.err")"
echo "ok: attach_target_nopie: leak ranked first, function pointers kept"

py=/usr/bin/python3
[[ -x $py ]] || fail "no $py (Debian's python3: scripts/setup test)"
real_py=$(readlink -f "$py")
if ! canonical_plt "$real_py" malloc; then
    echo "ok: $real_py is not a non-PIE executable taking malloc's address; nothing more to test"
    exit 0
fi
write_grow_py "$WORK/grow.py"
py_attach_grow py "$py" "$WORK/grow.py"
tgt_send quit
tgt_finish
[[ $TGT_RC -eq 0 ]] || fail "$py exited $TGT_RC"
echo "ok: $real_py (non-PIE, canonical malloc): growth after the attach seen"
