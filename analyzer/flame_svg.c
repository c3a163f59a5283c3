/*
 * flame_svg.c - a laid-out call tree as one self-contained interactive SVG
 * flame graph (inline style and script, nothing fetched), root at the
 * bottom, frames sized by value; `memprof flame` (cmd_flame.c) builds the
 * tree and calls it.
 *
 * Differential (old given): the shape is NEW's, and each frame is coloured
 * by how its inclusive value changed since OLD - red grew, blue shrank,
 * intensity by the change relative to the larger of the two.
 *
 * Frames are laid out here, so the file renders without JavaScript; the
 * script only adds hover details, click-to-zoom and search.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "flame_svg.h"
#include "fmt.h"
#include "hashmap.h"
#include "sites.h"
#include "util.h"

#define IMG_W 1200
#define XPAD 10
#define FRAME_H 16
#define TOP 64          /* title, subtitle, buttons */
#define BOTTOM 36       /* details line, matched share */
#define FONT_PX 11
#define CHAR_W (FONT_PX * 0.59)   /* average glyph width, as flamegraph.pl */
#define MIN_W 0.1                 /* narrower frames (and their callees) are left out */

typedef struct flame {
    FILE *out;
    const mp_stacktree *t;
    mp_what what;
    bool diff;
    double scale;       /* pixels per value unit */
    uint32_t levels;    /* visible depth + 1 */
    int height;
} flame;

/* XML text or attribute: escapes markup, drops control characters and
 * replaces bytes that are not well-formed UTF-8, which would make the whole
 * document unreadable. */
static void esc(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                : (c & 0xf8) == 0xf0 ? 4 : 0;
        bool ok = len > 0 && (len != 2 || c >= 0xc2) && !(len == 4 && c > 0xf4);
        for (int i = 1; ok && i < len; i++)
            ok = (p[i] & 0xc0) == 0x80;
        if (ok && len == 3)   /* no overlongs, no UTF-16 surrogates */
            ok = !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] >= 0xa0);
        if (ok && len == 4)
            ok = !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] >= 0x90);
        if (!ok) {
            fputc('?', out);
            p++;
            continue;
        }
        switch (c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default:
            if (c >= 0x20 && c != 0x7f)
                fwrite(p, 1, (size_t)len, out);
        }
        p += len;
    }
}

static const char *fmt_value(char buf[32], mp_what what, uint64_t v)
{
    return mp_stacktree_what_is_bytes(what) ? mp_fmt_bytes(buf, (int64_t)v, 0) : mp_fmt_ns(buf, v);
}

/* "+1.5 MiB", "-3.2 ms" */
static const char *fmt_delta(char buf[40], mp_what what, uint64_t now, uint64_t was)
{
    char v[32];
    if (mp_stacktree_what_is_bytes(what))
        return mp_fmt_bytes(buf, (int64_t)(now - was), 1);
    snprintf(buf, 40, "%c%s", now >= was ? '+' : '-', mp_fmt_ns(v, now >= was ? now - was : was - now));
    return buf;
}

static const char *const count_words[MP_WHAT_COUNT] = {"objects", "allocations", "contentions",
                                                       "objects", "allocations"};
static const char *const titles[] = {
    "Live heap by allocation stack",
    "Cumulative allocations by stack",
    "Lock wait time by waiting stack",
};

/* ---- colours ---- */

static double hash_unit(const char *s, uint64_t seed)
{
    return (double)(mp_hashmap_hash_str(s, seed) >> 11) / (double)(1ull << 53);
}

static void frame_color(const flame *f, const mp_stacktree_node *n, char buf[32])
{
    if (f->diff) {
        uint64_t hi = n->total > n->old_total ? n->total : n->old_total;
        double rel = hi ? ((double)n->total - (double)n->old_total) / (double)hi : 0;
        int fade = (int)(235 - 190 * (rel < 0 ? -rel : rel));
        if (rel > 0)
            snprintf(buf, 32, "rgb(255,%d,%d)", fade, fade);
        else if (rel < 0)
            snprintf(buf, 32, "rgb(%d,%d,255)", fade, fade);
        else
            snprintf(buf, 32, "rgb(235,235,235)");
        return;
    }
    double a = hash_unit(n->name, 1), b = hash_unit(n->name, 2), c = hash_unit(n->name, 3);
    if (strcmp(n->name, "??") == 0 || n->name[0] == '[')
        snprintf(buf, 32, "rgb(200,200,200)");
    else if (f->what == MP_WHAT_LOCKS)   /* flamegraph.pl "hot" */
        snprintf(buf, 32, "rgb(%d,%d,%d)", 205 + (int)(50 * c), (int)(230 * a), (int)(55 * b));
    else                                 /* greens, like Gregg's memory flame graphs */
        snprintf(buf, 32, "rgb(%d,%d,%d)", (int)(60 * c), 170 + (int)(60 * b), (int)(90 * a));
}

/* ---- frames ---- */

static void write_tooltip(const flame *f, const mp_stacktree_node *n)
{
    char v[32], o[32], d[40];
    const mp_stacktree_node *root = &f->t->nodes[0];
    esc(f->out, n->name);
    if (n->file) {
        fputc('\n', f->out);
        esc(f->out, n->file);
        if (n->line > 0)
            fprintf(f->out, ":%d", n->line);
    } else if (n->module && *n->module) {
        fputc('\n', f->out);
        esc(f->out, n->module);
    }
    fprintf(f->out, "\n%s, %" PRIu64 " %s (%.2f%%)", fmt_value(v, f->what, n->total),
            n->count, count_words[f->what], 100.0 * (double)n->total / (double)root->total);
    if (f->diff) {
        fprintf(f->out, "\nwas %s, change %s", fmt_value(o, f->what, n->old_total),
                fmt_delta(d, f->what, n->total, n->old_total));
        if (n->old_total)
            fprintf(f->out, " (%+.1f%%)", 100.0 * ((double)n->total - (double)n->old_total)
                                          / (double)n->old_total);
        else
            fputs(" (new)", f->out);
    }
}

/* The label that fits in w pixels, cut with ".." like flamegraph.pl. */
static void write_label(FILE *out, const char *name, double w)
{
    long fit = (long)((w - 6) / CHAR_W);
    size_t len = strlen(name);
    if (fit < 3)
        return;
    if ((size_t)fit >= len) {
        esc(out, name);
        return;
    }
    char *cut = mp_xstrdup(name);
    strcpy(cut + fit - 2, "..");
    esc(out, cut);
    free(cut);
}

static void write_frame(const flame *f, uint32_t i)
{
    const mp_stacktree_node *n = &f->t->nodes[i];
    double x = XPAD + (double)n->offset * f->scale, w = (double)n->total * f->scale;
    int y = f->height - BOTTOM - (int)(n->depth + 1) * FRAME_H;
    char fill[32];
    frame_color(f, n, fill);
    fputs("<g class=\"f\" data-n=\"", f->out);
    esc(f->out, n->name);
    fprintf(f->out, "\" data-v=\"%" PRIu64 "\" data-o=\"%" PRIu64 "\" data-d=\"%u\"><title>",
            n->total, n->offset, n->depth);
    write_tooltip(f, n);
    fprintf(f->out, "</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
            "fill=\"%s\" rx=\"2\" ry=\"2\"/><text x=\"%.2f\" y=\"%d\">",
            x, y, w, FRAME_H - 1, fill, x + 3, y + FRAME_H - 5);
    write_label(f->out, n->name, w);
    fputs("</text></g>\n", f->out);
}

static bool visible(const flame *f, uint32_t i)
{
    return (double)f->t->nodes[i].total * f->scale >= MIN_W;
}

static void write_frames(const flame *f)
{
    fputs("<g id=\"frames\">\n", f->out);
    for (uint32_t i = 0; i != MP_STACKTREE_NONE;) {
        bool show = visible(f, i);
        if (show)
            write_frame(f, i);
        i = mp_stacktree_next(f->t, i, !show);
    }
    fputs("</g>\n", f->out);
}

static uint32_t visible_levels(const flame *f)
{
    uint32_t max = 0;
    for (uint32_t i = 0; i != MP_STACKTREE_NONE;) {
        bool show = visible(f, i);
        if (show && f->t->nodes[i].depth > max)
            max = f->t->nodes[i].depth;
        i = mp_stacktree_next(f->t, i, !show);
    }
    return max + 1;
}

/* ---- document ---- */

static const char style[] =
    "text { font-family: Verdana, sans-serif; font-size: 12px; fill: #000; }\n"
    "#title { font-size: 17px; text-anchor: middle; }\n"
    "#subtitle, #subtitle2 { font-size: 12px; text-anchor: middle; fill: #444; }\n"
    ".btn { cursor: pointer; fill: #1a4f8a; }\n"
    ".btn:hover { text-decoration: underline; }\n"
    ".hide { display: none; }\n"
    "g.f { cursor: pointer; }\n"
    "g.f text { font-size: 11px; pointer-events: none; }\n"
    "g.f:hover rect { stroke: #000; stroke-width: 0.5; }\n"
    "g.f.parent { opacity: 0.5; }\n";

/* Reads the frames' data-* attributes; positions are recomputed from the
 * value offsets on zoom, so the laid-out SVG is the only data source. */
static const char script[] =
    "\"use strict\";\n"
    "var frames = [], total = 1, searching = null, zoomed = null;\n"
    "function $(id) { return document.getElementById(id); }\n"
    "function owner(el) { while (el && !el.fr) el = el.parentNode; return el ? el.fr : null; }\n"
    "function fmt(v) {\n"
    "  var u = CFG.bytes ? [\"B\", \"KiB\", \"MiB\", \"GiB\", \"TiB\"] : [\"ns\", \"us\", \"ms\", \"s\"];\n"
    "  var k = CFG.bytes ? 1024 : 1000, i = 0;\n"
    "  while (v >= k && i < u.length - 1) { v /= k; i++; }\n"
    "  return (i ? v.toFixed(1) : v) + \" \" + u[i];\n"
    "}\n"
    "function place(f, x, w) {\n"
    "  f.rect.setAttribute(\"x\", x.toFixed(2));\n"
    "  f.rect.setAttribute(\"width\", w.toFixed(2));\n"
    "  f.text.setAttribute(\"x\", (x + 3).toFixed(2));\n"
    "  var fit = Math.floor((w - 6) / CFG.charw), s = f.name;\n"
    "  if (fit < 3) s = \"\"; else if (s.length > fit) s = s.substring(0, fit - 2) + \"..\";\n"
    "  f.text.textContent = s;\n"
    "}\n"
    "function show(f, on, cls) {\n"
    "  f.g.style.display = on ? \"\" : \"none\";\n"
    "  f.g.setAttribute(\"class\", cls);\n"
    "}\n"
    "function zoom(z) {\n"
    "  var lo = z.o, span = z.v || 1, scale = CFG.w / span;\n"
    "  frames.forEach(function (f) {\n"
    "    var end = f.o + f.v;\n"
    "    if (f.d < z.d && f.o <= lo && end >= lo + span) {\n"
    "      place(f, CFG.xpad, CFG.w); show(f, true, \"f parent\");\n"
    "    } else if (f.d >= z.d && f.o >= lo && end <= lo + span && f.v * scale >= 0.1) {\n"
    "      place(f, CFG.xpad + (f.o - lo) * scale, f.v * scale); show(f, true, \"f\");\n"
    "    } else show(f, false, \"f\");\n"
    "  });\n"
    "  zoomed = z.d > 0 ? z : null;\n"
    "  $(\"unzoom\").setAttribute(\"class\", zoomed ? \"btn\" : \"btn hide\");\n"
    "}\n"
    "function unzoom() { if (frames.length) zoom(frames[0]); }\n"
    "function matcher(term) {\n"
    "  try { var re = new RegExp(term); return function (s) { return re.test(s); }; }\n"
    "  catch (e) { return function (s) { return s.indexOf(term) >= 0; }; }\n"
    "}\n"
    "function search(term) {\n"
    "  var test = matcher(term), spans = [], sum = 0, end = -1;\n"
    "  frames.forEach(function (f) {\n"
    "    var hit = f.d > 0 && test(f.name);\n"
    "    f.rect.setAttribute(\"fill\", hit ? \"rgb(230,0,230)\" : f.fill);\n"
    "    if (hit) spans.push([f.o, f.o + f.v]);\n"
    "  });\n"
    "  /* callees lie inside their callers: count the union of the spans */\n"
    "  spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });\n"
    "  spans.forEach(function (s) {\n"
    "    if (s[1] > end) { sum += s[1] - Math.max(s[0], end); end = s[1]; }\n"
    "  });\n"
    "  searching = term;\n"
    "  $(\"search\").textContent = \"Reset Search\";\n"
    "  $(\"matched\").textContent = \"Matched \" + JSON.stringify(term) + \": \" +\n"
    "    (100 * sum / total).toFixed(2) + \"% (\" + fmt(sum) + \" of \" + fmt(total) + \")\";\n"
    "}\n"
    "function resetSearch() {\n"
    "  frames.forEach(function (f) { f.rect.setAttribute(\"fill\", f.fill); });\n"
    "  searching = null;\n"
    "  $(\"search\").textContent = \"Search\";\n"
    "  $(\"matched\").textContent = \" \";\n"
    "}\n"
    "function askSearch() {\n"
    "  var term = prompt(\"Search frames (regular expression, or plain text)\", searching || \"\");\n"
    "  if (term === null) return;\n"
    "  if (term === \"\") resetSearch(); else search(term);\n"
    "}\n"
    "function init() {\n"
    "  var gs = $(\"frames\").getElementsByTagName(\"g\");\n"
    "  for (var i = 0; i < gs.length; i++) {\n"
    "    var g = gs[i], r = g.getElementsByTagName(\"rect\")[0];\n"
    "    var f = { g: g, rect: r, text: g.getElementsByTagName(\"text\")[0],\n"
    "      name: g.getAttribute(\"data-n\"), v: +g.getAttribute(\"data-v\"),\n"
    "      o: +g.getAttribute(\"data-o\"), d: +g.getAttribute(\"data-d\"),\n"
    "      fill: r.getAttribute(\"fill\"),\n"
    "      info: g.getElementsByTagName(\"title\")[0].textContent.replace(/\\n/g, \"  |  \") };\n"
    "    g.fr = f; frames.push(f);\n"
    "  }\n"
    "  if (frames.length) total = frames[0].v || 1;\n"
    "  var fr = $(\"frames\"), details = $(\"details\");\n"
    "  fr.addEventListener(\"mouseover\", function (e) {\n"
    "    var f = owner(e.target); if (f) details.textContent = f.info;\n"
    "  });\n"
    "  fr.addEventListener(\"mouseout\", function () { details.textContent = \" \"; });\n"
    "  fr.addEventListener(\"click\", function (e) { var f = owner(e.target); if (f) zoom(f); });\n"
    "  $(\"unzoom\").addEventListener(\"click\", unzoom);\n"
    "  $(\"search\").addEventListener(\"click\", function () {\n"
    "    if (searching !== null) resetSearch(); else askSearch();\n"
    "  });\n"
    "  window.addEventListener(\"keydown\", function (e) {\n"
    "    if ((e.ctrlKey || e.metaKey) && (e.key === \"f\" || e.key === \"F\")) {\n"
    "      e.preventDefault(); askSearch();\n"
    "    } else if (e.key === \"Escape\") { resetSearch(); unzoom(); }\n"
    "  });\n"
    "}\n"
    "init();\n";

/* mp_fmt_header's one line (program, pid, snapshot, time, sampling rate). */
static void write_header_line(FILE *out, const mp_snapshot *snap)
{
    char *line = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&line, &len);
    if (!m)
        return;
    mp_fmt_header(m, NULL, snap);
    fclose(m);
    if (len && line[len - 1] == '\n')
        line[len - 1] = '\0';
    esc(out, line);
    free(line);
}

static void write_titles(const flame *f, const mp_snapshot *old, const mp_snapshot *cur)
{
    FILE *out = f->out;
    char tot[32], d[40];
    const mp_stacktree_node *root = &f->t->nodes[0];
    fprintf(out, "<text id=\"title\" x=\"%d\" y=\"22\">%s%s</text>\n", IMG_W / 2,
            f->diff ? "Differential: " : "", titles[f->what]);
    fprintf(out, "<text id=\"subtitle\" x=\"%d\" y=\"40\">", IMG_W / 2);
    if (old) {
        fputs("old: ", out);
        write_header_line(out, old);
        fprintf(out, "</text>\n<text id=\"subtitle2\" x=\"%d\" y=\"56\">new: ", IMG_W / 2);
    }
    write_header_line(out, cur);
    fprintf(out, "; total %s", fmt_value(tot, f->what, root->total));
    if (f->diff)
        fprintf(out, " (%s); red grew, blue shrank",
                fmt_delta(d, f->what, root->total, root->old_total));
    fputs("</text>\n", out);
    fprintf(out, "<text id=\"unzoom\" class=\"btn hide\" x=\"%d\" y=\"22\">Reset Zoom</text>\n"
            "<text id=\"search\" class=\"btn\" x=\"%d\" y=\"22\" text-anchor=\"end\">Search</text>\n"
            "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n"
            "<text id=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"> </text>\n",
            XPAD, IMG_W - XPAD, XPAD, f->height - 20, IMG_W - XPAD, f->height - 5);
}

void mp_flame_svg_write(FILE *out, const mp_stacktree *t, mp_what what, const mp_snapshot *old,
                        const mp_snapshot *cur)
{
    flame fl = {.out = out, .t = t, .what = what, .diff = old != NULL};
    flame *f = &fl;
    uint64_t total = f->t->nodes[0].total;
    double w = IMG_W - 2 * XPAD;
    f->scale = total ? w / (double)total : 0;
    f->levels = total ? visible_levels(f) : 0;
    f->height = TOP + (int)f->levels * FRAME_H + BOTTOM;
    fprintf(f->out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
            "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\">\n<style type=\"text/css\"><![CDATA[\n%s"
            "]]></style>\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f4\"/>\n",
            IMG_W, f->height, IMG_W, f->height, style, IMG_W, f->height);
    write_titles(f, old, cur);
    if (total)
        write_frames(f);
    else
        fprintf(f->out, "<text x=\"%d\" y=\"%d\">no %s data in this snapshot</text>\n",
                XPAD, TOP + 12, mp_stacktree_what_name(f->what));
    fprintf(f->out, "<script type=\"text/ecmascript\"><![CDATA[\n"
            "var CFG = { w: %.2f, xpad: %d, charw: %.3f, bytes: %s };\n%s]]></script>\n</svg>\n",
            w, XPAD, CHAR_W, mp_stacktree_what_is_bytes(f->what) ? "true" : "false", script);
}
