/*
 * report.js - draws a `memprof html` page from the data model that
 * analyzer/html_model.c embeds in <script id="memprof-data"> (its header
 * comment lists the keys). Everything is built with DOM calls and
 * textContent, never from markup strings, so no name from a snapshot can
 * become markup. Optional parts of the model are drawn when present:
 *   files[i].series  [{t_ns, heap_bytes, rss_bytes}]  fine heap/RSS samples
 *   files[i].peak    {bytes, time_ns, rss_bytes}      the highest live heap
 *   flames.peak      a call tree like flames.heap, at the peak
 *   locks.locks[i].percentiles_ns {p50, p90, p99, p999}
 * One formatter (fmt) writes every value the page shows, so a tooltip, a
 * table and a search result never round the same number differently.
 */
"use strict";
(function () {
  const SVGNS = "http://www.w3.org/2000/svg";
  const UNITS = {
    bytes: { k: 1024, u: ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] },
    ns: { k: 1000, u: ["ns", "µs", "ms", "s"] },
  };

  /* ---- formatting: the one place numbers become text ---- */

  function fmt(v, unit) {
    const spec = UNITS[unit || "bytes"];
    let a = Math.abs(v), i = 0;
    while (a >= spec.k && i < spec.u.length - 1) { a /= spec.k; i++; }
    let s;
    if (i === 0) s = String(Math.round(a));
    else s = a >= 99.95 ? a.toFixed(0) : a >= 9.995 ? a.toFixed(1) : a.toFixed(2);
    return (v < 0 ? "-" : "") + s + " " + spec.u[i];
  }
  function fmtSigned(v, unit) { return (v > 0 ? "+" : "") + fmt(v, unit); }
  function fmtCount(n) {
    return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }
  function fmtPct(part, whole) {
    return whole ? (100 * part / whole).toFixed(1) + "%" : "-";
  }
  function fmtClock(ns) {
    return new Date(ns / 1e6).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }
  function plural(n, one, many) { return fmtCount(n) + " " + (n === 1 ? one : many); }
  function basename(p) { const i = p.lastIndexOf("/"); return i < 0 ? p : p.slice(i + 1); }

  /* ---- DOM ---- */

  function add(e, kids) {
    for (const c of kids) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) add(e, c);
      else e.append(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    return add(e, kids);
  }
  function s(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svgTitle(el, text) { el.append(s("title", {}, text)); return el; }

  function frameLoc(f) {
    if (f.file) return f.file + (f.line ? ":" + f.line : "");
    return null;
  }
  /* A stack, innermost frame first, each with its file:line. */
  function stackList(frames) {
    if (!frames || !frames.length) return h("p", { class: "note" }, "(unknown stack)");
    return h("ol", { class: "stack" }, frames.map(function (f) {
      const loc = frameLoc(f);
      return h("li", {}, h("span", { class: "fn" }, f.function),
        loc ? h("span", { class: "loc", title: f.module }, loc)
          : h("span", { class: "mod", title: f.address }, basename(f.module)));
    }));
  }
  /* A site by its frame `at` (diff's site_frame: past allocator wrappers). */
  function siteLabel(frames, at) {
    if (!frames || !frames.length) return "(unknown stack)";
    const f = frames[at > 0 && at < frames.length ? at : 0], loc = frameLoc(f);
    return f.function + (loc ? "  " + basename(f.file) + (f.line ? ":" + f.line : "") : "");
  }
  /* A button that shows and hides `body` (built on first use). */
  function expander(label, build) {
    let body = null;
    const btn = h("button", { class: "expand", type: "button", "aria-expanded": "false" }, label);
    const box = h("div", { class: "more", hidden: true });
    btn.addEventListener("click", function () {
      if (!body) { body = build(); box.append(body); }
      const open = btn.getAttribute("aria-expanded") !== "true";
      btn.setAttribute("aria-expanded", String(open));
      box.hidden = !open;
    });
    return { button: btn, box: box };
  }
  function section(id, title, ...kids) {
    return h("section", { class: "card", id: id }, h("h2", {}, title), kids);
  }
  function nodata(text) { return h("div", { class: "nodata", role: "note" }, text); }

  /* ---- the data ---- */

  const D = JSON.parse(document.getElementById("memprof-data").textContent);
  const files = D.files;
  const last = files[files.length - 1];

  /* Files grouped by process (pid and start time), each in time order. */
  function processes() {
    const map = new Map();
    for (const f of files) {
      const key = f.pid + "/" + f.start_time_ns;
      if (!map.has(key)) map.set(key, { pid: f.pid, ppid: f.ppid, start: f.start_time_ns, files: [] });
      map.get(key).files.push(f);
    }
    const list = Array.from(map.values());
    for (const p of list) {
      p.files.sort(function (a, b) { return a.time_ns - b.time_ns; });
      p.last = p.files[p.files.length - 1];
      p.series = mergeSeries(p.files);
      p.peak = null;
      for (const f of p.files) if (f.peak && typeof f.peak.bytes === "number") p.peak = f.peak;
    }
    return list;
  }
  /* Every file of a process may carry the series since the process began:
   * the union by time is the longest one. */
  function mergeSeries(pfiles) {
    const byT = new Map();
    for (const f of pfiles)
      for (const pt of Array.isArray(f.series) ? f.series : [])
        if (typeof pt.t_ns === "number") byT.set(pt.t_ns, pt);
    return Array.from(byT.values()).sort(function (a, b) { return a.t_ns - b.t_ns; });
  }
  const procs = processes();

  /* ---- summary ---- */

  const triggerWords = { timer: "timer", signal: "signal", request: "request", exit: "exit", exec: "exec",
    detach: "detach" };

  function runTime(p) {
    const ns = Math.max(0, p.last.time_ns - p.start);
    if (p.last.trigger === "exec")   /* the pid went on as another program */
      return "ran " + fmt(ns, "ns") + " (until it exec'd another program)";
    return p.last.trigger === "exit" ? "ran " + fmt(ns, "ns") + " (until exit)"
      : fmt(ns, "ns") + " from start to its last snapshot (still running then)";
  }
  function samplingText(f) {
    return f.sample_bytes <= 1 ? "exact: every allocation was recorded"
      : "sampled: on average one sample per " + fmt(f.sample_bytes) +
        " allocated, so sizes and counts are estimates";
  }
  /* The shim's own counters, in plain words: [counter, one, many, the rest]. */
  const COUNTER_WORDS = [
    ["events_dropped", "event was", "events were",
      " lost because a thread's buffer stayed full: the heap figures are underestimates."],
    ["lock_events_dropped", "lock event was", "lock events were", " lost: lock waits are underestimated."],
    ["unwind_failures", "stack", "stacks", " could not be unwound; their samples count under an unknown stack."],
    ["stack_table_full", "sample was", "samples were",
      " lumped into one overflow stack because the stack table was full."],
    ["addrset_full", "sampled block", "sampled blocks",
      " could not be followed to their free, so they stay counted as live."],
  ];
  function counterWords(c) {
    const out = [];
    for (const [key, one, many, rest] of COUNTER_WORDS)
      if (c[key]) out.push(plural(c[key], one, many) + rest);
    if (c.events_stalled)
      out.push("Threads waited " + plural(c.events_stalled, "time", "times") +
        " for the profiler to make room in their buffer: nothing was lost, but the program ran slower.");
    if (!out.length)
      out.push("Nothing was lost: no events dropped or stalled, every stack unwound.");
    if (c.dormant_ns)   /* not lost: never recorded, as the process was told */
      out.push("Recording was off (dormant: MEMPROF_START=off or memprof disable) for " +
        fmt(c.dormant_ns, "ns") + ": what was allocated or contended then is not counted.");
    out.push(plural(c.samples, "sample", "samples") + " taken, " +
      plural(c.threads_seen, "thread", "threads") + " seen.");
    return out;
  }
  /* The highest live heap: the recorded peak when the snapshots have one,
   * else only the highest snapshot, and the page says which. */
  function peakText(p) {
    if (p.peak && !p.peak.bytes)
      return "0 B: nothing sampled was live since start";
    if (p.peak) {
      let t = fmt(p.peak.bytes) + " at " + fmt(p.peak.time_ns - p.start, "ns") + " after start";
      if (typeof p.peak.rss_bytes === "number") t += " (RSS then " + fmt(p.peak.rss_bytes) + ")";
      return t;
    }
    let best = p.files[0];
    for (const f of p.files) if (f.heap.bytes > best.heap.bytes) best = f;
    return "highest at a snapshot: " + fmt(best.heap.bytes) + " at " +
      fmt(best.time_ns - p.start, "ns") + " (snapshot " + best.seq +
      "); these snapshots do not record the peak between them";
  }
  function rssText(p) {
    let best = null;
    for (const pt of p.series)
      if (typeof pt.rss_bytes === "number" && (!best || pt.rss_bytes > best.rss_bytes)) best = pt;
    if (!best) return "not recorded in these snapshots";
    return fmt(best.rss_bytes) + " at " + fmt(best.t_ns - p.start, "ns") + " after start";
  }
  /* One line for one process; for a few, one line each; for many, the
   * summary line `all` (when given) and the lines behind an expander. */
  const FEW = 3;
  function perProcess(fn, all) {
    if (procs.length === 1) return fn(procs[0]);
    const list = function () {
      return h("ul", { class: "plain" }, procs.map(function (p) {
        return h("li", {}, "pid " + p.pid + ": ", fn(p));
      }));
    };
    if (procs.length <= FEW) return list();
    const ex = expander("each of the " + procs.length + " processes", list);
    return h("div", {}, all ? all() : null, ex.button, ex.box);
  }
  function sumCounters() {
    const c = {};
    for (const p of procs)
      for (const k in p.last.counters) c[k] = (c[k] || 0) + p.last.counters[k];
    return c;
  }
  /* Live heap and allocations: each process's own last snapshot, or the
   * sum over the processes (never one process's figure for all). */
  function sumOfLast(key) {
    const t = { bytes: 0, count: 0 };
    for (const p of procs) { t.bytes += p.last[key].bytes; t.count += p.last[key].count; }
    return t;
  }
  function heapText(v, when) {
    return fmt(v.bytes) + " in " + plural(v.count, "object", "objects") + " at " + when;
  }
  function allocText(v, since) {
    return fmt(v.bytes) + " in " + plural(v.count, "allocation", "allocations") + " since " + since;
  }
  function wordList(c) {
    return h("ul", { class: "plain" }, counterWords(c).map(function (t) { return h("li", {}, t); }));
  }

  function summary() {
    const progs = Array.from(new Set(files.map(function (f) { return f.program; })));
    const first = files[0];
    const span = last.time_ns - first.time_ns;
    const snapList = expander(plural(files.length, "snapshot", "snapshots") +
      (files.length > 1 ? ", " + fmt(Math.abs(span), "ns") + " from the first to the last" : ""),
      function () {
        return h("ol", { class: "stack" }, files.map(function (f) {
          return h("li", {}, h("span", { class: "fn" }, basename(f.file)), " ",
            "pid " + f.pid + ", #" + f.seq + " (" + (triggerWords[f.trigger] || f.trigger) + ") at " +
            fmtClock(f.time_ns) + ", live heap " + fmt(f.heap.bytes));
        }));
      });
    const facts = [
      ["Program", progs.join(", ")],
      ["Command line", h("code", {}, last.cmdline || "(unknown)")],
      ["Executable", h("code", {}, last.exe || "(unknown)")],
      [procs.length === 1 ? "Process" : "Processes", (procs.length > FEW ? procs.length + ": " : "") +
        procs.map(function (p) { return "pid " + p.pid + " (parent " + p.ppid + ")"; }).join(", ")],
      ["Run time", perProcess(runTime)],
      ["Snapshots", h("div", {}, snapList.button, snapList.box)],
      ["Sampling", samplingText(last)],
      ["Live heap", perProcess(function (p) { return heapText(p.last.heap, "its last snapshot"); },
        function () { return heapText(sumOfLast("heap"), "each process's last snapshot, added up"); })],
      ["Allocated", perProcess(function (p) { return allocText(p.last.alloc, "start (cumulative)"); },
        function () { return allocText(sumOfLast("alloc"), "each start, added up"); })],
      ["Peak heap", perProcess(peakText)],
      ["Peak RSS", perProcess(rssText)],
      ["Profiler", perProcess(function (p) { return wordList(p.last.counters); },
        function () { return wordList(sumCounters()); })],
    ];
    return section("summary", "Summary", h("dl", { class: "facts" }, facts.map(function (kv) {
      return [h("dt", {}, kv[0]), h("dd", {}, kv[1])];
    })));
  }

  /* ---- heap over time ---- */

  function niceStep(max, n) {
    const raw = max / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
    return 10 * mag;
  }
  function byteStep(max, n) {
    let unit = 1;
    while (max / unit >= 1024 * n && unit < Math.pow(1024, 6)) unit *= 1024;
    return niceStep(max / unit, n) * unit;
  }

  const COLORS = ["#1f8a4c", "#d4731f", "#1a5fb4", "#b8245e", "#5c6bc0", "#00838f"];

  function drawChart(box) {
    box.textContent = "";
    const W = Math.max(box.clientWidth, 200), H = W < 500 ? 220 : 280;
    const m = { l: W < 500 ? 58 : 70, r: 14, t: 26, b: 34 };
    const t0 = Math.min.apply(null, procs.map(function (p) { return p.start; }));
    let tmax = 1, tmin = Infinity, ymax = 1;
    const lines = procs.map(function (p, pi) {
      const pts = p.series.length ? p.series.map(function (pt) {
        return { t: pt.t_ns, heap: pt.heap_bytes, rss: pt.rss_bytes };
      }) : p.files.map(function (f) {
        return { t: f.time_ns, heap: f.heap.bytes, rss: f.rss_bytes };
      });
      for (const pt of pts) {
        tmax = Math.max(tmax, pt.t - t0);
        tmin = Math.min(tmin, pt.t - t0);
        ymax = Math.max(ymax, pt.heap || 0, typeof pt.rss === "number" ? pt.rss : 0);
      }
      for (const f of p.files) {
        tmax = Math.max(tmax, f.time_ns - t0);
        tmin = Math.min(tmin, f.time_ns - t0);
        ymax = Math.max(ymax, f.heap.bytes);
      }
      if (p.peak) {
        tmax = Math.max(tmax, p.peak.time_ns - t0);
        ymax = Math.max(ymax, p.peak.bytes, p.peak.rss_bytes || 0);
      }
      return { p: p, pts: pts, color: COLORS[pi % COLORS.length] };
    });
    ymax *= 1.12;
    /* The time axis starts at the process start, unless the data begin late
     * (a long-running service): then just before the first point. */
    let tlo = 0;
    if (tmin > 0.3 * tmax) tlo = Math.max(0, tmin - 0.05 * (tmax - tmin));
    const span = Math.max(tmax - tlo, 1);
    const X = function (t) { return m.l + (W - m.l - m.r) * (t - t0 - tlo) / span; };
    const Y = function (v) { return H - m.b - (H - m.t - m.b) * v / ymax; };
    const svg = s("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img",
      "aria-label": "live heap over time" });
    const axis = s("g", { class: "axis" });
    const ys = byteStep(ymax, 4);
    for (let v = 0; v <= ymax; v += ys) {
      axis.append(s("line", { class: "grid", x1: m.l, x2: W - m.r, y1: Y(v), y2: Y(v) }));
      axis.append(s("text", { x: m.l - 6, y: Y(v) + 4, "text-anchor": "end" }, fmt(v)));
    }
    const xs = niceStep(span, W < 500 ? 3 : 6);
    for (let t = Math.ceil(tlo / xs) * xs; t <= tmax * 1.0001; t += xs) {
      const x = X(t0 + t), edge = x > W - m.r - 24;   /* keep the last label inside */
      axis.append(s("text", { x: edge ? W - m.r : x, y: H - m.b + 16, "text-anchor": edge ? "end" : "middle" },
        fmt(t, "ns")));
    }
    axis.append(s("text", { x: W - m.r, y: H - 4, "text-anchor": "end" }, "time since start"));
    svg.append(axis);
    for (const L of lines) {
      const d = L.pts.map(function (pt, i) {
        return (i ? "L" : "M") + X(pt.t).toFixed(1) + " " + Y(pt.heap).toFixed(1);
      }).join(" ");
      if (L.pts.length) {
        const a = L.pts[0], z = L.pts[L.pts.length - 1];
        svg.append(s("path", { class: "heap-area", d: d + " L" + X(z.t).toFixed(1) + " " + Y(0) +
          " L" + X(a.t).toFixed(1) + " " + Y(0) + " Z" }));
        svg.append(s("path", { class: "heap", d: d, style: "stroke:" + L.color }));
      }
      const rss = L.pts.filter(function (pt) { return typeof pt.rss === "number"; });
      if (rss.length)
        svg.append(s("path", { class: "rss", d: rss.map(function (pt, i) {
          return (i ? "L" : "M") + X(pt.t).toFixed(1) + " " + Y(pt.rss).toFixed(1);
        }).join(" ") }));
      let lastLabel = -1e9;
      for (const f of L.p.files) {
        const x = X(f.time_ns);
        svg.append(s("line", { class: "snap", x1: x, x2: x, y1: m.t - 6, y2: H - m.b }));
        if (x - lastLabel >= 22) {   /* labels of close snapshots would overlap */
          svg.append(s("text", { class: "lbl", x: x, y: m.t - 10, "text-anchor": "middle" }, "#" + f.seq));
          lastLabel = x;
        }
        svg.append(svgTitle(s("circle", { class: "snapdot", cx: x, cy: Y(f.heap.bytes), r: 4,
          style: "stroke:" + L.color }), "pid " + f.pid + " snapshot #" + f.seq + " (" + f.trigger +
          ") at " + fmt(f.time_ns - L.p.start, "ns") + ": live heap " + fmt(f.heap.bytes)));
      }
      L.mark = peakMark(L, X, Y, W);
      svg.append(L.mark.g);
    }
    keepHighestLabel(lines);
    box.append(svg);
  }
  function peakMark(L, X, Y, W) {
    const p = L.p;
    let t, v, word;
    if (p.peak) { t = p.peak.time_ns; v = p.peak.bytes; word = "peak "; }
    else {
      let best = null;
      for (const pt of L.pts) if (!best || pt.heap > best.heap) best = pt;
      if (!best) return { g: s("g"), v: -1 };
      t = best.t; v = best.heap; word = p.series.length ? "highest sample " : "highest snapshot ";
    }
    const g = s("g", { class: "peakmark" });
    const x = X(t), y = Y(v), right = x > W * 0.6;
    g.append(svgTitle(s("circle", { class: "peak", cx: x, cy: y, r: 5 }), word + fmt(v)));
    const label = s("text", { class: "peaklbl", x: right ? x - 9 : x + 9, y: y + 16,
      "text-anchor": right ? "end" : "start" }, word + fmt(v));
    g.append(label);
    return { g: g, v: v, label: label };
  }
  /* Of several processes only the highest peak is labelled (the others keep
   * their dot and its tooltip): labels of many would pile up. */
  function keepHighestLabel(lines) {
    let top = null;
    for (const L of lines) if (L.mark.label && (!top || L.mark.v > top.mark.v)) top = L;
    for (const L of lines) if (L !== top && L.mark.label) L.mark.label.remove();
  }
  function timeline() {
    const box = h("div", { class: "chart", id: "heap-chart" });
    const haveSeries = procs.some(function (p) { return p.series.length; });
    const haveRss = procs.some(function (p) {
      return p.series.some(function (pt) { return typeof pt.rss_bytes === "number"; });
    });
    const legend = h("div", { class: "legend" },
      procs.length > COLORS.length
        ? h("span", {}, h("i", { style: "border-color:" + COLORS[0] }), "live heap, one line per process (" +
          procs.length + ")")
        : procs.map(function (p, i) {
          return h("span", {}, h("i", { style: "border-color:" + COLORS[i % COLORS.length] }),
            "live heap" + (procs.length > 1 ? " (pid " + p.pid + ")" : ""));
        }),
      haveRss ? h("span", {}, h("i", { style: "border-color:#7a4bc2;border-top-style:dashed" }), "RSS") : null,
      h("span", {}, h("i", { style: "border-color:#9aa3b0;border-top-style:dotted" }), "snapshot (#seq)"));
    const note = haveSeries ? null : h("p", { class: "note" },
      "The line joins the snapshots' live heap totals; what happened between snapshots is not recorded in them.");
    later.push(function () { drawChart(box); });
    onResize.push(function () { drawChart(box); });
    return section("timeline", "Live heap over time", box, legend, note);
  }

  /* ---- growth ---- */

  function errBar(r, lo, hi) {
    const W = 150, H = 18, X = function (v) { return 4 + (W - 8) * (v - lo) / (hi - lo || 1); };
    const svg = s("svg", { class: "errbar", viewBox: "0 0 " + W + " " + H, role: "img",
      "aria-label": fmtSigned(r.bytes_delta) + " plus or minus " + fmt(r.error_bytes) });
    const x0 = X(0), x1 = X(r.bytes_delta);
    svg.append(s("line", { x1: x0, x2: x0, y1: 1, y2: H - 1, stroke: "#9aa3b0" }));
    svg.append(s("rect", { x: Math.min(x0, x1), y: 5, width: Math.max(1, Math.abs(x1 - x0)), height: 8,
      fill: r.bytes_delta >= 0 ? "#e06666" : "#6d8fe0" }));
    if (r.error_bytes > 0) {
      const a = X(r.bytes_delta - r.error_bytes), b = X(r.bytes_delta + r.error_bytes);
      svg.append(s("line", { class: "whisker", x1: a, x2: b, y1: 9, y2: 9, stroke: "#222" }));
      svg.append(s("line", { x1: a, x2: a, y1: 5, y2: 13, stroke: "#222" }));
      svg.append(s("line", { x1: b, x2: b, y1: 5, y2: 13, stroke: "#222" }));
    }
    return svg;
  }
  function sparkline(series) {
    const W = 90, H = 22, max = Math.max.apply(null, series.concat([1]));
    const svg = s("svg", { class: "spark", viewBox: "0 0 " + W + " " + H, role: "img",
      "aria-label": "live bytes at each snapshot: " + series.map(function (v) { return fmt(v); }).join(", ") });
    const n = series.length;
    svg.append(s("polyline", { fill: "none", stroke: "#1f8a4c", "stroke-width": 1.5,
      points: series.map(function (v, i) {
        return (2 + (W - 4) * (n > 1 ? i / (n - 1) : 0.5)).toFixed(1) + "," + (H - 2 - (H - 4) * v / max).toFixed(1);
      }).join(" ") }));
    svgTitle(svg, series.map(function (v) { return fmt(v); }).join(" → "));
    return svg;
  }
  function growth() {
    const G = D.growth;
    if (!G) return section("growth", "Growth", nodata(
      "Growth needs at least two snapshots; this page was made from one. Pass an earlier snapshot " +
      "of the same program too."));
    const T = G.total, nf = G.files.length;
    const a = G.files[0], z = G.files[nf - 1];
    const head = h("p", {}, "From ", h("code", {}, basename(a.file)), " to ", h("code", {}, basename(z.file)),
      ": live heap " + fmt(a.bytes) + " → " + fmt(z.bytes) + ", growth " + fmtSigned(T.bytes_delta) +
      (T.error_bytes ? " ± " + fmt(T.error_bytes) + " (95%, sampling)" : "") +
      " in " + fmtCount(T.count_delta) + " objects.");
    const progs = new Set(G.files.map(function (f) { return f.program; }));
    const pids = new Set(G.files.map(function (f) { return f.pid; }));
    const warn = progs.size > 1 ? h("p", { class: "warn" }, "These files are snapshots of " + progs.size +
      " different programs: growth compares the first file with the last, whatever they are.")
      : pids.size > 1 ? h("p", { class: "warn" }, "These files come from " + pids.size +
      " processes: growth compares the first file (pid " + a.pid + ") with the last (pid " + z.pid +
      "), not what one process grew; make a page of one process's snapshots for that.") : null;
    if (!G.sites.length) return section("growth", "Growth", head, warn, nodata("No live heap in these snapshots."));
    let lo = 0, hi = 1;
    for (const r of G.sites) {
      lo = Math.min(lo, r.bytes_delta - r.error_bytes);
      hi = Math.max(hi, r.bytes_delta + r.error_bytes);
    }
    const rows = G.sites.map(function (r) {
      const ex = expander(siteLabel(r.frames, r.site_frame), function () { return stackList(r.frames); });
      const noisy = r.error_bytes > 0 && Math.abs(r.bytes_delta) <= r.error_bytes;
      return h("div", { class: "row growthrow", "data-rank": r.rank },
        h("span", { class: "rank" }, "#" + r.rank),
        h("span", { class: "num" }, h("b", {}, fmtSigned(r.bytes_delta)),
          r.error_bytes ? " ± " + fmt(r.error_bytes) : "",
          r.grew_every_interval && nf > 2 ? h("span", { class: "grew", title: "grew in every interval" }, " ▲") : "",
          noisy ? h("span", { class: "note" }, " (within noise)") : "",
          h("br"), h("span", { class: "note" }, "now " + fmt(r.bytes) + ", " + fmtCount(r.count) + " objects")),
        h("span", { class: "bar" }, errBar(r, lo, hi)),
        h("span", { class: "sparkc" }, sparkline(r.series)),
        h("span", { class: "site" }, ex.button),
        ex.box);
    });
    const legend = h("p", { class: "note" }, "Sites ranked by growth of their live bytes from the first to the last snapshot; " +
      "the bar is the growth, the whiskers its 95% error from sampling" +
      (nf > 2 ? "; ▲ grew in every interval between snapshots" : "") +
      ". Click a site for its whole stack.");
    return section("growth", "Growth", head, warn, legend, h("div", { class: "rows" }, rows));
  }

  /* ---- flame graphs ---- */

  const ROW_H = 18, MIN_PX = 3, CHAR_PX = 7;

  function hashUnit(str, seed) {
    let x = 2166136261 ^ seed;
    for (let i = 0; i < str.length; i++) { x ^= str.charCodeAt(i); x = Math.imul(x, 16777619); }
    return ((x >>> 0) % 1000) / 1000;
  }

  /* One call tree (root first, nodes in pre-order) drawn as an icicle:
   * the root on top, callees below their callers, width by value. */
  function FlameGraph(tree, kind, box, toolbar) {
    const n = tree.nodes.length;
    this.kind = kind; this.unit = tree.unit; this.box = box; this.tb = toolbar;
    this.name = new Array(n); this.file = new Array(n); this.line = new Int32Array(n);
    this.val = new Float64Array(n); this.old = new Float64Array(n); this.cnt = new Float64Array(n);
    this.parent = new Int32Array(n); this.depth = new Int32Array(n); this.w = new Float64Array(n);
    /* > 0: the node stands for that many callees below the model's minimum
     * share, pruned from the page (html_model.c) */
    this.pruned = new Int32Array(n);
    this.minShare = tree.pruned ? tree.pruned.min_share : 0;
    this.kids = [];
    for (let i = 0; i < n; i++) {
      const r = tree.nodes[i];
      this.parent[i] = r[0]; this.name[i] = tree.strings[r[1]];
      this.file[i] = r[2] >= 0 ? tree.strings[r[2]] : null; this.line[i] = r[3];
      this.val[i] = r[4]; this.old[i] = r[5]; this.cnt[i] = r[6]; this.pruned[i] = r[7] || 0;
      this.kids.push([]);
      if (r[0] >= 0) { this.kids[r[0]].push(i); this.depth[i] = this.depth[r[0]] + 1; }
    }
    /* Layout width: the value; in a differential graph the larger of before
     * and after (widened to hold its callees), so what vanished still shows. */
    for (let i = n - 1; i >= 0; i--) {
      let sum = 0;
      for (const c of this.kids[i]) sum += this.w[c];
      this.w[i] = kind === "diff" ? Math.max(this.val[i], this.old[i], sum) : Math.max(this.val[i], sum);
    }
    this.maxDelta = 0;
    /* a pruned node's change is many frames' added up: not a frame's */
    for (let i = 1; i < n; i++)
      if (!this.pruned[i]) this.maxDelta = Math.max(this.maxDelta, Math.abs(this.val[i] - this.old[i]));
    this.zoomed = 0; this.hits = null; this.term = "";
  }
  FlameGraph.prototype.empty = function () { return !this.name.length || this.w[0] <= 0; };
  FlameGraph.prototype.color = function (i) {
    if (this.kind === "diff") {
      const d = this.val[i] - this.old[i], f = this.maxDelta ? Math.abs(d) / this.maxDelta : 0;
      const c = Math.round(235 - 200 * f);
      if (d > 0) return "rgb(255," + c + "," + c + ")";
      if (d < 0) return "rgb(" + c + "," + c + ",255)";
      return "rgb(225,225,225)";
    }
    const nm = this.name[i];
    if (nm === "??" || nm[0] === "[") return "rgb(200,200,200)";
    const a = hashUnit(nm, 1), b = hashUnit(nm, 2);
    if (this.kind === "locks") return "rgb(" + (205 + Math.round(50 * a)) + "," + Math.round(90 + 120 * b) + ",40)";
    return "rgb(" + Math.round(50 + 80 * a) + "," + Math.round(170 + 60 * b) + "," + Math.round(60 + 50 * a) + ")";
  };
  FlameGraph.prototype.loc = function (i) {
    return this.file[i] ? this.file[i] + (this.line[i] > 0 ? ":" + this.line[i] : "") : null;
  };
  FlameGraph.prototype.describe = function (i) {
    const u = this.unit, total = this.val[0];
    const parts = [this.name[i]];
    const loc = this.loc(i);
    if (loc) parts.push(loc);
    if (this.kind === "diff") {
      const d = this.val[i] - this.old[i];
      parts.push("now " + fmt(this.val[i], u) + ", was " + fmt(this.old[i], u) + ", change " + fmtSigned(d, u) +
        (this.val[i] === 0 && this.old[i] > 0 ? " (gone)" : this.old[i] === 0 ? " (new)" :
          " (" + (d >= 0 ? "+" : "") + (100 * d / this.old[i]).toFixed(1) + "%)"));
    } else {
      parts.push(fmt(this.val[i], u) + " (" + fmtPct(this.val[i], total) + " of " + fmt(total, u) + ")");
    }
    const words = { heap: "objects", peak: "objects", diff: "objects", alloc: "allocations", locks: "contentions" };
    parts.push(fmtCount(this.cnt[i]) + " " + words[this.kind]);
    return parts.join("  ·  ");
  };
  FlameGraph.prototype.render = function () {
    const box = this.box;
    box.textContent = "";
    const W = Math.max(box.clientWidth, 100), Z = this.zoomed, scale = W / this.w[Z];
    const frag = document.createDocumentFragment();
    const anc = [];
    for (let a = this.parent[Z]; a >= 0; a = this.parent[a]) anc.unshift(a);
    let rows = anc.length + 1;
    const self = this;
    function frame(i, x, w, row, cls, label) {
      const g = s("g", { class: "fr" + (cls ? " " + cls : ""), "data-i": i });
      g.append(s("rect", { x: x.toFixed(2), y: row * ROW_H, width: Math.max(w - 0.5, 0.5).toFixed(2),
        height: ROW_H - 1, fill: cls === "fold" ? "#e9ebef" : self.color(i) }));
      const fit = Math.floor((w - 6) / CHAR_PX);
      if (fit >= 3)
        g.append(s("text", { x: (x + 3).toFixed(2), y: row * ROW_H + 13 },
          label.length > fit ? label.slice(0, fit - 1) + "…" : label));
      frag.append(g);
      if (row + 1 > rows) rows = row + 1;
      return g;
    }
    anc.forEach(function (a, r) { frame(a, 0, W, r, "anc", self.name[a]); });
    const stack = [[Z, 0, anc.length]];
    this.folds = [];
    while (stack.length) {
      const [i, x, row] = stack.pop();
      const w = this.w[i] * scale;
      frame(i, x, w, row, this.pruned[i] ? "fold" : this.val[i] === 0 && this.old[i] > 0 ? "gone" : "",
        this.name[i]);
      let cx = x, small = [], sw = 0;
      for (const c of this.kids[i]) {
        const cw = this.w[c] * scale;
        if (cw >= MIN_PX) { stack.push([c, cx, row + 1]); cx += cw; }
        else if (this.w[c] > 0) { small.push(c); sw += cw; }
      }
      if (small.length && sw >= 1) {
        const label = "(" + small.length + " small frame" + (small.length === 1 ? "" : "s") + ")";
        const g = frame(i, cx, sw, row + 1, "fold", label);
        g.setAttribute("data-fold", this.folds.length);
        this.folds.push(small);
      }
    }
    const svg = s("svg", { width: W, height: rows * ROW_H, viewBox: "0 0 " + W + " " + rows * ROW_H,
      role: "img", "aria-label": "flame graph" });
    svg.append(frag);
    box.append(svg);
    this.tb.reset.disabled = Z === 0;
    this.paintHits();
  };
  FlameGraph.prototype.frameAt = function (target) {
    const g = target.closest ? target.closest("g.fr") : null;
    return g && this.box.contains(g) ? g : null;
  };
  FlameGraph.prototype.details = function (g) {
    if (g.hasAttribute("data-fold")) {
      const list = this.folds[+g.getAttribute("data-fold")];
      let sum = 0;
      for (const c of list) sum += this.kind === "diff" ? this.val[c] : this.w[c];
      return plural(list.length, "frame", "frames") + " narrower than " + MIN_PX + " px, with their callees: " +
        fmt(sum, this.unit) + (this.kind === "diff" ? " now" : "") + "  ·  zoom into the caller to see them";
    }
    const i = +g.getAttribute("data-i");
    if (this.pruned[i]) return this.describePruned(i);
    return this.describe(i);
  };
  FlameGraph.prototype.describePruned = function (i) {
    const u = this.unit;
    return plural(this.pruned[i], "callee", "callees") + " of " + this.name[this.parent[i]] + " under " +
      (100 * this.minShare) + "% of the total each, with their callees: " + fmt(this.val[i], u) +
      (this.kind === "diff" ? " now, was " + fmt(this.old[i], u) : "") +
      "  ·  left out of this page; memprof flame, folded and pprof have every frame";
  };
  FlameGraph.prototype.click = function (g) {
    if (g.hasAttribute("data-fold") || this.pruned[+g.getAttribute("data-i")]) return;
    this.zoomed = +g.getAttribute("data-i");
    this.render();
  };
  /* Regular expression over names and file:line (full path or basename);
   * text that is not a valid expression is searched for literally. */
  FlameGraph.prototype.search = function (term) {
    this.term = term;
    if (!term) { this.hits = null; this.tb.matched.textContent = ""; this.paintHits(); return; }
    let re;
    try { re = new RegExp(term); } catch (e) { re = new RegExp(term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")); }
    const n = this.name.length, hit = new Uint8Array(n), under = new Uint8Array(n), sub = new Uint8Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const loc = this.loc(i);
      hit[i] = i > 0 && !this.pruned[i] && (re.test(this.name[i]) ||
        (loc !== null && (re.test(loc) || re.test(basename(loc))))) ? 1 : 0;
      const p = this.parent[i];
      under[i] = hit[i] || (p >= 0 && under[p]) ? 1 : 0;
      if (hit[i] && !(p >= 0 && under[p])) sum += this.val[i];
    }
    for (let i = n - 1; i > 0; i--) if (hit[i] || sub[i]) sub[this.parent[i]] = 1;
    this.hits = { hit: hit, sub: sub };
    const total = this.val[0], u = this.unit;
    this.tb.matched.textContent = "Matched " + fmtPct(sum, total) + ": " + fmt(sum, u) + " of " + fmt(total, u);
    this.tb.matched.setAttribute("data-share", total ? String(sum / total) : "0");
    this.paintHits();
  };
  FlameGraph.prototype.paintHits = function () {
    const H = this.hits;
    for (const g of this.box.querySelectorAll("g.fr")) {
      let on = false;
      if (H) {
        if (g.hasAttribute("data-fold"))
          on = this.folds[+g.getAttribute("data-fold")].some(function (c) { return H.hit[c] || H.sub[c]; });
        else on = !!H.hit[+g.getAttribute("data-i")];
      }
      g.classList.toggle("hit", on);
    }
  };

  const flameKinds = [
    ["heap", "Live heap", "Live heap by call stack at the last snapshot (" , "No data: the live heap of the last snapshot is empty (everything allocated was freed)."],
    ["diff", "Growth", "Change of the live heap from the first to the last snapshot: red grew, blue shrank, the largest change is the deepest colour; frames that vanished are drawn at their old width with a dashed edge (", "No data: neither snapshot holds live heap."],
    ["alloc", "Allocated", "Everything allocated since start, freed or not, by call stack (", "No data: nothing was allocated."],
    ["peak", "At peak", "Live heap by call stack at the peak (", "No data: the peak holds no live heap."],
    ["locks", "Lock waits", "Time threads waited for locks, by waiting stack (", "No data: no lock was contended."],
  ];
  function flames() {
    const F = D.flames || {};
    const tabs = h("div", { class: "tabs", role: "tablist" });
    const panels = h("div", {});
    const shown = flameKinds.filter(function (k) { return F[k[0]]; });
    let current = null;
    const graphs = {};
    function open(kind) {
      for (const b of tabs.children) b.setAttribute("aria-selected", String(b.dataset.kind === kind));
      for (const p of panels.children) p.hidden = p.dataset.kind !== kind;
      current = kind;
      const g = graphs[kind];
      if (g && !g.empty()) g.render();
    }
    for (const k of shown) {
      const kind = k[0];
      tabs.append(h("button", { type: "button", role: "tab", id: "tab-" + kind, "data-kind": kind,
        "aria-selected": "false", onclick: function () { open(kind); } }, k[1]));
      const box = h("div", { class: "flame", id: "flame-" + kind });
      const input = h("input", { type: "search", placeholder: "search: regex, function or file:line",
        "aria-label": "search frames", spellcheck: "false" });
      const reset = h("button", { type: "button", disabled: true }, "Reset zoom");
      const matched = h("span", { class: "matched", "aria-live": "polite" });
      const details = h("div", { class: "details" }, "Click a frame to zoom into it; hover or tap for details.");
      const tb = { reset: reset, matched: matched };
      const pr = F[kind].pruned;
      const desc = h("p", { class: "note" }, k[2] + (kind === "diff" ? basename(files[0].file) + " → " : "") +
        basename(last.file) + ")." + (D.lines ? " One box per function and source line (--lines)." : "") +
        (pr && pr.frames ? " " + plural(pr.frames, "frame", "frames") + " under " + (100 * pr.min_share) +
          "% of the total are left out, each caller's shown as one “(n small frames)” box." : ""));
      const panel = h("div", { "data-kind": kind, hidden: true }, desc);
      const g = new FlameGraph(F[kind], kind, box, tb);
      graphs[kind] = g;
      if (g.empty()) {
        panel.append(nodata(k[3]));
      } else {
        panel.append(h("div", { class: "toolbar" }, input, reset, matched), box, details);
        let timer = 0;
        input.addEventListener("input", function () {
          clearTimeout(timer);
          timer = setTimeout(function () { g.search(input.value); }, 120);
        });
        input.addEventListener("keydown", function (e) {
          if (e.key === "Enter") { clearTimeout(timer); g.search(input.value); }
        });
        reset.addEventListener("click", function () { g.zoomed = 0; g.render(); });
        box.addEventListener("mouseover", function (e) {
          const fr = g.frameAt(e.target); if (fr) details.textContent = g.details(fr);
        });
        box.addEventListener("click", function (e) {
          const fr = g.frameAt(e.target); if (!fr) return;
          details.textContent = g.details(fr);
          g.click(fr);
        });
      }
      panels.append(panel);
    }
    onResize.push(function () { if (current && graphs[current] && !graphs[current].empty()) graphs[current].render(); });
    /* Escape: back to the whole graph */
    document.addEventListener("keydown", function (e) {
      const g = current && graphs[current];
      if (e.key === "Escape" && g && !g.empty() && g.zoomed) { g.zoomed = 0; g.render(); }
    });
    if (shown.length) later.push(function () { open(shown[0][0]); });
    exported.graphs = graphs;
    return section("flames", "Flame graphs", shown.length ? [tabs, panels] : nodata("No call trees in this report."));
  }

  /* ---- locks ---- */

  function lockStacks(title, list, verb) {
    if (!list || !list.length) return null;
    return [h("h3", {}, title), list.map(function (st) {
      return h("div", {}, h("p", {}, fmtCount(st.contentions) + " × " + verb + " " + fmt(st.wait_ns, "ns")),
        stackList(st.frames));
    })];
  }
  function percentiles(p) {
    if (!p || typeof p !== "object") return null;
    const keys = [["p50", "p50"], ["p90", "p90"], ["p99", "p99"], ["p999", "p99.9"]];
    return h("div", { class: "pcts" }, h("span", { class: "note" }, "waits:"),
      keys.filter(function (k) { return typeof p[k[0]] === "number"; }).map(function (k) {
        return h("span", { class: "pct", "data-p": k[0] }, h("b", {}, k[1]), " " + fmt(p[k[0]], "ns"));
      }));
  }
  function locks() {
    const L = D.locks;
    if (!L.lock_profiling)
      return section("locks", "Locks", nodata("Lock profiling was off in this process (MEMPROF_LOCKS=0)."));
    if (!L.locks.length)
      return section("locks", "Locks", nodata("No lock was contended (" + basename(L.file) + ")."));
    const head = h("p", {}, plural(L.total.locks, "contended lock", "contended locks") + ", " +
      plural(L.total.contentions, "contention", "contentions") + ", " + fmt(L.total.wait_ns, "ns") +
      " total wait, since the process started (" + basename(L.file) + ")" +
      (L.locks.length < L.total.locks ? "; top " + L.locks.length + " shown." : "."));
    const rows = L.locks.map(function (l) {
      const ex = expander("first used at " + siteLabel(l.frames), function () {
        return h("div", {}, h("h3", {}, "First used at"), stackList(l.frames),
          lockStacks("Waiters (contentions × wait suffered)", l.sites, "waited"),
          lockStacks("Holders (contentions × wait caused)", l.holders, "caused"));
      });
      return h("div", { class: "row lockrow", "data-rank": l.rank },
        h("span", { class: "rank" }, "#" + l.rank),
        h("div", { class: "site" },
          h("div", {}, h("b", {}, l.kind + " " + l.address), ": " +
            plural(l.contentions, "contention", "contentions") + ", wait " + fmt(l.wait_ns, "ns") +
            " total, max " + (l.max_wait_exact === false ? "≤ " : "") + fmt(l.max_wait_ns, "ns") +
            ", avg " + fmt(l.avg_wait_ns, "ns") +
            (l.hold_ns ? "; held " + fmt(l.hold_ns, "ns") + " while others waited" : "")),
          percentiles(l.percentiles_ns), ex.button),
        ex.box);
    });
    return section("locks", "Locks", head, h("div", { class: "rows" }, rows));
  }

  /* ---- the page ---- */

  const later = [], onResize = [], exported = {};
  function build() {
    const progs = Array.from(new Set(files.map(function (f) { return f.program; }))).join(", ");
    document.title = "memprof: " + progs;
    document.getElementById("title").textContent = "memprof report: " + progs;
    document.getElementById("subtitle").textContent = plural(files.length, "snapshot", "snapshots") +
      " of " + plural(procs.length, "process", "processes") + ", last at " + fmtClock(last.time_ns);
    const app = document.getElementById("app");
    app.textContent = "";
    const parts = [["summary", summary], ["timeline", timeline], ["growth", growth],
      ["flames", flames], ["locks", locks]];
    const toc = document.getElementById("toc");
    for (const [id, fn] of parts) {
      const sec = fn();
      app.append(sec);
      toc.append(h("a", { href: "#" + id }, sec.querySelector("h2").textContent));
    }
    for (const fn of later) fn();
    let t = 0, lastW = window.innerWidth;
    window.addEventListener("resize", function () {
      if (window.innerWidth === lastW) return;
      lastW = window.innerWidth;
      clearTimeout(t);
      t = setTimeout(function () { for (const fn of onResize) fn(); }, 100);
    });
    /* for the browser tests: the formatter, the model, the graphs */
    window.memprofReport = { fmt: fmt, data: D, graphs: exported.graphs };
  }
  build();
})();
