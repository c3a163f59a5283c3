#!/usr/bin/env python3
"""jsoncheck.py - assertions on memprof's JSON output for the e2e tests.

Usage:
  jsoncheck.py diff-schema DIFF.json
  jsoncheck.py leak DIFF.json --culprit FUNC --bytes N --count N --tol T
               [--file SRC] [--zero FUNC ...]
  jsoncheck.py rank1 DIFF.json --culprit FUNC [--file SRC]

`leak` expects `memprof diff --json --top 0` output (every site listed). It
asserts that the rank-1 site's innermost frame is FUNC, that the bytes
grown in sites whose innermost frame is FUNC are within T (a fraction) of
N, exact when T is 0 (and then the object count too), and that each --zero
function's sites net to exactly zero growth. `rank1` only checks the rank-1
site (for runs where the true leak between the snapshots is not known).

Exit 0 when every assertion holds; otherwise one "jsoncheck: ..." line per
failure plus the top sites, exit 1.
"""
import argparse
import json
import os
import sys

FRAME_KEYS = ("function", "module", "file", "line", "address")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def func_matches(function, name):
    # Demangled C++ names carry their parameter list: "f(int)".
    return function == name or function.startswith(name + "(")


def innermost(site):
    frames = site.get("frames") or []
    return frames[0]["function"] if frames else "<no frames>"


def describe(sites, n=6):
    lines = []
    for s in sites[:n]:
        f = (s.get("frames") or [{}])[0]
        lines.append("  #%s %+d bytes %+d objs  %s (%s:%s)" % (
            s.get("rank"), s.get("bytes_delta", 0), s.get("count_delta", 0),
            f.get("function"), f.get("file"), f.get("line")))
    return "\n".join(lines)


def schema_errors(doc):
    """The SPEC's diff --json shape and ordering."""
    errs = []
    for k in ("old", "new", "total", "sites"):
        if k not in doc:
            errs.append("missing key %r" % k)
    if errs:
        return errs
    for k in ("bytes_delta", "count_delta"):
        if not is_int(doc["total"].get(k)):
            errs.append("total.%s is not an integer" % k)
    prev = None
    for i, s in enumerate(doc["sites"]):
        for k in ("rank", "bytes_delta", "count_delta", "bytes"):
            if not is_int(s.get(k)):
                errs.append("sites[%d].%s is not an integer" % (i, k))
        if s.get("rank") != i + 1:
            errs.append("sites[%d].rank is %r, expected %d" % (i, s.get("rank"), i + 1))
        if prev is not None and is_int(s.get("bytes_delta")) and s["bytes_delta"] > prev:
            errs.append("sites[%d] grows more than the site ranked above it" % i)
        prev = s.get("bytes_delta")
        frames = s.get("frames")
        if not isinstance(frames, list):
            errs.append("sites[%d].frames is not a list" % i)
            continue
        for j, f in enumerate(frames):
            missing = [k for k in FRAME_KEYS if k not in f]
            if missing:
                errs.append("sites[%d].frames[%d] lacks %s" % (i, j, ",".join(missing)))
            elif not isinstance(f["address"], str) or not f["address"].startswith("0x"):
                errs.append("sites[%d].frames[%d].address is not a hex string" % (i, j))
    return errs


def cmd_diff_schema(args):
    doc = load(args.json)
    return schema_errors(doc), doc


def rank1_errors(doc, args):
    """The rank-1 site's innermost frame is the culprit, at a line of --file."""
    sites = doc["sites"]
    if not sites:
        return ["no sites in the diff"]
    top = innermost(sites[0])
    if not func_matches(top, args.culprit):
        return ["rank 1 is %r, expected the culprit %r" % (top, args.culprit)]
    f = sites[0]["frames"][0]
    if args.file and (not f["file"] or os.path.basename(f["file"]) != args.file
                      or not is_int(f["line"]) or f["line"] <= 0):
        return ["rank 1 frame is at %s:%s, expected a line of %s"
                % (f["file"], f["line"], args.file)]
    return []


def cmd_rank1(args):
    doc = load(args.json)
    errs = schema_errors(doc)
    if not errs:
        errs = rank1_errors(doc, args)
    if not errs:
        print("jsoncheck: ok: %s rank 1, %+d bytes" % (args.culprit, doc["sites"][0]["bytes_delta"]))
    return errs, doc


def cmd_leak(args):
    doc = load(args.json)
    errs = schema_errors(doc)
    if errs:
        return errs, doc
    errs += rank1_errors(doc, args)
    sites = doc["sites"]
    mine = [s for s in sites if func_matches(innermost(s), args.culprit)]
    got_bytes = sum(s["bytes_delta"] for s in mine)
    got_count = sum(s["count_delta"] for s in mine)
    if args.tol == 0:
        if got_bytes != args.bytes:
            errs.append("culprit grew %d bytes, exactly %d leaked" % (got_bytes, args.bytes))
        if got_count != args.count:
            errs.append("culprit grew %d objects, exactly %d leaked" % (got_count, args.count))
    elif abs(got_bytes - args.bytes) > args.tol * args.bytes:
        errs.append("culprit grew an estimated %d bytes, %d leaked: off by %.1f%% (> %.0f%%)"
                    % (got_bytes, args.bytes, 100.0 * (got_bytes - args.bytes) / args.bytes,
                       100 * args.tol))
    # With every site listed, the sites add up to the total.
    all_bytes = sum(s["bytes_delta"] for s in sites)
    if all_bytes != doc["total"]["bytes_delta"]:
        errs.append("sites add up to %d bytes, total.bytes_delta says %d"
                    % (all_bytes, doc["total"]["bytes_delta"]))
    for z in args.zero or []:
        net = sum(s["bytes_delta"] for s in sites if func_matches(innermost(s), z))
        if net != 0:
            errs.append("%s allocated and freed everything, yet its sites net %+d bytes" % (z, net))
    if not errs:
        print("jsoncheck: ok: %s rank 1, %d bytes estimated for %d leaked"
              % (args.culprit, got_bytes, args.bytes))
    return errs, doc


def load(path):
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError) as e:
        print("jsoncheck: %s: %s" % (path, e), file=sys.stderr)
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("diff-schema")
    p.add_argument("json")
    p.set_defaults(fn=cmd_diff_schema)
    p = sub.add_parser("leak")
    p.add_argument("json")
    p.add_argument("--culprit", required=True)
    p.add_argument("--bytes", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--tol", type=float, required=True)
    p.add_argument("--file")
    p.add_argument("--zero", action="append")
    p.set_defaults(fn=cmd_leak)
    p = sub.add_parser("rank1")
    p.add_argument("json")
    p.add_argument("--culprit", required=True)
    p.add_argument("--file")
    p.set_defaults(fn=cmd_rank1)
    args = ap.parse_args()
    errs, doc = args.fn(args)
    if errs:
        for e in errs:
            print("jsoncheck: " + e, file=sys.stderr)
        if isinstance(doc, dict) and isinstance(doc.get("sites"), list):
            print("top sites:\n" + describe(doc["sites"]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
