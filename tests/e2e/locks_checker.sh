#!/usr/bin/env bash
# locks_checker.sh - `lockcheck`, the assertions of the locks_*.sh tests on
# `memprof locks --json --top 0` output. Sourced by them; run directly (as
# ctest does) it checks the checker itself on canned documents.
#
# lockcheck JSON [--empty] [--first FUNC] [--waiter FUNC] [--holder FUNC]
#                [--has FUNC] [--absent FUNC] [--kind KIND]
#   --empty        no lock is listed
#   --first FUNC   the rank-1 lock was first used in FUNC (its "frames")
#   --waiter FUNC  the rank-1 lock's biggest waiter stack names FUNC
#   --holder FUNC  the rank-1 lock's biggest holder stack names FUNC
#   --has FUNC     some listed lock has a stack naming FUNC
#   --absent FUNC  no listed lock has any stack naming FUNC
#   --kind KIND    the rank-1 lock's kind (mutex, rwlock, spin)
# A stack names FUNC when one of its frames' "function" is FUNC (C++ names
# may carry their parameter list). Prints the locks on failure, exits 1.

lockcheck() {
    python3 - "$@" <<'EOF'
import argparse, json, sys

ap = argparse.ArgumentParser(prog="lockcheck")
ap.add_argument("json")
ap.add_argument("--empty", action="store_true")
for opt in ("first", "waiter", "holder", "kind"):
    ap.add_argument("--" + opt)
ap.add_argument("--has", action="append", default=[])
ap.add_argument("--absent", action="append", default=[])
a = ap.parse_args()
doc = json.load(open(a.json))
locks = doc.get("locks")
errs = []
if not isinstance(locks, list):
    sys.exit("lockcheck: %s has no \"locks\" list" % a.json)

def names(frames, fn):
    return any(f.get("function") == fn or str(f.get("function")).startswith(fn + "(")
               for f in frames or [])

def biggest(entries):
    return max(entries or [], key=lambda e: e.get("wait_ns", 0), default={})

def stacks(lock):
    yield lock.get("frames")
    for key in ("sites", "holders"):
        for e in lock.get(key) or []:
            yield e.get("frames")

def show(lock):
    fn = lambda fr: "<".join(str(f.get("function")) for f in (fr or [])[:4]) or "-"
    out = ["  #%s %s %s: %s contentions, %s ns; first used %s" % (
        lock.get("rank"), lock.get("kind"), lock.get("address"), lock.get("contentions"),
        lock.get("wait_ns"), fn(lock.get("frames")))]
    for key in ("sites", "holders"):
        for e in lock.get(key) or []:
            out.append("      %s %s x %s ns: %s" % (key, e.get("contentions"),
                                                    e.get("wait_ns"), fn(e.get("frames"))))
    return "\n".join(out)

if a.empty and locks:
    errs.append("expected no lock, found %d" % len(locks))
top = locks[0] if locks else None
for opt, what in (("first", lambda l: l.get("frames")),
                  ("waiter", lambda l: biggest(l.get("sites")).get("frames")),
                  ("holder", lambda l: biggest(l.get("holders")).get("frames"))):
    fn = getattr(a, opt)
    if fn and (top is None or not names(what(top), fn)):
        errs.append("rank-1 lock: its %s stack does not name %s" % (opt, fn))
if a.kind and (top is None or top.get("kind") != a.kind):
    errs.append("rank-1 lock is not a %s" % a.kind)
for fn in a.has:
    if not any(names(s, fn) for l in locks for s in stacks(l)):
        errs.append("no lock has a stack naming %s" % fn)
for fn in a.absent:
    if any(names(s, fn) for l in locks for s in stacks(l)):
        errs.append("a lock has a stack naming %s" % fn)
for l in locks:
    for k in ("rank", "contentions", "wait_ns", "max_wait_ns"):
        if not isinstance(l.get(k), int):
            errs.append("lock %s: %s is not an integer" % (l.get("address"), k))
for e in errs:
    print("lockcheck: " + e)
if errs:
    print("\n".join(show(l) for l in locks[:5]) or "  (no locks)")
    sys.exit(1)
EOF
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
    f() { printf '[{"function": "%s"}, {"function": "main"}]' "$1"; }
    cat >"$dir/one.json" <<EOF
{"file": "x", "locks": [
 {"rank": 1, "kind": "mutex", "address": "0x1", "contentions": 9, "wait_ns": 900, "max_wait_ns": 300,
  "frames": $(f hot), "sites": [{"contentions": 1, "wait_ns": 1, "frames": $(f other)},
  {"contentions": 8, "wait_ns": 899, "frames": $(f hot)}],
  "holders": [{"contentions": 9, "wait_ns": 900, "frames": $(f "hot(int)")}]},
 {"rank": 2, "kind": "rwlock", "address": "0x2", "contentions": 1, "wait_ns": 5, "max_wait_ns": 5,
  "frames": $(f cold), "sites": [], "holders": []}]}
EOF
    echo '{"file": "x", "locks": []}' >"$dir/none.json"
    lockcheck "$dir/one.json" --first hot --waiter hot --holder hot --kind mutex --has cold --absent nowhere
    lockcheck "$dir/none.json" --empty --absent hot
    for bad in "--empty" "--waiter other" "--holder cold" "--kind rwlock" "--has nowhere" "--absent cold"; do
        # shellcheck disable=SC2086
        if lockcheck "$dir/one.json" $bad >/dev/null; then
            echo "FAIL: lockcheck accepted $bad" >&2
            exit 1
        fi
    done
    if lockcheck "$dir/none.json" --first hot >/dev/null; then
        echo "FAIL: lockcheck accepted --first on an empty list" >&2
        exit 1
    fi
    echo "lockcheck self-test passed"
fi

# locks_json OUT.json [OLD] FILE: `memprof locks --json --top 0` into OUT.json.
locks_json() {
    local out=$1
    shift
    "$MEMPROF_BIN" locks "$@" --json --top 0 >"$out" || fail "memprof locks $* exited $?"
}

# locks_of_run DIR OUT.json [VAR=VALUE...] -- PROG: runs PROG under the shim
# and writes the lock report of its exit snapshot (the only one) to OUT.json.
locks_of_run() {
    local dir=$1 out=$2
    shift 2
    run_under_shim "$dir" "$@"
    local -a files
    mapfile -t files < <(snapshots "$dir")
    [[ ${#files[@]} -eq 1 ]] || fail "expected 1 snapshot in $dir, found ${#files[@]}"
    locks_json "$out" "${files[0]}"
}
