/*
 * cmd_html.c - `memprof html FILE... [-o OUT.html] [--top N] [--lines]`: one
 * self-contained HTML page (inline script and style, nothing fetched, works
 * from a file:// URL) with the summary, heap over time, growth ranking,
 * flame graphs and locks of the given snapshots (SPEC "Commands").
 *
 * Every input file is loaded and validated before the output is opened, so
 * bad input (exit 2) never leaves a half-written page behind.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "html.h"
#include "html_template.h"   /* generated: mp_html_template[] */
#include "util.h"

#define DATA_MARK "@MEMPROF_DATA@"

/* JSON into a <script> element: see cmd_html_page in html.h. */
static void write_embedded_json(FILE *out, const char *json, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = json[i];
        if (c == '<')
            fputs("\\u003c", out);
        else if (c == '>')
            fputs("\\u003e", out);
        else if (c == '&')
            fputs("\\u0026", out);
        else
            putc(c, out);
    }
}

void cmd_html_page(FILE *out, const char *json, size_t len)
{
    const char *page = (const char *)mp_html_template;
    const char *mark = strstr(page, DATA_MARK);   /* embed.cmake checks it is there */
    fwrite(page, 1, (size_t)(mark - page), out);
    write_embedded_json(out, json, len);
    fputs(mark + strlen(DATA_MARK), out);
}

/* The model, built in memory first: nothing is written on a failure. */
static char *build_model(const mp_opts *o, size_t *len)
{
    mp_html_input in = {.nf = o->n_files, .paths = o->files, .top = o->top,
                        .lines = o->lines != 0};
    in.snaps = mp_xcalloc(in.nf, sizeof(mp_snapshot));
    in.sites = mp_xcalloc(in.nf, sizeof(mp_sites));
    for (size_t f = 0; f < in.nf; f++)
        mp_snapshot_load_or_die(o->files[f], &in.snaps[f]);
    in.sym = mp_symbolizer_new();
    for (size_t f = 0; f < in.nf; f++)
        mp_sites_build(&in.sites[f], in.sym, &in.snaps[f]);
    char *json = NULL;
    FILE *m = open_memstream(&json, len);
    if (!m) {
        mp_error("out of memory");
        exit(MP_EXIT_BADINPUT);
    }
    mp_html_model(m, &in);
    if (fclose(m) != 0) {
        mp_error("out of memory");
        exit(MP_EXIT_BADINPUT);
    }
    for (size_t f = 0; f < in.nf; f++) {
        mp_sites_free(&in.sites[f]);
        mp_snapshot_free(&in.snaps[f]);
    }
    mp_symbolizer_free(in.sym);
    free(in.sites);
    free(in.snaps);
    return json;
}

int cmd_html_main(const mp_opts *o)
{
    size_t len = 0;
    char *json = build_model(o, &len);
    int rc = MP_EXIT_USAGE;
    FILE *out = mp_opts_open_out(o);   /* only now: bad input writes nothing */
    if (out) {
        cmd_html_page(out, json, len);
        rc = mp_opts_close_out(o, out);
    }
    free(json);
    return rc;
}
