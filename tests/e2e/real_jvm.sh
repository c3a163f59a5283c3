#!/usr/bin/env bash
# A JVM (HotSpot) under the shim: a program of four threads sharing a
# monitor, allocating through zlib and direct buffers, and taking the
# JVM's own SIGSEGV paths (implicit null checks, a stack overflow turned
# into StackOverflowError), with -Xcheck:jni (which checks the JVM's
# signal handlers) and without; `java -version`; and `memprof attach` to
# a running JVM, a snapshot, `memprof detach`. Each must behave exactly as
# without memprof: the same stdout, stderr (java -version) and exit
# status, no crash file (hs_err_pid*.log), every process an exit snapshot
# (real_run); another user's attach, snapshot and detach refused; and the report must make sense: sites named in libjvm.so,
# the zlib allocation charged to Java_java_util_zip_Deflater_init, and
# the JVM's compiler lock among the contended ones.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

JAVA=$(command -v java || ls /usr/lib/jvm/*/bin/java 2>/dev/null | head -1 || true)
JAVAC=$(command -v javac || ls /usr/lib/jvm/*/bin/javac 2>/dev/null | head -1 || true)
if [[ -z $JAVA || -z $JAVAC ]]; then
    echo "skip: no java/javac (scripts/setup test installs default-jdk-headless)"
    exit 0
fi
SRC=$(cd "$E2E_DIR/../programs/jvm" && pwd)
mkdir -p "$WORK/classes"
"$JAVAC" -d "$WORK/classes" "$SRC/JvmWork.java" "$SRC/JvmServe.java" 2>"$WORK/javac.err" ||
    fail "javac failed: $(cat "$WORK/javac.err")"
CP=$WORK/classes

# no_crash_files NAME: the JVM wrote no fatal-error log in either run.
no_crash_files() {
    local f
    f=$(ls "$WORK/$1.plain"/hs_err_pid*.log "$WORK/$1.shim"/hs_err_pid*.log 2>/dev/null | head -1 || true)
    [[ -z $f ]] || fail "$1: the JVM crashed: $(head -5 "$f")"
}

# site_check NAME FILE WHAT EXPR: jq_py EXPR on `report --what WHAT`.
site_check() {
    "$MEMPROF_BIN" report "$2" --what "$3" --json --top 0 >"$WORK/$1.json" ||
        fail "$1: memprof report --what $3 $2 failed"
    [[ $(jq_py "$WORK/$1.json" "$4") == True ]] || fail "$1: $4 does not hold for $2"
}

# The JVM's modules: sites with a named frame in libjvm.so, and zlib's
# allocation reached from the JNI entry point Java's Deflater calls.
NAMED_JVM='any(fn(f) and fn(f) != "??" and (f.get("module") or "").endswith("libjvm.so") for s in d["sites"] for f in s["frames"])'
TOP_NAMED='fn(d["sites"][0]["frames"][0]) not in ("", "??")'
DEFLATER='anywhere("Java_java_util_zip_Deflater_init") > 0'

real_run jvm 60 -- "$JAVA" -cp "$CP" JvmWork 3
[[ $(cat "$WORK/jvm.shim.rc") == 3 ]] || fail "JvmWork exited $(cat "$WORK/jvm.shim.rc"), not 3"
grep -q "stack overflow caught: true" "$WORK/jvm.shim.out" || fail "JvmWork printed $(cat "$WORK/jvm.shim.out")"
no_crash_files jvm
last=$(snapshots "$WORK/jvm.snaps" | tail -1)
site_check jvm-heap "$last" heap "$NAMED_JVM and $TOP_NAMED"
site_check jvm-alloc "$last" alloc "$DEFLATER"
"$MEMPROF_BIN" locks "$last" --json --top 0 >"$WORK/jvm.locks.json" || fail "memprof locks $last failed"
python3 - "$WORK/jvm.locks.json" <<'PY' || fail "no contended lock of the JVM's named in $last"
import json, sys
d = json.load(open(sys.argv[1]))
names = [f.get("function") or "" for l in d["locks"] for f in l["frames"]]
sys.exit(0 if any("Monitor" in n or "Mutex" in n for n in names) else 1)
PY

real_run jvm-checkjni 60 -- "$JAVA" -Xcheck:jni -cp "$CP" JvmWork 0
no_crash_files jvm-checkjni
grep -qi "warning" "$WORK/jvm-checkjni.shim.err" "$WORK/jvm-checkjni.shim.out" &&
    ! grep -qi "warning" "$WORK/jvm-checkjni.plain.err" &&
    fail "-Xcheck:jni warns only under the shim: $(grep -i warning "$WORK/jvm-checkjni.shim.err" | head -3)"

real_run jvm-version 30 -- "$JAVA" -version
cmp -s "$WORK/jvm-version.plain.err" "$WORK/jvm-version.shim.err" ||
    fail "java -version prints another stderr under the shim: $(diff "$WORK/jvm-version.plain.err" "$WORK/jvm-version.shim.err" | head -5)"

# ---- attach to a running JVM, then detach ----
# other_user_refused CMD PID [ARGS]: nobody's `memprof CMD PID` against
# root's JVM exits 1 (when this runs as root with setpriv; a copy of
# memprof nobody can run).
PUBBIN=
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    PUBDIR=$(mktemp -d /tmp/memprof-jvm.XXXXXX)
    trap 'rm -rf "$PUBDIR"' EXIT
    chmod 0755 "$PUBDIR"
    cp "$MEMPROF_BIN" "$PUBDIR/memprof"
    PUBBIN=$PUBDIR/memprof
fi
other_user_refused() {
    [[ -n $PUBBIN ]] || return 0
    local cmd=$1 rc=0
    shift
    setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$PUBBIN" "$cmd" "$@" \
        >"$WORK/nobody.out" 2>&1 || rc=$?
    [[ $rc -eq 1 ]] || fail "nobody's memprof $cmd $* against root's JVM: status $rc: $(cat "$WORK/nobody.out")"
}
command -v gdb >/dev/null || fail "no gdb (memprof attach needs it; scripts/setup test)"
# serve MODE: JvmServe in $WORK/serve.MODE, attached to (MODE attach) or
# not; stdout, stderr and status saved there.
serve() {
    local mode=$1 dir=$WORK/serve.$1 _ rc
    rm -rf "$dir"
    mkdir -p "$dir"
    (cd "$dir" && exec timeout -k 5 60 "$JAVA" -cp "$CP" JvmServe "$dir/stop") \
        >"$dir.out" 2>"$dir.err" &
    local pid=$!
    for _ in $(seq 200); do
        grep -q ready "$dir.out" 2>/dev/null && break
        sleep 0.05
    done
    grep -q ready "$dir.out" || fail "JvmServe ($mode) never got ready: $(cat "$dir.err")"
    local jvm
    jvm=$(pgrep -P "$pid" -x java || echo "$pid")   # timeout's child
    if [[ $mode == attach ]]; then
        other_user_refused attach "$jvm" -o /tmp
        "$MEMPROF_BIN" attach "$jvm" -o "$WORK/attach.snaps" --interval 0 >"$dir.attach" 2>&1 ||
            fail "memprof attach to the JVM failed: $(cat "$dir.attach")"
        sleep 1
        other_user_refused snapshot "$jvm"
        other_user_refused detach "$jvm"
        got=$("$MEMPROF_BIN" snapshot "$jvm" 2>"$dir.snap.err") ||
            fail "snapshot of the attached JVM failed: $(cat "$dir.snap.err")"
        "$MEMPROF_BIN" detach "$jvm" >"$dir.detach" 2>&1 ||
            fail "memprof detach of the JVM failed: $(cat "$dir.detach")"
        sleep 0.5   # unprofiled again, still running
    else
        sleep 1.5
    fi
    kill -0 "$jvm" 2>/dev/null || fail "the JVM ($mode) died: $(cat "$dir.err")"
    touch "$dir/stop"
    rc=0
    wait "$pid" || rc=$?
    echo "$rc" >"$dir.rc"
}
serve plain
serve attach
for x in rc out err; do
    cmp -s "$WORK/serve.plain.$x" "$WORK/serve.attach.$x" ||
        fail "the attached JVM's $x differs: $(diff "$WORK/serve.plain.$x" "$WORK/serve.attach.$x" | head -5)"
done
[[ $(cat "$WORK/serve.attach.rc") == 7 ]] || fail "JvmServe exited $(cat "$WORK/serve.attach.rc"), not 7"
ls "$WORK"/serve.*/hs_err_pid*.log >/dev/null 2>&1 && fail "the attached JVM crashed"
n=$(snapshots "$WORK/attach.snaps" | wc -l)
[[ $n -eq 2 ]] || fail "expected 2 snapshots of the attached JVM (request, detach), found $n"
report_json "$got" "$WORK/attach.json"
[[ $(jq_py "$WORK/attach.json" 'd.get("attached")') == True ]] || fail "$got does not say attached"
site_check attach-alloc "$got" alloc "$DEFLATER"
echo "ok: JVM under the shim (threads, SIGSEGV paths, -Xcheck:jni, -version) and attached"
