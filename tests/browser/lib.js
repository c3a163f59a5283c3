// lib.js - what the browser tests share: Debian's chromium driven through
// playwright-core (no browser download: executablePath is the system one),
// a fresh profile per run, every request that is not file:// refused and
// recorded, and every console error or page error collected.
"use strict";
const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

function fail(msg) {
  const e = new Error(msg);
  e.isCheck = true;
  throw e;
}
function check(cond, msg) {
  if (!cond) fail(msg);
}

async function launch(workDir) {
  if (!fs.existsSync(CHROMIUM)) fail(`no chromium at ${CHROMIUM} (scripts/setup installs it)`);
  const profile = fs.mkdtempSync(path.join(workDir, "chromium-profile-"));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 800 },
    offline: true,
  });
  ctx.requests = [];
  await ctx.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file://")) return route.continue();
    ctx.requests.push(url);
    return route.abort();
  });
  return ctx;
}

// Opens url at the viewport; page.problems collects console errors and
// warnings, page errors and refused requests.
async function open(ctx, url, viewport) {
  const page = await ctx.newPage();
  page.problems = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning")
      page.problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => page.problems.push(`page error: ${e.message}`));
  page.setDefaultTimeout(10000);
  await page.setViewportSize(viewport);
  await page.goto(url, { waitUntil: "load" });
  const drawn = await page.waitForFunction(() => window.memprofReport !== undefined, null,
    { timeout: 10000 }).then(() => true, () => false);
  check(drawn, `${url}: the page's script did not draw the report (${page.problems.join("; ") || "no error"})`);
  return page;
}

function noProblems(ctx, page, what) {
  check(page.problems.length === 0, `${what}: ${page.problems.join("; ")}`);
  check(ctx.requests.length === 0, `${what}: the page requested ${ctx.requests.join(", ")}`);
}

// The page body never scrolls sideways: wide parts scroll in their own box.
async function noOverflow(page, what) {
  const m = await page.evaluate(() => ({
    doc: document.documentElement.scrollWidth, body: document.body.scrollWidth,
    win: window.innerWidth,
  }));
  check(m.doc <= m.win && m.body <= m.win,
    `${what}: horizontal overflow (document ${m.doc}px, body ${m.body}px, window ${m.win}px)`);
}

// Runs main(args) and exits 1 with the reason on any failure.
function run(main) {
  main(process.argv.slice(2)).then(() => process.exit(0), (e) => {
    console.error(`FAIL: ${e.isCheck ? e.message : e.stack || e}`);
    process.exit(1);
  });
}

module.exports = { launch, open, check, fail, noProblems, noOverflow, run };
