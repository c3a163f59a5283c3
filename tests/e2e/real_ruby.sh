#!/usr/bin/env bash
# Ruby, an interpreter whose runtime owns its objects and mallocs their
# buffers (trial20): tests/programs/ruby/leaky_cache.rb, two threads, a
# planted leak of strings made by String#*. Same output and status as
# plainly; the exit snapshot's top site is the leak, reached through
# rb_str_times (libruby's String#*, named from its dynamic symbols; the
# static functions under it are ??), holding what the program leaked
# within 25%.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"
command -v ruby >/dev/null || fail "no ruby (run scripts/setup test: ruby)"
src=$(cd "$E2E_DIR/../programs/ruby" && pwd)/leaky_cache.rb
real_run ruby 60 -- ruby "$src"
bytes=$(leak_field "$WORK/ruby.shim.out" bytes)
pid=$(cut -d' ' -f1 "$WORK/ruby.witness" | head -1)
snap=$(pid_snapshots "$WORK/ruby.snaps" "$pid" | tail -1)
[[ -n $snap ]] || fail "no snapshot of ruby ($pid)"
report_json "$snap" "$WORK/r.json"
python3 - "$WORK/r.json" "$bytes" <<'PY' || fail "the planted leak is not the top site: $(sed -n 5,9p "$snap.report")"
import json, sys
d = json.load(open(sys.argv[1]))
want = int(sys.argv[2])
s = d["sites"][0]
names = [f["function"] for f in s["frames"][:6]]
assert "rb_str_times" in names, names
assert abs(s["bytes"] - want) <= 0.25 * want, (s["bytes"], want)
print("top site: %d bytes of %d leaked, through %s" % (s["bytes"], want, " <- ".join(names)))
PY
echo "ok: ruby under the shim, its planted leak on top"
