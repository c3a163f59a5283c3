/*
 * flame_svg.c - a laid-out call tree as one self-contained interactive SVG
 * flame graph (inline style and script, nothing fetched), root at the
 * bottom, frames sized by value; `memprof flame` (cmd_flame.c) builds the
 * tree and calls it.
 *
 * Differential (old given): each frame is as wide as the larger of its old
 * and new value (widened to hold its callees), so what shrank to zero still
 * shows (with a dashed edge); it is coloured by how its inclusive value
 * changed since OLD - red grew, blue shrank, the largest absolute change of
 * any frame the deepest colour, as flamegraph.pl's difffolded and the html
 * page (analyzer/html/report.js) do.
 *
 * Callees narrower than MIN_PX are folded into one "(n small frames)" box
 * per caller, so a deep tail of slivers does not make the image tall
 * (flamelayout.c places and folds, as for the html page's trees).
 *
 * Frames are laid out here, so the file renders without JavaScript; the
 * script only adds hover details, click-to-zoom and search.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "flame_svg.h"
#include "flamelayout.h"
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
#define MIN_PX 3.0                /* narrower callees fold into one box */

typedef struct flame {
    FILE *out;
    const mp_stacktree *t;
    mp_what what;
    bool diff;
    double scale;       /* pixels per value unit */
    mp_flamelayout lay; /* widths, starts and folds, in value units */
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
    return mp_stacktree_what_is_bytes(what) ? mp_fmt_size(buf, v) : mp_fmt_ns(buf, v);
}

/* "+1.5 MiB", "-3.2 ms" */
static const char *fmt_delta(char buf[40], mp_what what, uint64_t now, uint64_t was)
{
    char v[32];
    if (mp_stacktree_what_is_bytes(what))
        return mp_fmt_bytes(buf, mp_fmt_delta(now, was), 1);
    snprintf(buf, 40, "%c%s", now >= was ? '+' : '-', mp_fmt_ns(v, now >= was ? now - was : was - now));
    return buf;
}


/* ---- colours ---- */

static double hash_unit(const char *s, uint64_t seed)
{
    return (double)(mp_hashmap_hash_str(s, seed) >> 11) / (double)(1ull << 53);
}

static void frame_color(const flame *f, const mp_stacktree_node *n, char buf[32])
{
    if (f->diff) {
        double rel = f->lay.max_delta ? ((double)n->total - (double)n->old_total)
                                        / (double)f->lay.max_delta : 0;
        int fade = (int)(235 - 200 * (rel < 0 ? -rel : rel) + 0.5);
        if (rel > 0)
            snprintf(buf, 32, "rgb(255,%d,%d)", fade, fade);
        else if (rel < 0)
            snprintf(buf, 32, "rgb(%d,%d,255)", fade, fade);
        else
            snprintf(buf, 32, "rgb(225,225,225)");
        return;
    }
    double a = hash_unit(n->name, 1), b = hash_unit(n->name, 2), c = hash_unit(n->name, 3);
    if (strcmp(n->name, "??") == 0 || n->name[0] == '[')
        snprintf(buf, 32, "rgb(200,200,200)");
    else if (mp_stacktree_what_is_locks(f->what))   /* flamegraph.pl "hot" */
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
            n->count, mp_stacktree_what_info(f->what)->count_word,
            root->total ? 100.0 * (double)n->total / (double)root->total : 0.0);
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

/* data-l: the frame's file:line, which search matches as well as the name. */
static void write_loc_attr(FILE *out, const mp_stacktree_node *n)
{
    if (!n->file)
        return;
    fputs(" data-l=\"", out);
    esc(out, n->file);
    if (n->line > 0)
        fprintf(out, ":%d", n->line);
    fputc('"', out);
}

static int frame_y(const flame *f, uint32_t depth)
{
    return f->height - BOTTOM - (int)(depth + 1) * FRAME_H;
}

static void write_box(const flame *f, uint64_t off, uint64_t width, int y, const char *fill,
                      const char *cls, const char *label)
{
    double x = XPAD + (double)off * f->scale, w = (double)width * f->scale;
    fprintf(f->out, "</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
            "fill=\"%s\" rx=\"2\" ry=\"2\"%s/><text x=\"%.2f\" y=\"%d\">",
            x, y, w, FRAME_H - 1, fill, cls, x + 3, y + FRAME_H - 5);
    write_label(f->out, label, w);
    fputs("</text></g>\n", f->out);
}

static void write_frame(const flame *f, uint32_t i)
{
    const mp_stacktree_node *n = &f->t->nodes[i];
    char fill[32];
    frame_color(f, n, fill);
    bool gone = f->diff && n->total == 0 && n->old_total > 0;
    fprintf(f->out, "<g class=\"f%s\" data-n=\"", gone ? " gone" : "");
    esc(f->out, n->name);
    fprintf(f->out, "\" data-v=\"%" PRIu64 "\" data-o=\"%" PRIu64 "\" data-d=\"%u\"",
            f->lay.w[i], f->lay.x[i], n->depth);
    write_loc_attr(f->out, n);
    fputs("><title>", f->out);
    write_tooltip(f, n);
    write_box(f, f->lay.x[i], f->lay.w[i], frame_y(f, n->depth), fill,
              gone ? " stroke=\"#3050c0\" stroke-dasharray=\"3,2\"" : "", n->name);
}

/* One box for the callees of p narrower than MIN_PX (and all below them). */
static void write_fold(const flame *f, uint32_t p, const mp_flamefold *fold)
{
    char label[48], v[32];
    snprintf(label, sizeof(label), "(%u small frame%s)", fold->n, fold->n == 1 ? "" : "s");
    uint32_t d = f->t->nodes[p].depth + 1;
    fprintf(f->out, "<g class=\"f fold\" data-n=\"%s\" data-v=\"%" PRIu64 "\" data-o=\"%"
            PRIu64 "\" data-d=\"%u\"><title>%s\n%u callees of ", label, fold->width, fold->x, d,
            label, fold->n);
    esc(f->out, f->t->nodes[p].name);
    fprintf(f->out, " narrower than %.0f px, with their callees: %s%s\n"
            "memprof folded and memprof pprof list them", MIN_PX,
            fmt_value(v, f->what, fold->total), f->diff ? " now" : "");
    write_box(f, fold->x, fold->width, frame_y(f, d), "rgb(233,235,239)", "", label);
}

/* A fold box is drawn only when it would be visible at all (0.5 px). */
static bool visible_fold(const flame *f, uint32_t p, mp_flamefold *fold)
{
    return mp_flamelayout_fold(&f->lay, p, fold) && (double)fold->width * f->scale >= 0.5;
}

/* Pre-order over the wide frames; `emit` draws them (and the fold boxes),
 * otherwise only the depth is measured. Returns the deepest level used. */
static uint32_t walk_frames(const flame *f, bool emit)
{
    uint32_t max = 0;
    for (uint32_t i = 0; i != MP_STACKTREE_NONE;) {
        bool show = mp_flamelayout_wide(&f->lay, i);
        if (show) {
            uint32_t d = f->t->nodes[i].depth;
            mp_flamefold fold;
            if (emit)
                write_frame(f, i);
            if (visible_fold(f, i, &fold)) {
                d++;
                if (emit)
                    write_fold(f, i, &fold);
            }
            if (d > max)
                max = d;
        }
        i = mp_stacktree_next(f->t, i, !show);
    }
    return max;
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
    "var frames = [], total = 0, searching = null, zoomed = null;\n"
    "function $(id) { return document.getElementById(id); }\n"
    "function owner(el) { while (el && !el.fr) el = el.parentNode; return el ? el.fr : null; }\n"
    /* fmt.c's mp_fmt_bytes and mp_fmt_ns, so the search line and the
     * tooltips written in C round a value alike */
    "function pad2(n) { return (n < 10 ? \"0\" : \"\") + n; }\n"
    "function fmt(v) {\n"
    "  if (CFG.bytes) {\n"
    "    var u = [\"B\", \"KiB\", \"MiB\", \"GiB\", \"TiB\", \"PiB\", \"EiB\"], i = 0, d = v;\n"
    "    while (d >= 1024 && i < 6) { d /= 1024; i++; }\n"
    "    return i ? d.toFixed(1) + \" \" + u[i] : v + \" B\";\n"
    "  }\n"
    "  if (v < 1e3) return v + \" ns\";\n"
    "  if (v < 1e6) return (v / 1e3).toFixed(1) + \" us\";\n"
    "  if (v < 1e9) return (v / 1e6).toFixed(1) + \" ms\";\n"
    "  if (v < 6e10) return (v / 1e9).toFixed(2) + \" s\";\n"
    "  if (v < 3.6e12) return Math.floor(v / 6e10) + \"m\" + pad2(Math.floor(v / 1e9) % 60) + \"s\";\n"
    "  return Math.floor(v / 3.6e12) + \"h\" + pad2(Math.floor(v / 6e10) % 60) + \"m\";\n"
    "}\n"
    "function place(f, x, w) {\n"
    "  f.rect.setAttribute(\"x\", x.toFixed(2));\n"
    "  f.rect.setAttribute(\"width\", w.toFixed(2));\n"
    "  f.text.setAttribute(\"x\", (x + 3).toFixed(2));\n"
    "  var fit = Math.floor((w - 6) / CFG.charw), s = f.name;\n"
    "  if (fit < 3) s = \"\"; else if (s.length > fit) s = s.substring(0, fit - 2) + \"..\";\n"
    "  f.text.textContent = s;\n"
    "}\n"
    "function show(f, on, parent) {\n"
    "  f.g.style.display = on ? \"\" : \"none\";\n"
    "  f.g.setAttribute(\"class\", f.cls + (parent ? \" parent\" : \"\"));\n"
    "}\n"
    "function zoom(z) {\n"
    "  var lo = z.o, span = z.v || 1, scale = CFG.w / span;\n"
    "  frames.forEach(function (f) {\n"
    "    var end = f.o + f.v;\n"
    "    if (f.d < z.d && f.o <= lo && end >= lo + span) {\n"
    "      place(f, CFG.xpad, CFG.w); show(f, true, true);\n"
    "    } else if (f.d >= z.d && f.o >= lo && end <= lo + span && f.v * scale >= 0.1) {\n"
    "      place(f, CFG.xpad + (f.o - lo) * scale, f.v * scale); show(f, true, false);\n"
    "    } else show(f, false, false);\n"
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
    "    var hit = f.d > 0 && !f.fold && (test(f.name) || (f.loc !== null &&\n"
    "      (test(f.loc) || test(f.loc.replace(/^.*\\//, \"\")))));\n"
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
    "    (total ? 100 * sum / total : 0).toFixed(2) + \"% (\" + fmt(sum) + \" of \" + fmt(total) + \")\";\n"
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
    "      name: g.getAttribute(\"data-n\"), loc: g.getAttribute(\"data-l\"),\n"
    "      v: +g.getAttribute(\"data-v\"), cls: g.getAttribute(\"class\"),\n"
    "      fold: / fold/.test(g.getAttribute(\"class\")),\n"
    "      o: +g.getAttribute(\"data-o\"), d: +g.getAttribute(\"data-d\"),\n"
    "      fill: r.getAttribute(\"fill\"),\n"
    "      info: g.getElementsByTagName(\"title\")[0].textContent.replace(/\\n/g, \"  |  \") };\n"
    "    g.fr = f; frames.push(f);\n"
    "  }\n"
    "  if (frames.length) total = frames[0].v;\n"
    "  var fr = $(\"frames\"), details = $(\"details\");\n"
    "  fr.addEventListener(\"mouseover\", function (e) {\n"
    "    var f = owner(e.target); if (f) details.textContent = f.info;\n"
    "  });\n"
    "  fr.addEventListener(\"mouseout\", function () { details.textContent = \" \"; });\n"
    "  fr.addEventListener(\"click\", function (e) {\n"
    "    var f = owner(e.target); if (f && !f.fold) zoom(f);\n"
    "  });\n"
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
            f->diff ? "Differential: " : "", mp_stacktree_what_info(f->what)->title);
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
    mp_flamelayout_init(&f->lay, t, f->diff);
    uint64_t total = f->lay.w[0];
    double w = IMG_W - 2 * XPAD;
    f->scale = total ? w / (double)total : 0;
    mp_flamelayout_place(&f->lay, total ? MIN_PX / f->scale : 0);
    f->levels = total ? walk_frames(f, false) + 1 : 1;
    f->height = TOP + (int)f->levels * FRAME_H + BOTTOM;
    fprintf(f->out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
            "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\">\n<style type=\"text/css\"><![CDATA[\n%s"
            "]]></style>\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f4\"/>\n",
            IMG_W, f->height, IMG_W, f->height, style, IMG_W, f->height);
    write_titles(f, old, cur);
    /* The frames group is always there, so the script works on an empty
     * graph too (the exit snapshot of a program that freed everything). */
    fputs("<g id=\"frames\">\n", f->out);
    if (total)
        walk_frames(f, true);
    fputs("</g>\n", f->out);
    if (!total)
        fprintf(f->out, "<text id=\"nodata\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">"
                "No data: %s no %s</text>\n", IMG_W / 2, TOP + 12,
                f->diff ? "neither snapshot holds" : "this snapshot holds",
                mp_stacktree_what_info(f->what)->nodata);
    fprintf(f->out, "<script type=\"text/ecmascript\"><![CDATA[\n"
            "var CFG = { w: %.2f, xpad: %d, charw: %.3f, bytes: %s };\n%s]]></script>\n</svg>\n",
            w, XPAD, CHAR_W, mp_stacktree_what_is_bytes(f->what) ? "true" : "false", script);
    mp_flamelayout_free(&f->lay);
}
