#!/usr/bin/env python3
"""pyresults.py - CPython regrtest results case by case, plain run against
profiled runs (tests/e2e/real_cpython_suite.sh).

Usage:
  pyresults.py rerun MATCHFILE PLAIN.xml XML LOG [XML LOG]...
  pyresults.py compare PLAIN.xml XML LOG [XML LOG]...

Each XML is regrtest's --junit-xml of a run, LOG the same run's -v output;
the XML LOG pairs are the profiled run and then its reruns, in order.

A case passed when its <testcase> is named and has no child: regrtest
records failures, errors, skips and expected failures as children, and a
case whose subtests failed stays nameless, so it never counts as passed. A
module whose worker was killed (regrtest's --timeout) or crashed is missing
from the XML; its cases are then read from the -v log ("NAME (ID) ... ok",
a docstring line possibly in between), and the case that started there
without a result is the one that hung. The cases after it never ran.

`rerun` writes to MATCHFILE the cases that passed plainly and have no result
from the profiled runs so far (not the hung ones: they are results), for a
rerun with --matchfile, and prints the modules they are in; nothing when
there is nothing left to run.

`compare` prints one line per case that passed plainly but not in the
profiled runs, saying what happened to it there, then a summary. Exit 1
when there is at least one such case; 2 when the plain run or the first
profiled run recorded no case at all (a run that did not happen must not
compare as equal); else 0.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

CASE_START = re.compile(r"^\w+ \((test\.[\w.]+)\)(.*)$")
RESULT = re.compile(r" \.\.\. (ok|FAIL|ERROR|skipped.*|expected failure|unexpected success)$")
HUNG = "hung: it was running when its module's worker was killed (timeout) or died"
PASSED = "passed"


def module_of(case):
    """The regrtest module a case belongs to: test.test_x.Class.method and
    test.test_pkg.test_x.Class.method -> test_x, test_pkg."""
    return case.split(".")[1]


def xml_cases(path):
    """{case id: PASSED or what happened instead}; {} when there is no file."""
    cases = {}
    if not os.path.exists(path):
        return cases
    for tc in ET.parse(path).getroot().iter("testcase"):
        name = tc.get("name")
        if not name:
            continue
        kids = [k for k in tc if k.tag not in ("system-out", "system-err")]
        if not kids:
            cases[name] = PASSED
        elif kids[0].tag == "skipped":
            cases[name] = "was skipped: " + (kids[0].text or "").strip()
        elif kids[0].tag == "output":
            cases[name] = "was an expected failure"
        else:
            lines = (kids[0].get("message") or "").strip().splitlines()
            cases[name] = "had %s: %s" % ("a failure" if kids[0].tag == "failure" else "an error",
                                          lines[-1] if lines else kids[0].get("type", ""))
    return cases


def log_cases(path, done):
    """{case id: outcome} from a -v log, for the modules not in DONE (those
    the run's XML has)."""
    cases = {}
    if not os.path.exists(path):
        return cases
    lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    for i, line in enumerate(lines):
        m = CASE_START.match(line)
        if not m or module_of(m.group(1)) in done:
            continue
        r = RESULT.search(m.group(2)) or (RESULT.search(lines[i + 1]) if i + 1 < len(lines) else None)
        if not r:
            cases[m.group(1)] = HUNG
        elif r.group(1) == "ok":
            cases[m.group(1)] = PASSED
        else:
            cases[m.group(1)] = "printed '%s' before its module's worker was killed or died" % r.group(1)
    return cases


def profiled(pairs):
    """{case id: outcome} over the profiled run and its reruns: a rerun only
    fills in cases the runs before it left without a result."""
    cases = {}
    for xml, log in pairs:
        got = xml_cases(xml)
        got.update(log_cases(log, {module_of(c) for c in got}))
        for c, o in got.items():
            cases.setdefault(c, o)
    return cases


def plain_passed(path):
    return sorted(c for c, o in xml_cases(path).items() if o == PASSED)


def rerun(matchfile, plain_xml, pairs):
    shim = profiled(pairs)
    left = [c for c in plain_passed(plain_xml) if c not in shim]
    with open(matchfile, "w") as f:
        f.writelines(c + "\n" for c in left)
    for m in sorted({module_of(c) for c in left}):
        print(m)
    return 0


def compare(plain_xml, pairs):
    plain = xml_cases(plain_xml)
    first = xml_cases(pairs[0][0])
    for path, cases in ((plain_xml, plain), (pairs[0][0], first)):
        if not cases:
            print("pyresults: no test case recorded in %s" % path)
            return 2
    shim = profiled(pairs)
    diffs = []
    for c in plain_passed(plain_xml):
        got = shim.get(c, "did not run (its module's worker was killed or died before it, "
                          "or its class or module setup failed)")
        if got != PASSED:
            diffs.append(c)
            print("DIFF %s: passed plainly; under the shim it %s" % (c, got))
    n_plain = sum(1 for o in plain.values() if o == PASSED)
    n_shim = sum(1 for o in shim.values() if o == PASSED)
    print("pyresults: %d of %d cases passed plainly, %d of %d under the shim (%d run%s); "
          "%d passed plainly but not under the shim"
          % (n_plain, len(plain), n_shim, len(shim), len(pairs), "" if len(pairs) == 1 else "s",
             len(diffs)))
    return 1 if diffs else 0


def pairs_of(args):
    if len(args) < 2 or len(args) % 2:
        return None
    return list(zip(args[0::2], args[1::2]))


def main(argv):
    if len(argv) >= 5 and argv[1] == "rerun" and pairs_of(argv[4:]):
        return rerun(argv[2], argv[3], pairs_of(argv[4:]))
    if len(argv) >= 4 and argv[1] == "compare" and pairs_of(argv[3:]):
        return compare(argv[2], pairs_of(argv[3:]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
