/*
 * cmd_html.c - `memprof html FILE... [-o OUT.html] [--top N]`: one
 * self-contained HTML page (inline script and style, nothing fetched, works
 * from a file:// URL) with the summary, heap over time, growth ranking,
 * flame graphs and locks of the given snapshots (SPEC "Commands").
 *
 * Every input file is loaded and validated before the output is opened, so
 * bad input (exit 2) never leaves a half-written page behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "html_template.h"   /* generated: mp_html_template[] */
#include "util.h"

#define USAGE "memprof html FILE... [-o OUT.html] [--top N]"
#define DATA_MARK "@MEMPROF_DATA@"

typedef struct html_args {
    char **files;
    size_t n_files;
    const char *out;          /* NULL or "-": standard output */
    size_t top;
} html_args;

static int parse_args(int argc, char **argv, html_args *a)
{
    memset(a, 0, sizeof(*a));
    a->top = 20;
    a->files = mp_xcalloc((size_t)argc, sizeof(char *));
    int opts = 1;
    for (int i = 1; i < argc; i++) {
        const char *v;
        uint64_t n;
        if (!opts || argv[i][0] != '-' || argv[i][1] == '\0') {
            a->files[a->n_files++] = argv[i];
        } else if (strcmp(argv[i], "--") == 0) {
            opts = 0;
        } else if (mp_rep_opt_value(argc, argv, &i, "-o", &v) ||
                   mp_rep_opt_value(argc, argv, &i, "--output", &v)) {
            if (!v) {
                mp_error("html: -o needs a file name; usage: %s", USAGE);
                return -1;
            }
            a->out = v;
        } else if (mp_rep_opt_value(argc, argv, &i, "--top", &v)) {
            if (mp_rep_parse_u64(v, &n, 0) < 0) {
                mp_error("html: --top needs a number, not '%s'; usage: %s", v ? v : "", USAGE);
                return -1;
            }
            a->top = (size_t)n;
        } else {
            mp_error("html: unknown option '%s'; usage: %s", argv[i], USAGE);
            return -1;
        }
    }
    if (a->n_files == 0) {
        mp_error("html: missing snapshot file; usage: %s", USAGE);
        return -1;
    }
    return 0;
}

/* JSON into a <script> element: see mp_html_page in html.h. */
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

void mp_html_page(FILE *out, const char *json, size_t len)
{
    const char *page = (const char *)mp_html_template;
    const char *mark = strstr(page, DATA_MARK);   /* embed.cmake checks it is there */
    fwrite(page, 1, (size_t)(mark - page), out);
    write_embedded_json(out, json, len);
    fputs(mark + strlen(DATA_MARK), out);
}

/* The model, built in memory first: nothing is written on a failure. */
static char *build_model(const html_args *a, size_t *len)
{
    mp_html_input in = {.nf = a->n_files, .paths = a->files, .top = a->top};
    in.snaps = mp_xcalloc(in.nf, sizeof(mp_snapshot));
    in.sites = mp_xcalloc(in.nf, sizeof(mp_sites));
    for (size_t f = 0; f < in.nf; f++)
        mp_snapshot_load_or_die(a->files[f], &in.snaps[f]);
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

static int write_page(const char *path, const char *json, size_t len)
{
    int to_stdout = !path || strcmp(path, "-") == 0;
    FILE *out = to_stdout ? stdout : fopen(path, "w");
    if (!out) {
        mp_error("html: %s: %s", path, strerror(errno));
        return MP_EXIT_USAGE;
    }
    mp_html_page(out, json, len);
    int failed = ferror(out) != 0;
    failed |= to_stdout ? fflush(out) != 0 : fclose(out) != 0;
    if (failed) {
        mp_error("html: %s: write failed", to_stdout ? "standard output" : path);
        return MP_EXIT_USAGE;
    }
    return MP_EXIT_OK;
}

int cmd_html(int argc, char **argv)
{
    html_args a;
    if (parse_args(argc, argv, &a) < 0) {
        free(a.files);
        return MP_EXIT_USAGE;
    }
    size_t len = 0;
    char *json = build_model(&a, &len);
    int rc = write_page(a.out, json, len);
    free(json);
    free(a.files);
    return rc;
}
