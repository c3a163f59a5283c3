#!/usr/bin/env python3
"""reportcheck.py - assertions on `memprof report --json` output (issue 12).

Usage:
  reportcheck.py peak REPORT.json --culprit FUNC --bytes N --tol T
                 [--at-least N]
      rank 1 of `--what peak` is FUNC with N bytes (within T, exact when T
      is 0); "peak".bytes is at least --at-least (within T) and its time
      lies within the process's run; the sites add up to peak.sites_bytes.
  reportcheck.py temporary REPORT.json --culprit FUNC --count N --tol T
                 [--never FUNC ...]
      rank 1 of `--what temporary` is FUNC with N temporary allocations
      (within T; at T 0 between 95% and 100% of N: a thread preempted for
      over a millisecond between malloc and free makes a block long-lived);
      each --never FUNC has sites, all with no temporary allocation.
  reportcheck.py series REPORT.json --min-points N
      "series" has N to 257 points, times increasing within the run,
      integers throughout, some heap and RSS above zero.
  reportcheck.py merged REPORT.json --processes N --culprit FUNC --bytes N --tol T
      "processes" is N and the rank-1 site is FUNC with N bytes (within T).

Exit 0 when every assertion holds; else one "reportcheck: ..." line per
failure and the top sites, exit 1.
"""
import argparse
import json
import sys


def fn(site):
    frames = site.get("frames") or []
    return frames[0]["function"] if frames else "<no frames>"


def matches(function, name):
    return function == name or function.startswith(name + "(")


def within(value, want, tol):
    return value == want if tol == 0 else abs(value - want) <= tol * want


def top(doc, n=5):
    return "\n".join("  #%d bytes=%d count=%d temporary=%d  %s" % (
        s["rank"], s["bytes"], s["count"], s.get("temporary_count", 0), fn(s))
        for s in doc["sites"][:n])


def check_rank1_bytes(doc, a, errs):
    """Rank 1 is the culprit, whose sites hold a.bytes (within a.tol)."""
    sites = doc["sites"]
    if not sites or not matches(fn(sites[0]), a.culprit):
        errs.append("rank 1 is %s, not %s" % (fn(sites[0]) if sites else None, a.culprit))
        return
    b = sum(s["bytes"] for s in sites if matches(fn(s), a.culprit))
    if not within(b, a.bytes, a.tol):
        errs.append("%s: %d bytes, want %d (tol %g)" % (a.culprit, b, a.bytes, a.tol))


def check_peak(doc, a, errs):
    sites = doc["sites"]
    check_rank1_bytes(doc, a, errs)
    p = doc["peak"]
    if a.at_least and p["bytes"] < a.at_least * (1 - a.tol):
        errs.append("peak.bytes %d below %d" % (p["bytes"], a.at_least))
    total = sum(s["bytes"] for s in sites)
    if total != p["sites_bytes"]:
        errs.append("peak sites add up to %d, peak.sites_bytes is %d" % (total, p["sites_bytes"]))
    if not (p["sites_bytes"] <= p["bytes"] and p["sites_bytes"] * 65 >= p["bytes"] * 64):
        errs.append("peak.sites_bytes %d not within 1/64 below peak.bytes %d" % (p["sites_bytes"], p["bytes"]))
    if not (doc["time_ns"] - 10**12 < p["time_ns"] <= doc["time_ns"]):
        errs.append("peak.time_ns %d not before the snapshot's time %d" % (p["time_ns"], doc["time_ns"]))


def check_temporary(doc, a, errs):
    sites = doc["sites"]
    if not sites or not matches(fn(sites[0]), a.culprit):
        errs.append("rank 1 of temporary is %s, not %s" % (fn(sites[0]) if sites else None, a.culprit))
        return
    c = sites[0]["temporary_count"]
    ok = (0.95 * a.count <= c <= a.count) if a.tol == 0 else within(c, a.count, a.tol)
    if not ok:
        errs.append("%s: %d temporary allocations, want %d (tol %g)" % (a.culprit, c, a.count, a.tol))
    # Each bucket is an estimate rounded on its own: the three may differ
    # from the rounded total by one each.
    h = sites[0]["lifetime_hist"]
    if len(h) != 12 or abs(sum(h[:3]) - c) > 2:
        errs.append("lifetime_hist of rank 1 (%r) does not hold its %d temporary ones in buckets 0..2" % (h, c))


def check_never(heap_doc, names, errs):
    for name in names:
        mine = [s for s in heap_doc["sites"] if matches(fn(s), name)]
        if not mine:
            errs.append("no site of %s in the alloc report" % name)
        for s in mine:
            if s["temporary_count"] or not s["freed_count"]:
                errs.append("%s: temporary %d, freed %d; want 0 and > 0" % (name, s["temporary_count"], s["freed_count"]))


def check_series(doc, a, errs):
    pts = doc["series"]
    if not (a.min_points <= len(pts) <= 257):
        errs.append("series has %d points, want %d..257" % (len(pts), a.min_points))
    prev = 0
    for i, p in enumerate(pts):
        if sorted(p) != ["heap_bytes", "rss_bytes", "t_ns"] or not all(isinstance(v, int) for v in p.values()):
            errs.append("series[%d] is %r" % (i, p))
            return
        if p["t_ns"] < prev:
            errs.append("series[%d] goes back in time" % i)
        prev = p["t_ns"]
    if pts and pts[-1]["t_ns"] > doc["time_ns"] + 10**9:
        errs.append("series ends after the snapshot")
    if not any(p["heap_bytes"] for p in pts) or not any(p["rss_bytes"] for p in pts):
        errs.append("series never shows a heap or an RSS")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["peak", "temporary", "series", "merged"])
    ap.add_argument("report")
    ap.add_argument("--culprit")
    ap.add_argument("--bytes", type=int)
    ap.add_argument("--count", type=int)
    ap.add_argument("--tol", type=float, default=0)
    ap.add_argument("--at-least", type=int, default=0)
    ap.add_argument("--never", action="append", default=[])
    ap.add_argument("--alloc-report")
    ap.add_argument("--min-points", type=int, default=2)
    ap.add_argument("--processes", type=int)
    a = ap.parse_args()
    doc = json.load(open(a.report))
    errs = []
    if a.mode == "peak":
        check_peak(doc, a, errs)
    elif a.mode == "temporary":
        check_temporary(doc, a, errs)
        if a.never:
            check_never(json.load(open(a.alloc_report)), a.never, errs)
    elif a.mode == "series":
        check_series(doc, a, errs)
    else:
        if doc["processes"] != a.processes:
            errs.append("report covers %d processes, want %d" % (doc["processes"], a.processes))
        check_rank1_bytes(doc, a, errs)
    for e in errs:
        print("reportcheck: " + e)
    if errs:
        print(top(doc))
        sys.exit(1)
    print("reportcheck %s: ok" % a.mode)


if __name__ == "__main__":
    main()
