// html_report.js - checks a `memprof html` page in chromium.
//
//   node html_report.js leak PAGE OUTDIR CULPRIT LOCKFN SNAPSHOTS
//   node html_report.js empty PAGE ONEFILE_PAGE OUTDIR CULPRIT
//   node html_report.js hostile PAGE OUTDIR SYMBOL ARGV0
//   node html_report.js model PAGE OUTDIR      (PAGE's data replaced, see model.js)
//   node html_report.js big PAGE OUTDIR CULPRIT STEPFN
//   node html_report.js deep PAGE OUTDIR WIDEFN MAX_PX
//   node html_report.js lines PAGE FUNC_PAGE OUTDIR FUNC FILE LINE_SMALL LINE_BIG BIG_BYTES
//
// Each scenario opens the page from a file:// URL at 1280x800 and 390x844,
// fails on any console error, page error or network request, and saves
// screenshots into OUTDIR.
"use strict";
const fs = require("fs");
const path = require("path");
const { launch, open, check, noProblems, noOverflow, run } = require("./lib");
const model = require("./model");

const WIDE = { width: 1280, height: 800 }, PHONE = { width: 390, height: 844 };

function url(file) { return "file://" + path.resolve(file); }

/* ---- page probes ---- */

async function openTab(page, kind) {
  await page.click(`#tab-${kind}`);
  await page.waitForFunction((k) => {
    const p = document.querySelector(`[data-kind="${k}"]:not(button)`);
    return p && !p.hidden;
  }, kind);
}

// The drawn frames of one graph: index, name (from the graph's model, not
// the possibly cut label), drawn label, width and classes.
async function frames(page, kind) {
  return page.evaluate((k) => {
    const g = window.memprofReport.graphs[k];
    return Array.from(document.querySelectorAll(`#flame-${k} g.fr`)).map((el) => {
      const r = el.querySelector("rect"), t = el.querySelector("text");
      const i = +el.getAttribute("data-i");
      return { i, name: el.hasAttribute("data-fold") ? null : g.name[i], label: t ? t.textContent : "",
        w: +r.getAttribute("width"), x: +r.getAttribute("x"), cls: el.getAttribute("class"),
        fill: r.getAttribute("fill"), hit: el.classList.contains("hit") };
    });
  }, kind);
}
function named(list, name) { return list.find((f) => f.name === name); }

async function svgWidth(page, kind) {
  return page.evaluate((k) => document.querySelector(`#flame-${k} svg`).getBoundingClientRect().width, kind);
}

async function search(page, kind, term) {
  const input = `[data-kind="${kind}"]:not(button) input[type=search]`;
  await page.fill(input, term);
  await page.press(input, "Enter");
  return page.evaluate((k) => {
    const m = document.querySelector(`[data-kind="${k}"]:not(button) .matched`);
    return { text: m.textContent, share: +m.getAttribute("data-share") };
  }, kind);
}

async function details(page, kind, name) {
  const list = await frames(page, kind);
  const f = named(list, name);
  check(f, `${kind}: no frame ${name} to hover`);
  await page.hover(`#flame-${kind} g.fr[data-i="${f.i}"] rect`);
  return page.evaluate((k) => document.querySelector(`[data-kind="${k}"]:not(button) .details`).textContent, kind);
}

async function shots(page, dir, name) {
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/* ---- checks shared by the scenarios ---- */

async function checkChart(page, snapshots) {
  const c = await page.evaluate(() => {
    const svg = document.querySelector("#heap-chart svg");
    const heap = svg && svg.querySelector("path.heap");
    return svg && { w: svg.getBoundingClientRect().width, d: heap ? heap.getAttribute("d") : "",
      dots: svg.querySelectorAll("circle.snapdot").length, peak: svg.querySelectorAll(".peakmark circle").length,
      label: (svg.querySelector(".peaklbl") || {}).textContent };
  });
  check(c && c.w > 100, "the heap chart has no drawn SVG");
  check(c.d.split(/[ML]/).filter((x) => x.trim()).length >= 2, `the heap line has no points: "${c.d}"`);
  check(c.dots === snapshots, `the chart marks ${c.dots} snapshots, expected ${snapshots}`);
  check(c.peak === 1, "the chart does not annotate the peak");
  return c;
}

// Clicking a frame zooms: it then spans the graph, and wider than before.
async function checkZoom(page, kind) {
  const before = await frames(page, kind);
  const total = await svgWidth(page, kind);
  const target = before.filter((f) => f.name && f.i !== 0 && f.w >= 12 && f.w < total * 0.6 &&
    !/anc|fold/.test(f.cls)).sort((a, b) => a.w - b.w)[0];
  check(target, `${kind}: no narrow frame to click for a zoom (frames: ${before.length})`);
  await page.click(`#flame-${kind} g.fr[data-i="${target.i}"] rect`, { force: true });
  const after = await frames(page, kind);
  const z = after.find((f) => f.i === target.i && !/anc/.test(f.cls));
  check(z && z.w > target.w * 1.5 && z.w >= total * 0.95,
    `${kind}: clicking ${target.name} (${target.w}px) did not zoom it (now ${z ? z.w : "gone"}px of ${total}px)`);
  const root = after.find((f) => f.i === 0);
  check(root && /anc/.test(root.cls), `${kind}: after the zoom the root is not shown as an ancestor`);
  await page.keyboard.press("Escape");
  const esc = (await frames(page, kind)).find((f) => f.i === target.i);
  check(esc && Math.abs(esc.w - target.w) < 0.5, `${kind}: Escape did not unzoom ${target.name}`);
  await page.click(`#flame-${kind} g.fr[data-i="${target.i}"] rect`, { force: true });
  await page.click(`[data-kind="${kind}"]:not(button) .toolbar button`);
  const reset = await frames(page, kind);
  const back = reset.find((f) => f.i === target.i);
  check(back && Math.abs(back.w - target.w) < 0.5, `${kind}: Reset zoom did not restore ${target.name}`);
  return { name: target.name, before: target.w, after: z.w };
}

function rgb(fill) {
  const m = /rgb\((\d+),(\d+),(\d+)\)/.exec(fill || "");
  check(m, `not an rgb() fill: ${fill}`);
  return m.slice(1).map(Number);
}

/* ---- scenarios ---- */

async function leak(args) {
  const [page_, out, culprit, lockfn, nsnap] = args;
  const ctx = await launch(out);
  const page = await open(ctx, url(page_), WIDE);
  const data = await page.evaluate(() => window.memprofReport.data);
  await checkChart(page, +nsnap);

  // flame graphs: each names the culprit (the lock graph its lock's waiter)
  for (const [kind, fn] of [["heap", culprit], ["diff", culprit], ["alloc", culprit], ["locks", lockfn]]) {
    await openTab(page, kind);
    const list = await frames(page, kind);
    const f = named(list, fn);
    check(f && f.label === fn, `${kind} flame graph: no frame labelled ${fn} (${list.length} frames)`);
  }
  // the differential colour: the leak is the reddest frame below main
  await openTab(page, "diff");
  const diff = await frames(page, "diff");
  const leakRed = rgb(named(diff, culprit).fill);
  for (const f of diff)
    if (f.name && f.i !== 0 && !["main", "__libc_start_call_main", "__libc_start_main", "_start"].includes(f.name))
      check(rgb(f.fill)[1] >= leakRed[1], `diff: ${f.name} (${f.fill}) is redder than ${culprit} (${leakRed})`);

  // zoom where the widths do not depend on sampling luck: the cumulative
  // allocations hold the baseline's churn (about a quarter) beside the leak
  await openTab(page, "alloc");
  const zoom = await checkZoom(page, "alloc");
  await openTab(page, "heap");
  console.log(`zoom: ${zoom.name} ${zoom.before.toFixed(1)}px -> ${zoom.after.toFixed(1)}px`);

  // search: by name, then by file:line; share and tooltip use one formatter
  const byName = await search(page, "heap", `^${culprit}$`);
  check(byName.share > 0.5, `search ${culprit}: share ${byName.share} (${byName.text})`);
  const hits = (await frames(page, "heap")).filter((f) => f.hit);
  check(hits.some((f) => f.name === culprit), `search ${culprit}: its frame is not highlighted`);
  const tip = await details(page, "heap", culprit);
  const amount = /: (.+) of /.exec(byName.text)[1];
  check(tip.includes(amount), `the tooltip "${tip}" and the search "${byName.text}" show ${culprit} differently`);
  const site = data.growth.sites[0].frames[0];
  const fileLine = `${path.basename(site.file)}:${site.line}`;
  const byLine = await search(page, "heap", fileLine.replace(/\./g, "\\."));
  check(byLine.share > 0.5, `search ${fileLine}: share ${byLine.share} (${byLine.text})`);
  console.log(`search: "${byName.text}"; by ${fileLine}: "${byLine.text}"`);

  // growth: the culprit ranks first, grew in every interval, expands to file:line
  const row = await page.evaluate(() => {
    const r = document.querySelector(".growthrow[data-rank='1']");
    return { text: r.textContent, grew: !!r.querySelector(".grew"), bar: !!r.querySelector(".errbar .whisker") };
  });
  check(row.text.includes(culprit), `growth rank 1 is not ${culprit}: ${row.text}`);
  check(row.grew, "growth rank 1 lacks the grew-in-every-interval mark");
  check(row.bar, "growth rank 1 has no error bar");
  await page.click(".growthrow[data-rank='1'] button.expand");
  const stack = await page.evaluate(() => {
    const box = document.querySelector(".growthrow[data-rank='1'] .more");
    return { hidden: box.hidden, items: Array.from(box.querySelectorAll("li")).map((li) => li.textContent) };
  });
  check(!stack.hidden && stack.items.length >= 3, `growth rank 1 did not expand: ${JSON.stringify(stack)}`);
  check(stack.items[0].includes(culprit) && stack.items[0].includes(fileLine),
    `growth rank 1's stack starts "${stack.items[0]}", not ${culprit} at ${fileLine}`);
  check(stack.items.some((t) => /^main\b.*\.c:\d+/.test(t)), "growth rank 1's stack has no main with file:line");

  // growth rank 2 grew through xmalloc, a wrapper: named by its caller, as diff does
  const row2 = await page.evaluate(() => {
    const b = document.querySelector(".growthrow[data-rank='2'] button.expand");
    return b ? b.textContent : null;
  });
  check(row2 && row2.startsWith("html_wrapped_grower"),
    `growth rank 2 is named "${row2}", not html_wrapped_grower past its xmalloc wrapper`);

  // locks: ranked, expandable to waiters and holders
  await page.click(".lockrow[data-rank='1'] button.expand");
  const lock = await page.evaluate(() => document.querySelector(".lockrow[data-rank='1']").textContent);
  check(/Waiters/.test(lock) && lock.includes(lockfn), `lock rank 1 does not show waiters in ${lockfn}`);

  noProblems(ctx, page, "leak page at 1280x800");
  await noOverflow(page, "1280x800");
  await page.evaluate(() => window.scrollTo(0, 0));
  await shots(page, out, "report-1280");

  const phone = await open(ctx, url(page_), PHONE);
  await checkChart(phone, +nsnap);
  await openTab(phone, "heap");
  check(named(await frames(phone, "heap"), culprit), "phone: the heap flame graph lacks the culprit");
  await phone.click(".growthrow[data-rank='1'] button.expand");
  noProblems(ctx, phone, "leak page at 390x844");
  await noOverflow(phone, "390x844");
  await shots(phone, out, "report-390");
  await ctx.close();
}

async function empty(args) {
  const [page_, one, out, culprit, none] = args;
  const ctx = await launch(out);
  // a program that never allocated: its peak is 0 B, not "at -57 years"
  const np = await open(ctx, url(none), WIDE);
  const peak = await np.evaluate(() => {
    for (const dt of document.querySelectorAll("dl.facts dt"))
      if (dt.textContent === "Peak heap") return dt.nextElementSibling.textContent;
    return null;
  });
  check(peak === "0 B: nothing sampled was live since start",
    `nothing allocated: the summary's peak heap says "${peak}"`);
  noProblems(ctx, np, "nothing allocated");
  await np.close();
  for (const [file, name] of [[page_, "empty"], [one, "empty-one-file"]]) {
    for (const vp of [WIDE, PHONE]) {
      const page = await open(ctx, url(file), vp);
      await openTab(page, "heap");
      const msg = await page.evaluate(() => {
        const p = document.querySelector("[data-kind='heap']:not(button)");
        const n = p.querySelector(".nodata");
        return { nodata: n ? n.textContent : null, svg: !!p.querySelector("svg") };
      });
      check(msg.nodata && /no data/i.test(msg.nodata) && !msg.svg,
        `${name}: the empty live-heap graph does not say so: ${JSON.stringify(msg)}`);
      if (file === page_) {
        // what shrank to zero stays visible in the differential graph
        await openTab(page, "diff");
        const gone = named(await frames(page, "diff"), culprit);
        check(gone && /gone/.test(gone.cls) && gone.w > 10,
          `${name}: the vanished ${culprit} is not drawn in the differential graph: ${JSON.stringify(gone)}`);
        const [r, , b] = rgb(gone.fill);
        check(b > r, `${name}: the vanished ${culprit} is not blue (${gone.fill})`);
      } else {
        const g = await page.evaluate(() => document.querySelector("#growth .nodata").textContent);
        check(/two snapshots/.test(g), `${name}: growth of one file says "${g}"`);
      }
      noProblems(ctx, page, `${name} ${vp.width}x${vp.height}`);
      await noOverflow(page, `${name} ${vp.width}x${vp.height}`);
      await shots(page, out, `${name}-${vp.width}`);
      await page.close();
    }
  }
  await ctx.close();
}

async function hostile(args) {
  const [page_, out, symbol, argv0] = args;
  const ctx = await launch(out);
  const page = await open(ctx, url(page_), WIDE);
  await openTab(page, "heap");
  const r = await page.evaluate((sym) => {
    const g = window.memprofReport.graphs.heap;
    const i = g.name.indexOf(sym);
    const el = document.querySelector(`#flame-heap g.fr[data-i="${i}"] text`);
    const cmd = Array.from(document.querySelectorAll("dl.facts dd")).map((d) => d.textContent);
    return { i, label: el ? el.textContent : null, pwned: window.__pwned, imgs: document.images.length,
      scripts: document.scripts.length, cmd, title: document.title };
  }, symbol);
  check(r.pwned === undefined, "markup from a snapshot ran as script");
  check(r.imgs === 0, `markup from a snapshot made ${r.imgs} image element(s)`);
  check(r.scripts === 2, `the page has ${r.scripts} script elements, not its 2`);
  check(r.i > 0 && r.label && symbol.startsWith(r.label.replace(/…$/, "")),
    `the function ${symbol} is not shown as text in the flame graph: ${JSON.stringify(r)}`);
  check(r.cmd.some((t) => t.includes(argv0)), "the hostile argv[0] is not shown literally as the command line");
  noProblems(ctx, page, "hostile page");
  await shots(page, out, "hostile-1280");
  await ctx.close();
}

async function modelPage(args) {
  const [page_, out] = args;
  const file = path.join(out, "model.html");
  fs.writeFileSync(file, model.embed(fs.readFileSync(page_, "utf8"), model.build()));
  const ctx = await launch(out);
  for (const vp of [WIDE, PHONE]) {
    const page = await open(ctx, url(file), vp);
    await model.check(page, { openTab, frames, named, search, details, rgb, checkChart, checkZoom });
    noProblems(ctx, page, `model page ${vp.width}x${vp.height}`);
    await noOverflow(page, `model page ${vp.width}x${vp.height}`);
    await shots(page, out, `model-${vp.width}`);
    await page.close();
  }
  await ctx.close();
}

// A page of 100k stacks: the trees are pruned to frames of at least the
// model's minimum share, each caller's smaller callees one "(n small
// frames)" node. Zooming down the STEPFN recursion reaches a pruned node:
// it is drawn grey, its tooltip says what was left out, a click does not
// zoom into it, and search does not count it.
async function big(args) {
  const [page_, out, culprit, stepfn] = args;
  const ctx = await launch(out);
  const page = await open(ctx, url(page_), WIDE);
  await openTab(page, "heap");
  const info = await page.evaluate(() => {
    const g = window.memprofReport.graphs.heap, t = window.memprofReport.data.flames.heap;
    let pruned = 0;
    for (let i = 0; i < g.pruned.length; i++) if (g.pruned[i]) pruned++;
    const note = document.querySelector("[data-kind='heap']:not(button) p.note").textContent;
    return { nodes: g.name.length, pruned, left: t.pruned.frames, share: t.pruned.min_share, note };
  });
  check(info.pruned > 0 && info.left > 10 * info.nodes,
    `heap: the tree is not pruned: ${JSON.stringify(info)}`);
  check(/ frames under 0\.1% of the total are left out/.test(info.note),
    `heap: the graph's note does not say frames were left out: ${info.note}`);
  const top = named(await frames(page, "heap"), culprit);
  check(top && top.label === culprit, `heap: no frame labelled ${culprit}`);
  const byName = await search(page, "heap", `^${culprit}$`);
  check(byName.share > 0.5, `search ${culprit}: share ${byName.share} (${byName.text})`);
  await search(page, "heap", "");

  // down the recursion: click the widest drawn STEPFN frame below the zoom
  let drawn = null;
  for (let k = 0; k < 12 && !drawn; k++) {
    const list = await frames(page, "heap");
    const st = await page.evaluate(() => {
      const g = window.memprofReport.graphs.heap;
      return { z: g.zoomed, depth: Array.from(g.depth), pruned: Array.from(g.pruned) };
    });
    drawn = list.find((f) => f.name && st.pruned[f.i] && !/anc/.test(f.cls) && f.w >= 8);
    if (drawn) break;
    const next = list.filter((f) => f.name === stepfn && st.depth[f.i] > st.depth[st.z] && !/anc|fold/.test(f.cls))
      .sort((a, b) => b.w - a.w)[0];
    check(next, `heap: no ${stepfn} frame to zoom into at depth > ${st.depth[st.z]}`);
    await page.click(`#flame-heap g.fr[data-i="${next.i}"] rect`, { force: true });
  }
  check(drawn, "heap: zooming down the recursion never shows a pruned (n small frames) node");
  check(/^\(\d+ small frames?\)$/.test(drawn.name) && /fold/.test(drawn.cls) && drawn.fill === "#e9ebef",
    `heap: the pruned node is not drawn as a grey fold box: ${JSON.stringify(drawn)}`);
  await page.hover(`#flame-heap g.fr[data-i="${drawn.i}"] rect`, { force: true });
  const tip = await page.evaluate(() => document.querySelector("[data-kind='heap']:not(button) .details").textContent);
  check(/callees? of .* under 0\.1% of the total each/.test(tip) && /left out of this page/.test(tip),
    `heap: the pruned node's details do not say what was left out: "${tip}"`);
  const z0 = await page.evaluate(() => window.memprofReport.graphs.heap.zoomed);
  await page.click(`#flame-heap g.fr[data-i="${drawn.i}"] rect`, { force: true });
  const z1 = await page.evaluate(() => window.memprofReport.graphs.heap.zoomed);
  check(z0 === z1, `heap: clicking the pruned node zoomed (${z0} -> ${z1})`);
  const bySmall = await search(page, "heap", "small frame");
  check(bySmall.share === 0, `search "small frame" matches the pruned nodes: ${bySmall.text}`);
  console.log(`big: ${info.nodes} nodes on the page, ${info.left} frames left out; "${tip}"`);
  noProblems(ctx, page, "big page");
  await shots(page, out, "big-1280");
  await ctx.close();
}

// A page built with --lines: one frame per function and line, so FUNC's
// two allocating lines are two frames, and search by FILE:LINE_BIG finds
// exactly the bytes allocated on it. The function-level page (FUNC_PAGE)
// merges them into one frame whose line is unknown.
async function lines(args) {
  const [page_, funcPage, out, fn, file, small, bigLine, bigBytes] = args;
  const ctx = await launch(out);
  const page = await open(ctx, url(page_), WIDE);
  await openTab(page, "heap");
  const list = await frames(page, "heap");
  for (const l of [small, bigLine]) {
    const want = `${fn} (${file}:${l})`;
    const f = named(list, want);
    check(f && f.w > 1, `--lines: no frame ${want} (frames: ${list.map((x) => x.name).join(", ")})`);
  }
  check(!named(list, fn), `--lines: a frame is still named plain ${fn}`);
  const note = await page.evaluate(() => document.querySelector("[data-kind='heap']:not(button) p.note").textContent);
  check(/per function and source line/.test(note), `--lines: the note does not say so: ${note}`);
  const total = await page.evaluate(() => window.memprofReport.graphs.heap.val[0]);
  const hit = await search(page, "heap", `${file.replace(/\./g, "\\.")}:${bigLine}$`);
  const want = +bigBytes / total;
  check(Math.abs(hit.share - want) < 1e-9,
    `--lines: search ${file}:${bigLine} matched ${hit.share} (${hit.text}), expected ${want}`);
  const tip = await details(page, "heap", `${fn} (${file}:${bigLine})`);
  const amount = /: (.+) of /.exec(hit.text)[1];
  check(tip.includes(amount), `--lines: the tooltip "${tip}" does not show the search's ${amount}`);
  noProblems(ctx, page, "--lines page");
  await shots(page, out, "lines-1280");

  const plain = await open(ctx, url(funcPage), WIDE);
  await openTab(plain, "heap");
  check(named(await frames(plain, "heap"), fn), `function page: no frame ${fn}`);
  const miss = await search(plain, "heap", `${file.replace(/\./g, "\\.")}:${bigLine}$`);
  console.log(`lines: ${file}:${bigLine} is "${hit.text}" with --lines, "${miss.text}" without`);
  noProblems(ctx, plain, "function-level page");
  await ctx.close();
}

// A deep recursion of slivers beside a wide frame: every graph of the page
// stays at most MAX_PX tall, the slivers in a "(n small frames)" box.
async function deep(args) {
  const [page_, out, wide, maxPx] = args;
  const ctx = await launch(out);
  for (const vp of [WIDE, PHONE]) {
    const page = await open(ctx, url(page_), vp);
    for (const kind of ["heap", "alloc"]) {
      await openTab(page, kind);
      const list = await frames(page, kind);
      check(named(list, wide), `deep ${vp.width}px ${kind}: no frame ${wide}`);
      /* at phone width the slivers add up to under a pixel: no box at all */
      check(vp !== WIDE || list.some((f) => /fold/.test(f.cls)), `deep ${vp.width}px ${kind}: no (n small frames) box`);
      const h = await page.evaluate((k) => document.querySelector(`#flame-${k} svg`).getBoundingClientRect().height, kind);
      check(h <= +maxPx, `deep ${vp.width}px ${kind}: the flame graph is ${h}px tall, more than ${maxPx}px`);
    }
    noProblems(ctx, page, `deep page ${vp.width}px`);
    await shots(page, out, `deep-${vp.width}`);
    await page.close();
  }
  await ctx.close();
}

// procs: two processes of one program on one page. The summary gives each
// its own live heap and allocations, and the growth section says it
// compares across processes.
async function procs(args) {
  const [page_, out, pidA, pidB] = args;
  const ctx = await launch(out);
  const page = await open(ctx, url(page_), WIDE);
  const r = await page.evaluate(() => {
    const o = {};
    for (const dt of document.querySelectorAll("dl.facts dt"))
      o[dt.textContent] = Array.from(dt.nextElementSibling.querySelectorAll("li")).map((li) => li.textContent);
    const w = document.querySelector("#growth .warn");
    return { heap: o["Live heap"], alloc: o["Allocated"], warn: w ? w.textContent : null };
  });
  for (const key of ["heap", "alloc"]) {
    const items = r[key] || [];
    const pids = items.map((t) => (t.match(/^pid (\d+): /) || [])[1]).sort();
    check(items.length === 2 && JSON.stringify(pids) === JSON.stringify([pidA, pidB].sort()),
      `two processes: the summary's ${key} is not one line per process: ${JSON.stringify(items)}`);
  }
  check(r.warn && r.warn.includes("come from 2 processes") && r.warn.includes(`pid ${pidA}`) &&
    r.warn.includes(`pid ${pidB}`),
    `two processes: the growth section does not say it compares across them: ${r.warn}`);
  noProblems(ctx, page, "two processes");
  await page.close();
  await ctx.close();
}

const scenarios = { leak, empty, hostile, model: modelPage, big, lines, deep, procs };
run(async (argv) => {
  const fn = scenarios[argv[0]];
  check(fn, `unknown scenario ${argv[0]}`);
  await fn(argv.slice(1));
  console.log(`html_report ${argv[0]}: ok`);
});
