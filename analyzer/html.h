/*
 * html.h - `memprof html`: the page's data model (html_model.c), the page
 * writer (cmd_html.c), and what they borrow from the other commands' files
 * so that the page shows exactly what `memprof diff --json` and
 * `memprof locks --json` compute.
 *
 * The page is a template (analyzer/html/report.{html,css,js}, embedded at
 * build time by analyzer/html/embed.cmake) plus one JSON document, the data
 * model, in a <script type="application/json"> element. All rendering is
 * done by the page's script; the C side never formats a value for display.
 */
#ifndef MEMPROF_HTML_H
#define MEMPROF_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "analyzer.h"
#include "locktab.h"
#include "sites.h"

/* What the model is built from: files in the order given, all loaded and
 * with their sites built by one symbolizer. */
typedef struct mp_html_input {
    size_t nf;
    char **paths;
    mp_snapshot *snaps;
    mp_sites *sites;
    mp_symbolizer *sym;
    size_t top;                  /* growth sites and locks listed; 0 = all */
    bool lines;                  /* --lines: flame graph frames per function and line */
} mp_html_input;

/* Writes the data model (one JSON object; see report.js for its keys). */
void mp_html_model(FILE *out, const mp_html_input *in);

/*
 * cmd_html.c: writes the whole page: the template with the JSON document `json` (len
 * bytes) embedded. '<', '>' and '&' in the JSON become \u003c, \u003e and
 * \u0026, which JSON.parse reads back unchanged, so no string from a
 * snapshot (a program or function name holding "</script>") can end the
 * data element or open markup.
 */
void cmd_html_page(FILE *out, const char *json, size_t len);

/* cmd_diff.c: the `diff --json` document of loaded snapshots, into out. */
void cmd_diff_json(FILE *out, mp_snapshot *snaps, mp_sites *sites, size_t nf, char **paths,
                  size_t top);
/* cmd_locks.c: one lock object as `locks --json` lists it. */
void cmd_locks_json_lock(FILE *out, const mp_lockrec *r, size_t rank);

#endif
