// flame_svg.js - a `memprof flame` SVG opened from a file:// URL in Debian's
// chromium: no console or page error, no request, and Search works (the
// prompt answered with TERM): the "matched" line appears, and with
// --hits N at least N frames are highlighted. With --same-value exactly one
// frame must match, and the amount the "matched" line gives it must be
// written the same way in that frame's tooltip (one value format).
//   node flame_svg.js WORKDIR FILE.svg TERM [--hits N] [--same-value] [--shot PNG]
"use strict";
const path = require("path");
const { launch, check, noProblems, run } = require("./lib");

run(async (args) => {
  const [workDir, svg, term] = args;
  const opt = (name) => { const i = args.indexOf(name); return i > 0 ? args[i + 1] : null; };
  const hits = +(opt("--hits") || 0), shot = opt("--shot");
  const ctx = await launch(workDir);
  try {
    const page = await ctx.newPage();
    page.problems = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") page.problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => page.problems.push(`page error: ${e.message}`));
    page.on("dialog", (d) => d.accept(term));
    page.setDefaultTimeout(10000);
    await page.goto("file://" + path.resolve(svg), { waitUntil: "load" });
    noProblems(ctx, page, `${svg} on load`);
    await page.click("#search");
    const matched = await page.textContent("#matched");
    check(/^Matched /.test(matched), `${svg}: search for ${term} shows no result line (got ${JSON.stringify(matched)})`);
    const lit = await page.$$eval("g.f rect", (rs) => rs.filter((r) => r.getAttribute("fill") === "rgb(230,0,230)").length);
    check(lit >= hits, `${svg}: search for ${term} highlights ${lit} frames, expected at least ${hits}`);
    if (args.includes("--same-value")) {
      const tips = await page.$$eval("g.f", (gs) => gs.filter((g) =>
        g.querySelector("rect").getAttribute("fill") === "rgb(230,0,230)").map((g) => g.querySelector("title").textContent));
      check(tips.length === 1, `${svg}: --same-value needs one matching frame, ${tips.length} match ${term}`);
      const m = /\((.+) of (.+)\)$/.exec(matched);
      check(m && tips[0].includes(m[1]),
        `${svg}: the search says ${JSON.stringify(matched)}, the frame's tooltip ${JSON.stringify(tips[0])}`);
    }
    if (shot) await page.screenshot({ path: shot });
    noProblems(ctx, page, `${svg} after search`);
    console.log(`flame_svg ok: ${svg}: ${matched}; ${lit} highlighted`);
  } finally {
    await ctx.close();
  }
});
