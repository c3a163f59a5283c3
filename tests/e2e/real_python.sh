#!/usr/bin/env bash
# python3 running an allocation-heavy script (dicts, lists, strings, objects,
# two threads sharing a lock) with and without the shim: same output and
# status, a snapshot per process, every snapshot readable (SPEC "Running a
# program under the shim": the shim never changes the program's output).
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

command -v /usr/bin/python3 >/dev/null || fail "no /usr/bin/python3 (run scripts/setup)"

prepare() {
    cat >alloc.py <<'PY'
import hashlib, threading

class Node:
    __slots__ = ("key", "val", "next")
    def __init__(self, key, val, nxt):
        self.key, self.val, self.next = key, val, nxt

def churn(n):
    d = {}
    head = None
    for i in range(n):
        s = ("k%07d" % i) * (1 + i % 7)
        d[s] = [i] * (i % 13)
        head = Node(s, bytearray(i % 300), head)
        if i % 3 == 0:
            d.pop(s, None)
    total = 0
    while head is not None:
        total += len(head.val)
        head = head.next
    return len(d), total

lock = threading.Lock()
results = []
def worker(n):
    r = churn(n)
    with lock:
        results.append(r)

threads = [threading.Thread(target=worker, args=(60000 + k,)) for k in range(2)]
for t in threads: t.start()
for t in threads: t.join()
big = [str(i) * 20 for i in range(200000)]
h = hashlib.sha256("".join(big[::997]).encode()).hexdigest()
print(sorted(results), len(big), h)
PY
}
real_run python 90 prepare -- /usr/bin/python3 alloc.py
