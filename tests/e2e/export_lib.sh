#!/usr/bin/env bash
# export_lib.sh - helpers of the export_*.sh tests, which check memprof's
# exports (pprof, flame, folded) with their real consumers: `go tool pprof`
# (Debian golang-go) and xmllint (libxml2-utils). Sourced by them after
# common.sh. Run directly (ctest does, as e2e_export_lib) it checks that the
# consumers are installed and work, and that its own checkers reject bad
# input, so a checker that accepts everything cannot hide an export bug.
#
# A missing consumer is a FAILURE, never a skip: scripts/setup installs both.

# need_tool CMD DEBIAN_PACKAGE
need_tool() {
    command -v "$1" >/dev/null 2>&1 ||
        fail "'$1' is not installed; scripts/setup installs it (Debian package $2). The export tests need the real consumer and do not skip."
}

need_consumers() {
    need_tool go golang-go
    need_tool xmllint libxml2-utils
    need_tool timeout coreutils
    gopprof_env
    timeout 60 env "${GO_ENV[@]}" go tool -n pprof >/dev/null 2>"$WORK/go-tool.err" ||
        fail "'go tool pprof' is not available: $(cat "$WORK/go-tool.err")"
}

# go must work in CI with no home directory and no network: everything it
# writes goes under $WORK, and it may not fetch anything.
gopprof_env() {
    mkdir -p "$WORK/go/home" "$WORK/go/cache" "$WORK/go/path" "$WORK/go/tmp"
    GO_ENV=(HOME="$WORK/go/home" GOCACHE="$WORK/go/cache" GOPATH="$WORK/go/path"
        GOTOOLCHAIN=local GOPROXY=off GOFLAGS= PPROF_TMPDIR="$WORK/go/tmp")
}

# gopprof OUT ARGS...: `go tool pprof ARGS` with stdout into OUT; fails the
# test (showing pprof's stderr) when pprof fails.
gopprof() {
    local out=$1
    shift
    gopprof_env
    local rc=0
    (cd "$WORK" && timeout 60 env "${GO_ENV[@]}" go tool pprof "$@") >"$out" 2>"$out.err" || rc=$?
    if [[ $rc -ne 0 ]]; then
        sed 's/^/  pprof: /' "$out.err" >&2
        fail "go tool pprof $* exited $rc"
    fi
}

# mp OUT ARGS...: `memprof ARGS` with stdout into OUT (stderr into OUT.err);
# fails the test unless memprof exits 0.
mp() {
    local out=$1
    shift
    local rc=0
    timeout 30 "$MEMPROF_BIN" "$@" >"$out" 2>"$out.err" || rc=$?
    if [[ $rc -ne 0 ]]; then
        sed 's/^/  memprof: /' "$out.err" >&2
        fail "memprof $* exited $rc"
    fi
}

# pycheck SUBCOMMAND ARGS...: the assertions below, in Python.
#   pprof-total RAW TYPE          sum of column TYPE of `go tool pprof -raw`
#   top-flat TOP                  the function on the first row of `-top`
#   trace-has TRACES VALUE FUNC.. some `-traces` block has VALUE as its value
#                                 and exactly the frames FUNC... leaf first
#                                 (VALUE "-" matches any value)
#   folded FILE --total N --leaf FUNC [--via FUNC]
#                                 folded-stack shape, sum == N, the largest
#                                 line's leaf is FUNC (with --via FUNC above it)
#   svg FILE [--frame FUNC] [--root-value N] [--red FUNC] [--not-red FUNC]
#                                 self-contained flame graph SVG checks
#   approx A B TOL                |A - B| <= TOL * max(|A|, |B|)
#   pprof-functions PB.GZ         the profile's Function table decoded from
#                                 the wire, one line each: id, name,
#                                 system_name, filename, start_line (tabs);
#                                 fails on a malformed message or two
#                                 Functions with one name and file
pycheck() {
    python3 - "$@" <<'EOF'
import argparse, re, sys

def die(msg):
    print("check: " + msg, file=sys.stderr)
    sys.exit(1)

def pprof_raw(path):
    """(types, samples [(values, location ids)], {location id: [functions]})"""
    types, samples, locs = None, [], {}
    section = None
    for line in open(path):
        s = line.rstrip("\n")
        if s in ("Samples:", "Locations", "Mappings"):
            section = s
            continue
        if section == "Samples:":
            if types is None:
                types = [t.split("/")[0] for t in s.split()]
                continue
            m = re.match(r"^\s*(-?\d+(?:\s+-?\d+)*):\s*([\d ]*)$", s)
            if m:
                samples.append(([int(v) for v in m.group(1).split()],
                                [int(v) for v in m.group(2).split()]))
        elif section == "Locations":
            m = re.match(r"^\s*(\d+): 0x[0-9a-f]+ M=\d+ (\S+)", s)
            if m:
                locs[int(m.group(1))] = [m.group(2)]
    if types is None:
        die("%s: no Samples section in pprof -raw output" % path)
    return types, samples, locs

def cmd_pprof_total(a):
    types, samples, _ = pprof_raw(a.raw)
    if a.type not in types:
        die("%s: no sample type %s in %s" % (a.raw, a.type, types))
    i = types.index(a.type)
    for v, _ in samples:
        if len(v) != len(types):
            die("%s: a sample has %d values for %d types" % (a.raw, len(v), len(types)))
    print(sum(v[i] for v, _ in samples))

def cmd_top_flat(a):
    lines = open(a.top).read().splitlines()
    for k, s in enumerate(lines):
        if s.split()[:5] == ["flat", "flat%", "sum%", "cum", "cum%"]:
            if k + 1 >= len(lines):
                die("%s: -top lists no function" % a.top)
            cols = lines[k + 1].split(None, 5)
            if len(cols) < 6:
                die("%s: cannot parse -top row %r" % (a.top, lines[k + 1]))
            print(cols[5])
            return
    die("%s: no -top header" % a.top)

def cmd_trace_has(a):
    text = open(a.traces).read()
    blocks = re.split(r"^-+\+-+$", text, flags=re.M)[1:]
    seen = []
    for b in blocks:
        rows = [r for r in b.splitlines() if r.strip()]
        frames, value = [], None
        for r in rows:
            if re.match(r"^\s*[\w.]+:\s", r) and value is None:
                continue   # a label row ("   program:  leak_malloc")
            parts = r.split(None, 1) if value is None else [None, r.strip()]
            if value is None:
                if len(parts) < 2:
                    break
                value = parts[0]
                frames.append(parts[1].strip())
            else:
                frames.append(parts[1])
        if value is None:
            continue
        seen.append("%s %s" % (value, " <- ".join(frames)))
        if frames == a.funcs and (a.value == "-" or value == a.value):
            return
    die("no -traces block with value %s and stack %s; blocks:\n  %s"
        % (a.value, " <- ".join(a.funcs), "\n  ".join(seen)))

FOLDED = re.compile(r"^[^ ]+( [^ ]+)* [0-9]+$")

def cmd_folded(a):
    lines = open(a.file).read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    else:
        die("%s: does not end with a newline" % a.file)
    if not lines:
        die("%s: no folded stacks" % a.file)
    errs, total, best, stacks = [], 0, None, set()
    for n, s in enumerate(lines, 1):
        if not FOLDED.match(s):
            errs.append("line %d does not have the folded shape: %r" % (n, s))
            continue
        stack, value = s.rsplit(" ", 1)
        frames = stack.split(";")
        if any(f == "" for f in frames):
            errs.append("line %d has an empty frame: %r" % (n, s))
        if stack in stacks:
            errs.append("line %d repeats a stack: %r" % (n, stack))
        stacks.add(stack)
        v = int(value)
        if v == 0:
            errs.append("line %d has value 0: %r" % (n, s))
        total += v
        if best is None or v > best[0]:
            best = (v, frames)
    if a.total is not None and total != a.total:
        errs.append("values sum to %d, expected exactly %d (difference %+d)"
                    % (total, a.total, total - a.total))
    if best and a.leaf and best[1][-1] != a.leaf:
        errs.append("the largest line (%d) ends in %r, expected the culprit %r: %s"
                    % (best[0], best[1][-1], a.leaf, ";".join(best[1])))
    if best and a.via:
        # root first: the caller comes before the culprit
        if a.via not in best[1][:-1]:
            errs.append("the largest line does not pass through %s before its leaf "
                        "(not root first?): %s" % (a.via, ";".join(best[1])))
    if errs:
        die("%s:\n  " % a.file + "\n  ".join(errs))
    print("folded ok: %d lines, sum %d, largest %d in %s" % (len(lines), total, best[0], best[1][-1]))

def cmd_svg(a):
    text = open(a.file, encoding="utf-8").read()
    errs = []
    # self-contained: nothing fetched from anywhere
    allowed = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    for u in re.findall(r"""(?i)(?:https?|ftp|file)://[^\s"'<>)]*""", text):
        if u not in allowed:
            errs.append("external URL %s" % u)
    for m in re.finditer(r"""(?i)\bhref\s*=\s*["']([^"']*)["']""", text):
        if not m.group(1).startswith("#"):
            errs.append("link to %r" % m.group(1))
    for pat, what in ((r"(?i)<image\b", "an <image> element"), (r"(?i)@import", "@import"),
                      (r"(?i)<script[^>]*\bsrc\s*=", "an external script"),
                      (r"(?i)url\(\s*['\"]?(?!#)", "a url() that is not a fragment"),
                      (r"(?i)<foreignObject", "a foreignObject"),
                      (r"(?i)<!ENTITY|<!DOCTYPE[^>]*SYSTEM", "an external DTD or entity")):
        if re.search(pat, text):
            errs.append("contains " + what)
    # interactive: the inline search and zoom script and its buttons
    scripts = re.findall(r"(?is)<script\b[^>]*>(.*?)</script>", text)
    if not scripts:
        errs.append("no inline <script>")
    js = "\n".join(scripts)
    for fn in ("search", "zoom"):
        if not re.search(r"function\s+%s\s*\(" % fn, js):
            errs.append("the script has no %s() function" % fn)
    for elem_id in ("search", "unzoom"):
        if not re.search(r"""\bid=["']%s["']""" % elem_id, text):
            errs.append("no element with id=%s (the %s button)" % (elem_id, elem_id))
    # the frames: <g class="f" data-n=NAME data-v=VALUE ...><title>..</title><rect fill=..>
    frames = {}
    # class "f fold": the box of callees too narrow to draw; "f gone": a
    # frame of OLD that NEW no longer has (differential)
    classes = {}
    rows = {}   # depth -> [(start, end, name)]: frames of one row never overlap
    for m in re.finditer(r'<g class="f( \w+)?" data-n="([^"]*)" data-v="(-?\d+)"([^>]*)>(.*?)</g>',
                         text, re.S):
        o, d = re.search(r'data-o="(\d+)"', m.group(4)), re.search(r'data-d="(\d+)"', m.group(4))
        if o and d and int(m.group(3)) > 0:
            rows.setdefault(int(d.group(1)), []).append(
                (int(o.group(1)), int(o.group(1)) + int(m.group(3)), m.group(2)))
        fill = re.search(r'fill="rgb\((\d+),(\d+),(\d+)\)"', m.group(5))
        frames.setdefault(m.group(2), []).append((int(m.group(3)),
                                                  tuple(map(int, fill.groups())) if fill else None))
        classes.setdefault(m.group(2), set()).add((m.group(1) or "").strip())
    for d, row in rows.items():
        row.sort()
        for (a0, a1, an), (b0, b1, bn) in zip(row, row[1:]):
            if b0 < a1:
                errs.append("row %d: %s [%d, %d) overlaps %s [%d, %d)" % (d, bn, b0, b1, an, a0, a1))
    if not frames:
        errs.append("no frame elements (<g class=\"f\" data-n=.. data-v=..>)")
    for f in a.frame or []:
        if f not in frames:
            errs.append("no frame named %s (frames: %s)" % (f, ", ".join(sorted(frames))))
    if a.root_value is not None:
        root = frames.get("all")
        if not root or root[0][0] != a.root_value:
            errs.append("the root frame's value is %s, expected %d"
                        % (root[0][0] if root else "missing", a.root_value))
    def red(c):
        return c is not None and c[0] > 200 and c[1] < 150 and c[2] < 150
    for f in a.red or []:
        if not any(red(c) for _, c in frames.get(f, [])):
            errs.append("frame %s is not coloured as growth (red): %s" % (f, frames.get(f)))
    for f in a.not_red or []:
        if any(red(c) for _, c in frames.get(f, [])):
            errs.append("frame %s is coloured as growth (red) but did not grow: %s"
                        % (f, frames.get(f)))
    for f in a.gone or []:
        if "gone" not in classes.get(f, ()):
            errs.append("frame %s is not drawn as vanished (class f gone): %s" % (f, classes.get(f)))
    if a.reddest:
        reds = [(255 - c[1], n) for n, l in frames.items() for _, c in l if red(c) and n != "all"]
        if not reds or max(reds)[1] != a.reddest:
            errs.append("the reddest frame is %s, expected %s" % (max(reds)[1] if reds else None,
                                                                  a.reddest))
    if a.max_height is not None:
        h = int(re.search(r'<svg[^>]*\bheight="(\d+)"', text).group(1))
        if h > a.max_height:
            errs.append("the SVG is %d px tall, more than %d" % (h, a.max_height))
    if a.fold and not any("fold" in c for c in classes.values()):
        errs.append("no (n small frames) box")
    if errs:
        die("%s:\n  " % a.file + "\n  ".join(errs))
    print("svg ok: %s, %d distinct frames" % (a.file, len(frames)))

def pb_fields(buf):
    """(field, wire type, value) of one protobuf message; bytes for type 2"""
    i, n = 0, len(buf)
    def varint():
        nonlocal i
        v, shift = 0, 0
        while True:
            if i >= n or shift > 63:
                die("truncated or overlong varint")
            b = buf[i]; i += 1
            v |= (b & 0x7f) << shift
            shift += 7
            if b < 0x80:
                return v
    while i < n:
        key = varint()
        field, wt = key >> 3, key & 7
        if wt == 0:
            yield field, wt, varint()
        elif wt == 2:
            ln = varint()
            if i + ln > n:
                die("a length-delimited field runs past its message")
            yield field, wt, buf[i:i + ln]
            i += ln
        elif wt in (1, 5):
            w = 8 if wt == 1 else 4
            yield field, wt, buf[i:i + w]
            i += w
        else:
            die("wire type %d in a pprof profile" % wt)

def cmd_pprof_functions(a):
    import gzip
    prof = gzip.open(a.pb).read()
    strings, funcs = [], []
    for field, wt, v in pb_fields(prof):
        if field == 6 and wt == 2:
            strings.append(v.decode("utf-8"))
        elif field == 5 and wt == 2:
            f = {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}
            for ff, fw, fv in pb_fields(v):
                if fw == 0 and ff in f:
                    f[ff] = fv
            funcs.append(f)
    seen = {}
    for f in funcs:
        for k in (2, 3, 4):
            if f[k] >= len(strings):
                die("function %d: string index %d past the table" % (f[1], f[k]))
        key = (strings[f[2]], strings[f[4]])
        if key in seen:
            die("functions %d and %d have one name and file %r" % (seen[key], f[1], key))
        seen[key] = f[1]
        print("%d\t%s\t%s\t%s\t%d" % (f[1], strings[f[2]], strings[f[3]], strings[f[4]], f[5]))

def cmd_approx(a):
    x, y = float(a.a), float(a.b)
    if abs(x - y) > a.tol * max(abs(x), abs(y)):
        die("%s and %s differ by more than %g%%" % (a.a, a.b, 100 * a.tol))

ap = argparse.ArgumentParser(prog="pycheck")
sub = ap.add_subparsers(dest="cmd", required=True)
p = sub.add_parser("pprof-total"); p.add_argument("raw"); p.add_argument("type")
p.set_defaults(fn=cmd_pprof_total)
p = sub.add_parser("top-flat"); p.add_argument("top"); p.set_defaults(fn=cmd_top_flat)
p = sub.add_parser("trace-has"); p.add_argument("traces"); p.add_argument("value")
p.add_argument("funcs", nargs="+"); p.set_defaults(fn=cmd_trace_has)
p = sub.add_parser("folded"); p.add_argument("file"); p.add_argument("--total", type=int)
p.add_argument("--leaf"); p.add_argument("--via"); p.set_defaults(fn=cmd_folded)
p = sub.add_parser("svg"); p.add_argument("file"); p.add_argument("--frame", action="append")
p.add_argument("--root-value", type=int); p.add_argument("--red", action="append")
p.add_argument("--not-red", action="append"); p.add_argument("--gone", action="append")
p.add_argument("--reddest"); p.add_argument("--max-height", type=int)
p.add_argument("--fold", action="store_true"); p.set_defaults(fn=cmd_svg)
p = sub.add_parser("pprof-functions"); p.add_argument("pb"); p.set_defaults(fn=cmd_pprof_functions)
p = sub.add_parser("approx"); p.add_argument("a"); p.add_argument("b")
p.add_argument("tol", type=float); p.set_defaults(fn=cmd_approx)
a = ap.parse_args()
a.fn(a)
EOF
}

# expect_eq WHAT GOT WANT
expect_eq() {
    [[ $2 == "$3" ]] || fail "$1: got '$2', expected '$3'"
}

# check_svg FILE [pycheck svg options]: well-formed XML (xmllint, no network)
# and self-contained, interactive, naming what it must.
check_svg() {
    local svg=$1
    shift
    [[ -s $svg ]] || fail "$svg is empty or missing"
    timeout 30 xmllint --noout --nonet "$svg" 2>"$svg.xmllint" ||
        { sed 's/^/  xmllint: /' "$svg.xmllint" >&2; fail "$svg is not well-formed XML"; }
    pycheck svg "$svg" "$@" || fail "$svg: see above"
}

# snapshot_of DIR SEQ: the one snapshot file of DIR with sequence SEQ (0001...).
snapshot_of() {
    local -a f
    mapfile -t f < <(find "$1" -maxdepth 1 -name "*.$2.mprof" ! -name '.*')
    [[ ${#f[@]} -eq 1 ]] || fail "expected one *.$2.mprof in $1, found ${#f[@]}: ${f[*]:-}"
    echo "${f[0]}"
}

# json_get FILE EXPR: a Python expression over the document `d`.
json_get() {
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" ||
        fail "cannot evaluate $2 on $1"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    source "$(dirname "$0")/common.sh"
    need_consumers
    echo "consumers: $(go version); $(xmllint --version 2>&1 | head -1)"
    d=$WORK/self
    mkdir -p "$d"
    # folded checker: accepts a good file, rejects each kind of bad one
    printf 'root;main;leak 300\nroot;main;other x 20\n' >"$d/good.folded"
    pycheck folded "$d/good.folded" --total 320 --leaf leak --via main >/dev/null ||
        fail "the folded checker rejects a good file"
    bad() {
        local name=$1 content=$2
        shift 2
        printf "$content" >"$d/$name.folded"
        if pycheck folded "$d/$name.folded" "$@" 2>/dev/null; then
            fail "the folded checker accepts $name"
        fi
    }
    bad wrongsum 'root;main;leak 300\nroot;main;other 20\n' --total 321
    bad wrongleaf 'root;main;leak 300\nroot;main;other 400\n' --leaf leak
    bad noval 'root;main;leak\n' --total 0
    bad doublespace 'root;main;leak  300\n'
    bad emptyframe 'root;;leak 300\n'
    bad repeated 'root;leak 300\nroot;leak 1\n'
    bad notrootfirst 'leak;main;root 300\n' --leaf leak
    bad nonewline 'root;leak 300'
    # SVG checker
    cat >"$d/good.svg" <<'SVG'
<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">
<text id="search">Search</text><text id="unzoom">Reset</text>
<g class="f" data-n="all" data-v="5" data-o="0" data-d="0"><title>all</title><rect fill="rgb(255,40,40)"/></g>
<g class="f" data-n="leak" data-v="5" data-o="0" data-d="1"><title>leak</title><rect fill="rgb(235,235,235)"/></g>
<script type="text/ecmascript"><![CDATA[
function search(t) {} function zoom(z) {}
]]></script>
</svg>
SVG
    check_svg "$d/good.svg" --frame leak --root-value 5 --red all --not-red leak >/dev/null
    for opt in "--frame nothere" "--root-value 6" "--red leak" "--not-red all"; do
        # shellcheck disable=SC2086
        if pycheck svg "$d/good.svg" $opt 2>/dev/null; then
            fail "the SVG checker accepts $opt"
        fi
    done
    for evil in '<image href="x.png"/>' '<a href="https://example.com/">x</a>' \
        '<style>@import "x.css";</style>' '<script src="x.js"></script>' \
        '<rect fill="url(http://x/y#z)"/>'; do
        sed "s|</svg>|$evil</svg>|" "$d/good.svg" >"$d/evil.svg"
        if pycheck svg "$d/evil.svg" 2>/dev/null; then
            fail "the SVG checker accepts $evil"
        fi
    done
    sed 's|</svg>|<g></svg>|' "$d/good.svg" >"$d/broken.svg"
    if timeout 30 xmllint --noout --nonet "$d/broken.svg" 2>/dev/null; then
        fail "xmllint accepts a malformed SVG"
    fi
    sed 's/function zoom/function zoomed/' "$d/good.svg" >"$d/nozoom.svg"
    if pycheck svg "$d/nozoom.svg" 2>/dev/null; then
        fail "the SVG checker accepts an SVG without the zoom script"
    fi
    echo "export_lib self-test passed"
fi
