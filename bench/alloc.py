"""bench/alloc.py - an allocation-heavy Python workload for scripts/bench.

python3 alloc.py N: N rounds of building, transforming and dropping
dicts, lists, tuples and strings of mixed sizes (some above pymalloc's
512-byte limit, so they reach malloc), plus a JSON round trip.
"""
import json
import sys


def build(r):
    recs = []
    for i in range(400):
        key = "k%d-%d" % (r, i)
        recs.append({
            "id": i,
            "name": key * (1 + (i % 7)),
            "tags": [key[: 1 + j % 5] for j in range(i % 9)],
            "blob": "x" * (64 + (i * 37) % 1500),
            "pt": (i, r, i * r),
        })
    return recs


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    keep = []
    total = 0
    for r in range(n):
        recs = build(r)
        recs.sort(key=lambda d: d["name"])
        text = json.dumps(recs[:50])
        back = json.loads(text)
        total += len(text) + len(back)
        index = {d["name"]: d for d in recs}
        total += sum(len(d["blob"]) for d in index.values())
        keep.append(recs[r % len(recs)])
        if len(keep) > 64:
            keep = keep[32:]
    print("alloc.py", total)


main()
