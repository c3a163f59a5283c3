// model.js - a hand-built data model for the parts of the page that today's
// snapshots cannot feed yet (a fine heap/RSS series, the recorded peak and
// its call tree, lock wait percentiles) and for cases that are hard to plant
// in a real program (hundreds of tiny sibling frames, a small new site
// beside a large grower, a tree with no nodes at all). embed() puts it into
// a real `memprof html` page the way cmd_html.c does; check() asserts what
// the page must then show.
"use strict";
const { check } = require("./lib");

const MiB = 1024 * 1024, KiB = 1024, S = 1e9;
const START = 1.7e18;

// A call tree from nested [name, file, line, value, old, count, kids].
function tree(unit, root) {
  const strings = [], index = new Map(), nodes = [];
  const str = (s) => {
    if (!index.has(s)) { index.set(s, strings.length); strings.push(s); }
    return index.get(s);
  };
  (function walk(n, parent) {
    const [name, file, line, value, old, count, kids] = n;
    const me = nodes.length;
    nodes.push([parent, str(name), file ? str(file) : -1, line, value, old, count]);
    for (const k of kids || []) walk(k, me);
  })(root, -1);
  return { unit, nodes, strings };
}

function counters(extra) {
  return Object.assign({ samples: 900, sampled_frees: 100, events_stalled: 0, events_dropped: 0,
    unwind_failures: 0, stack_table_full: 0, addrset_full: 0, lock_contentions: 0,
    lock_events_dropped: 0, threads_seen: 2 }, extra);
}

function file(seq, t, heap, extra) {
  return Object.assign({ file: `/data/model.4242.000${seq}.mprof`, program: "model", pid: 4242, seq,
    time_ns: START + t, trigger: seq === 2 ? "exit" : "signal", sample_bytes: 524288,
    counters: counters(), ppid: 1, start_time_ns: START, lock_profiling: true,
    exe: "/usr/bin/model", cmdline: "model --serve",
    heap: { bytes: heap, count: 1000 }, alloc: { bytes: 4 * heap, count: 9000 } }, extra);
}

const frame = (fn, f, line) => ({ function: fn, module: "/usr/bin/model", file: f, line, address: "0x1000" });

function series() {
  const pts = [];
  for (let i = 0; i <= 20; i++) {
    const t = i * 0.25 * S, heap = (i === 12 ? 64 : 8 + i) * MiB;
    pts.push({ t_ns: START + t, heap_bytes: heap, rss_bytes: heap + 8 * MiB });
  }
  return pts;
}

function build() {
  const tiny = [];
  for (let i = 0; i < 300; i++) tiny.push([`tiny_${i}`, "src/tiny.c", 10 + i, 2 * KiB, 0, 1]);
  const grower = ["big_grower", "src/grower.c", 42, 4 * MiB, 2 * MiB, 40];
  return {
    generator: "memprof html", model: 1,
    files: [
      file(1, 1 * S, 10 * MiB),
      file(2, 5 * S, 28 * MiB, {
        series: series(), peak: { bytes: 64 * MiB, time_ns: START + 3 * S, rss_bytes: 72 * MiB },
        counters: counters({ events_dropped: 7, events_stalled: 3, unwind_failures: 2, dormant_ns: 2 * S }),
      }),
    ],
    growth: {
      old: "/data/model.4242.0001.mprof", new: "/data/model.4242.0002.mprof",
      files: [{ file: "/data/model.4242.0001.mprof", bytes: 10 * MiB }, { file: "/data/model.4242.0002.mprof", bytes: 28 * MiB }],
      total: { bytes_delta: 18 * MiB, count_delta: 40, bytes: 28 * MiB, error_bytes: 1 * MiB },
      sites: [{ rank: 1, bytes_delta: 18 * MiB, count_delta: 40, bytes: 28 * MiB, count: 40,
        grew_every_interval: true, samples: 50, error_bytes: 1 * MiB, series: [10 * MiB, 28 * MiB],
        frames: [frame("big_grower", "src/grower.c", 42), frame("main", "src/main.c", 7)] }],
    },
    flames: {
      heap: tree("bytes", ["all", null, 0, 4 * MiB + 600 * KiB, 0, 340, [
        ["main", "src/main.c", 7, 4 * MiB + 600 * KiB, 0, 340, [grower, ...tiny]]]]),
      diff: tree("bytes", ["all", null, 0, 10 * MiB + 64 * KiB, 3 * MiB, 60, [
        ["main", "src/main.c", 7, 10 * MiB + 64 * KiB, 3 * MiB, 60, [
          ["big_grower", "src/grower.c", 42, 10 * MiB, 1 * MiB, 50],
          ["new_small", "src/small.c", 5, 64 * KiB, 0, 5],
          ["vanished", "src/gone.c", 9, 0, 2 * MiB, 0]]]]]),
      alloc: { unit: "bytes", nodes: [], strings: [] },
      peak: tree("bytes", ["all", null, 0, 64 * MiB, 0, 70, [
        ["main", "src/main.c", 7, 64 * MiB, 0, 70, [["spike_alloc", "src/spike.c", 3, 56 * MiB, 0, 60],
          ["big_grower", "src/grower.c", 42, 8 * MiB, 0, 10]]]]]),
      locks: null,
    },
    locks: {
      file: "/data/model.4242.0002.mprof", lock_profiling: true,
      total: { locks: 1, contentions: 12, wait_ns: 2.75 * S },
      locks: [{ rank: 1, address: "0x7f00", kind: "mutex", contentions: 12, wait_ns: 2.75 * S,
        max_wait_ns: 1.5 * S, max_wait_exact: true, avg_wait_ns: 229166666, hold_ns: 0, contended_holds: 0,
        percentiles_ns: { p50: 1500, p90: 20000, p99: 400000, p999: 1.2 * S },
        frames: [frame("queue_init", "src/queue.c", 3)],
        sites: [{ contentions: 12, wait_ns: 2.75 * S, frames: [frame("queue_push", "src/queue.c", 20)] }],
        holders: [{ contentions: 12, wait_ns: 2.75 * S, frames: [frame("queue_drain", "src/queue.c", 30)] }] }],
    },
  };
}

// The model into a page, escaped as cmd_html.c escapes it.
function embed(html, data) {
  const open = '<script type="application/json" id="memprof-data">';
  const a = html.indexOf(open), b = html.indexOf("</script>", a);
  check(a >= 0 && b > a, "the page has no data element");
  const json = JSON.stringify(data).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026");
  return html.slice(0, a + open.length) + json + html.slice(b);
}

async function check_(page, t) {
  // the fine series, RSS and the recorded peak in the chart
  const c = await t.checkChart(page, 2);
  const pts = c.d.split(/[ML]/).filter((x) => x.trim()).length;
  check(pts === 21, `the heap line has ${pts} points, the series 21`);
  check(/^peak 64\.0 MiB$/.test(c.label), `the peak label says "${c.label}"`);
  const rss = await page.evaluate(() => !!document.querySelector("#heap-chart path.rss"));
  check(rss, "the RSS line is not drawn");
  const facts = await page.evaluate(() => {
    const o = {};
    for (const dt of document.querySelectorAll("dl.facts dt")) o[dt.textContent] = dt.nextElementSibling.textContent;
    return o;
  });
  check(facts["Peak heap"] === "64.0 MiB at 3.00 s after start (RSS then 72.0 MiB)",
    `summary peak heap: "${facts["Peak heap"]}"`);
  check(facts["Peak RSS"] === "72.0 MiB at 3.00 s after start", `summary peak RSS: "${facts["Peak RSS"]}"`);
  for (const words of ["7 events were lost", "2 stacks could not be unwound", "waited 3 times",
    "Recording was off (dormant: MEMPROF_START=off or memprof disable) for 2.00 s"])
    check(facts.Profiler.includes(words), `summary counters lack "${words}": ${facts.Profiler}`);

  // the peak's call tree
  await t.openTab(page, "peak");
  check(t.named(await t.frames(page, "peak"), "spike_alloc"), "the peak flame graph lacks spike_alloc");
  await t.checkZoom(page, "peak");

  // tiny siblings fold into one box; the big one stays
  await t.openTab(page, "heap");
  const heap = await t.frames(page, "heap");
  const folds = heap.filter((f) => /fold/.test(f.cls));
  const folded = await page.evaluate(() => window.memprofReport.graphs.heap.folds.map((f) => f.length));
  const wide = page.viewportSize().width >= 1000;
  check(folds.length === 1 && JSON.stringify(folded) === "[300]" &&
    (!wide || folds[0].label === "(300 small frames)"),
    `300 tiny frames are not folded into one box: ${JSON.stringify(folds)} ${folded}`);
  check(heap.length < 20, `the heap graph draws ${heap.length} frames, the tiny ones unfolded`);
  check(t.named(heap, "big_grower"), "the heap graph lacks big_grower");

  // one formatter: the tooltip and the search agree on big_grower's value
  const found = await t.search(page, "heap", "grower\\.c:42");
  const tip = await t.details(page, "heap", "big_grower");
  check(found.text === "Matched 87.2%: 4.00 MiB of 4.59 MiB", `search by file:line: "${found.text}"`);
  check(tip.includes("4.00 MiB (87.2% of 4.59 MiB)"), `tooltip: "${tip}"`);
  const inFold = await t.search(page, "heap", "^tiny_1[0-9]$");
  check(inFold.share > 0 && (await t.frames(page, "heap")).some((f) => /fold/.test(f.cls) && f.hit),
    `a match inside the folded frames is not shown: ${inFold.text}`);
  const bad = await t.search(page, "heap", "big_grower(");
  check(bad.share === 0 && /^Matched 0\.0%/.test(bad.text), `an invalid regex breaks the search: ${bad.text}`);

  // differential colour: absolute change relative to the largest one
  await t.openTab(page, "diff");
  const diff = await t.frames(page, "diff");
  const fills = await page.evaluate(() => {
    const g = window.memprofReport.graphs.diff;
    return [g.color(g.name.indexOf("big_grower")), g.color(g.name.indexOf("new_small"))];
  });
  check(t.named(diff, "big_grower").fill === fills[0], "the drawn colour is not the graph's colour");
  const big = t.rgb(fills[0]), small = t.rgb(fills[1]);
  check(big[1] < small[1] - 100, `big_grower (${big}) is not clearly redder than new_small (${small})`);
  const gone = t.named(diff, "vanished");
  check(gone && /gone/.test(gone.cls) && gone.w > 50, `the vanished frame is not drawn: ${JSON.stringify(gone)}`);
  const goneTip = await t.details(page, "diff", "vanished");
  check(goneTip.includes("was 2.00 MiB") && goneTip.includes("(gone)"), `vanished tooltip: "${goneTip}"`);

  // a tree without a single node
  await t.openTab(page, "alloc");
  const none = await page.evaluate(() => {
    const p = document.querySelector("[data-kind='alloc']:not(button)");
    return (p.querySelector(".nodata") || {}).textContent;
  });
  check(/^No data/.test(none || ""), `the empty alloc tree shows "${none}"`);

  // lock wait percentiles, in the same units as everything else
  const pct = await page.evaluate(() => Array.from(document.querySelectorAll(".lockrow .pct")).map((e) => e.textContent));
  check(JSON.stringify(pct) === JSON.stringify(["p50 1.50 µs", "p90 20.0 µs", "p99 400 µs", "p99.9 1.20 s"]),
    `lock percentiles: ${JSON.stringify(pct)}`);
  const lock = await page.evaluate(() => document.querySelector(".lockrow").textContent);
  check(lock.includes("wait 2.75 s total"), `lock total wait: ${lock}`);
}

module.exports = { build, embed, check: check_ };
