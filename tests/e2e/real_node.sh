#!/usr/bin/env bash
# Node.js under the shim: worker threads (an isolate each, V8's own
# threads), zlib, Buffers, a signal taken by the program's own handler
# (node installs its signal handling at start) and a child node process;
# the same stdout and exit status (5) as without the shim, no warning,
# every process an exit snapshot (real_run), and the report's top site
# named.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

NODE=$(command -v node || command -v nodejs || true)
[[ -n $NODE ]] || { echo "skip: no node (scripts/setup test installs nodejs)"; exit 0; }
PROG=$(cd "$E2E_DIR/../programs/node" && pwd)/workers.js

real_run node 60 -- "$NODE" "$PROG"
[[ $(cat "$WORK/node.shim.rc") == 5 ]] || fail "node exited $(cat "$WORK/node.shim.rc"), not 5"
grep -qx "child said 42" "$WORK/node.shim.out" || fail "node printed: $(cat "$WORK/node.shim.out")"
[[ $(cut -d' ' -f1 "$WORK/node.witness" | sort -u | wc -l) -ge 2 ]] ||
    fail "the witness saw $(cut -d' ' -f1 "$WORK/node.witness" | sort -u | wc -l) processes; expected node and its child"
main=$(head -1 "$WORK/node.witness" | cut -d' ' -f1)
last=$(pid_snapshots "$WORK/node.snaps" "$main" | tail -1)
report_json "$last" "$WORK/node.json"
top=$(jq_py "$WORK/node.json" 'fn(d["sites"][0]["frames"][0])')
[[ -n $top && $top != "??" ]] || fail "node's top site is unnamed"
[[ $(jq_py "$WORK/node.json" 'd["counters"]["threads_seen"] >= 4') == True ]] ||
    fail "node's snapshot saw $(jq_py "$WORK/node.json" 'd["counters"]["threads_seen"]') threads"
echo "ok: node under the shim; top site $top"
