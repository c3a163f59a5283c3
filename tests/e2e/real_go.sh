#!/usr/bin/env bash
# A Go program with cgo (trial20): goroutines call C, which mallocs and
# leaks (tests/programs/go/cgoleak), built here with Debian's go. Go's own
# heap is mmap'd by its runtime and not seen; the C heap is. Go ends its
# process with a raw exit_group, so no exit snapshot is written (README,
# "Known limitations"): the test asks for one with `memprof snapshot`
# while the program waits on its stdin. What must hold:
#   - the same output and status as plainly, nothing on stderr;
#   - the leak is the top site, "cgo_leak_block (main.go:LINE)" at the
#     malloc's line, its bytes within 25% of what the program leaked,
#     called from the cgo stub and runtime.asmcgocall, which must read
#     asm_amd64.s (libdwfl took that Go function for the C unit before it,
#     gcc's aranges being the only ones: "runtime.asmcgocall.abi0
#     (gcc_mmap.c:37)").
source "$(dirname "$0")/common.sh"
command -v go >/dev/null || fail "no go (run scripts/setup test: golang-go)"
src=$(cd "$E2E_DIR/../programs/go/cgoleak" && pwd)
(cd "$src" && CGO_ENABLED=1 GOFLAGS=-mod=mod go build -o "$WORK/cgoleak" .) >"$WORK/build.log" 2>&1 ||
    fail "go build failed: $(tail -5 "$WORK/build.log")"
prog=$WORK/cgoleak

rc=0
timeout -k 5 60 "$prog" </dev/null >"$WORK/plain.out" 2>"$WORK/plain.err" || rc=$?
[[ $rc -eq 0 ]] || fail "cgoleak fails without the shim: status $rc: $(cat "$WORK/plain.err")"

mkfifo "$WORK/stdin"
mkdir -p "$WORK/snaps"
timeout -k 5 60 env LD_PRELOAD="$MEMPROF_SHIM" MEMPROF_OUT="$WORK/snaps" MEMPROF_SAMPLE=4096 \
    "$prog" <"$WORK/stdin" >"$WORK/shim.out" 2>"$WORK/shim.err" &
tpid=$!
exec 3>"$WORK/stdin"
trap 'exec 3>&-; kill $tpid 2>/dev/null || true' EXIT
pid=
for _ in $(seq 100); do   # timeout's child: cgoleak itself
    pid=$(pgrep -P "$tpid" -x cgoleak || true)
    [[ -n $pid ]] && break
    sleep 0.1
done
[[ -n $pid ]] || fail "cgoleak did not start"
for _ in $(seq 600); do
    grep -q '^LEAK' "$WORK/shim.out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
grep -q '^LEAK' "$WORK/shim.out" || fail "cgoleak under the shim never got to its leak: $(cat "$WORK/shim.err")"
rc=0
"$MEMPROF_BIN" snapshot "$pid" >"$WORK/snapshot.out" 2>&1 || rc=$?
[[ $rc -eq 0 ]] || fail "memprof snapshot of cgoleak exited $rc: $(cat "$WORK/snapshot.out")"
exec 3>&-
rc=0
wait "$tpid" || rc=$?
trap - EXIT
[[ $rc -eq 0 ]] || fail "cgoleak under the shim: status $rc: $(cat "$WORK/shim.err")"
cmp -s "$WORK/plain.out" "$WORK/shim.out" || fail "cgoleak printed otherwise under the shim: $(diff "$WORK/plain.out" "$WORK/shim.out" | head -5)"
[[ ! -s $WORK/shim.err ]] || fail "the shim printed: $(head -3 "$WORK/shim.err")"

snap=$(cat "$WORK/snapshot.out")
bytes=$(leak_field "$WORK/shim.out" bytes)
line=$(grep -n 'void \*p = malloc(n);' "$src/main.go" | cut -d: -f1)
"$MEMPROF_BIN" report "$snap" --top 1 >"$WORK/report.txt" || fail "memprof report $snap failed"
"$MEMPROF_BIN" report "$snap" --json --top 1 >"$WORK/report.json" || fail "memprof report --json $snap failed"
python3 - "$WORK/report.json" "$bytes" "$line" <<'PY' || fail "the leak is not read right: $(sed -n 5,9p "$WORK/report.txt")"
import json, sys
d = json.load(open(sys.argv[1]))
want, line = int(sys.argv[2]), int(sys.argv[3])
s = d["sites"][0]
fr = s["frames"]
assert fr[0]["function"] == "cgo_leak_block" and fr[0]["file"].endswith("/main.go") and fr[0]["line"] == line, fr[0]
assert abs(s["bytes"] - want) <= 0.25 * want, (s["bytes"], want)
asm = [f for f in fr if f["function"].startswith("runtime.asmcgocall")]
assert asm and (asm[0]["file"] or "").endswith("/asm_amd64.s"), asm
PY
echo "ok: Go with cgo under the shim: $(sed -n 6,8p "$WORK/report.txt" | sed 's/^ *[0-9 .%A-Za-z]*  //; s/^ *//' | tr '\n' ' ')"
