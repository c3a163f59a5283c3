/*
 * cmd_diff.c - `memprof diff OLD NEW [MORE...] [--top N] [--json] [--fail-over BYTES]`:
 * sites ranked by live-heap growth from the first file to the last.
 *
 * Sites are matched across files by symbolic key (sites.h), so snapshots of
 * different runs, pids or ASLR layouts line up. Files are taken in the order
 * given: the user says which is old, we never sort by time.
 *
 * Noise: with sampling, a site's live bytes are an estimate. Each sample of a
 * small object stands for about sample_bytes bytes and the sample count is
 * roughly Poisson, so an estimate from n samples is off by about
 * sqrt(n) * sample_bytes (one sigma). The delta's 95% bound adds the first
 * and last file's variances: 1.96 * sqrt(n1*B1^2 + n2*B2^2). It is
 * conservative (the two snapshots share the objects that survived) and
 * exactly 0 when both files record every allocation (sample_bytes 1).
 */
#include "cmd.h"
#include "fmt.h"
#include "frameview.h"
#include "keymap.h"
#include "sites.h"
#include "util.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


/* One site across all files; the per-file arrays have nf entries. */
typedef struct drow {
    const char *key;
    const mp_symstack *stack;     /* from the newest file holding the site */
    uint64_t *bytes, *count, *samples;
    int64_t bytes_delta, count_delta;
    uint64_t err;                 /* 95% bound on bytes_delta, bytes */
    int grew;                     /* grew in every interval */
} drow;

typedef struct dtable {
    size_t nf;                    /* files */
    mp_snapshot *snaps;
    mp_sites *sites;              /* per file */
    drow *rows;
    size_t n;
    uint64_t *cells;              /* 3 * n * nf, backing the row arrays */
    int callers;                  /* text: caller frames under each site (--frames - 1) */
} dtable;

static int64_t delta(uint64_t newer, uint64_t older)
{
    return mp_fmt_delta(newer, older);
}

static double variance(const mp_snapshot *snap, uint64_t samples)
{
    double b = snap->meta->sample_bytes > 1 ? (double)snap->meta->sample_bytes : 0;
    return (double)samples * b * b;
}

static uint64_t err95(const dtable *t, uint64_t first_samples, uint64_t last_samples)
{
    double v = variance(&t->snaps[0], first_samples) +
               variance(&t->snaps[t->nf - 1], last_samples);
    return (uint64_t)llround(1.96 * sqrt(v));
}

/* Union of all files' site keys -> one row each, series filled in. */
static void build_rows(dtable *t)
{
    mp_keymap *map = mp_keymap_new();
    t->n = 0;
    for (size_t f = t->nf; f-- > 0;)  /* newest first: its stack names the row */
        for (size_t i = 0; i < t->sites[f].n; i++)
            if (mp_keymap_put(map, 0, t->sites[f].v[i].key, t->n) == t->n)
                t->n++;
    t->rows = mp_xcalloc(t->n, sizeof(drow));
    t->cells = mp_xcalloc(3 * t->n * t->nf, sizeof(uint64_t));
    for (size_t f = t->nf; f-- > 0;) {
        for (size_t i = 0; i < t->sites[f].n; i++) {
            const mp_site *s = &t->sites[f].v[i];
            drow *r = &t->rows[mp_keymap_get(map, 0, s->key)];
            if (!r->bytes) {
                size_t base = 3 * (size_t)(r - t->rows) * t->nf;
                r->key = s->key;
                r->bytes = t->cells + base;
                r->count = r->bytes + t->nf;
                r->samples = r->count + t->nf;
            }
            if (!r->stack)
                r->stack = s->stack;
            r->bytes[f] = s->live_bytes;
            r->count[f] = s->live_count;
            r->samples[f] = s->live_samples;
        }
    }
    mp_keymap_free(map);
}

static void finish_row(const dtable *t, drow *r)
{
    size_t last = t->nf - 1;
    r->bytes_delta = delta(r->bytes[last], r->bytes[0]);
    r->count_delta = delta(r->count[last], r->count[0]);
    r->err = err95(t, r->samples[0], r->samples[last]);
    r->grew = 1;
    for (size_t f = 0; f < last; f++)
        if (r->bytes[f + 1] <= r->bytes[f])
            r->grew = 0;
}

static int cmp_row(const void *a, const void *b)
{
    const drow *x = a, *y = b;
    if (x->bytes_delta != y->bytes_delta)
        return x->bytes_delta > y->bytes_delta ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* Rows with live data in at least one file, ranked; returns how many. */
static size_t rank_rows(dtable *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        drow *r = &t->rows[i];
        int live = 0;
        for (size_t f = 0; f < t->nf; f++)
            live |= r->bytes[f] || r->count[f];
        if (!live)
            continue;    /* only cumulative allocations: not live heap */
        finish_row(t, r);
        t->rows[n++] = *r;
    }
    if (n)
        qsort(t->rows, n, sizeof(drow), cmp_row);
    return n;
}

/* ---- output ---- */

static void json_u64s(FILE *out, const char *name, const uint64_t *v, size_t n)
{
    fprintf(out, ", \"%s\": [", name);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%" PRIu64, i ? ", " : "", v[i]);
    fputc(']', out);
}

static void print_json(FILE *out, const dtable *t, char **paths, size_t shown, int64_t tb,
                       int64_t tc, uint64_t terr)
{
    size_t last = t->nf - 1;
    fputs("{\"old\": ", out);
    mp_json_string(out, paths[0]);
    fputs(", \"new\": ", out);
    mp_json_string(out, paths[last]);
    fputs(",\n \"files\": [", out);
    for (size_t f = 0; f < t->nf; f++) {
        fputs(f ? ",\n  {\"file\": " : "\n  {\"file\": ", out);
        mp_json_string(out, paths[f]);
        fputs(", ", out);
        mp_fmt_json_meta(out, &t->snaps[f]);
        fprintf(out, ", \"bytes\": %" PRIu64 ", \"count\": %" PRIu64 "}",
                t->sites[f].total.live_bytes, t->sites[f].total.live_count);
    }
    fprintf(out, "],\n \"total\": {\"bytes_delta\": %" PRId64 ", \"count_delta\": %" PRId64
            ", \"bytes\": %" PRIu64 ", \"error_bytes\": %" PRIu64 "},\n \"sites\": [",
            tb, tc, t->sites[last].total.live_bytes, terr);
    for (size_t i = 0; i < shown; i++) {
        const drow *r = &t->rows[i];
        fprintf(out, "%s\n  {\"rank\": %zu, \"bytes_delta\": %" PRId64 ", \"count_delta\": %" PRId64
                ", \"bytes\": %" PRIu64 ", \"count\": %" PRIu64 ", \"grew_every_interval\": %s"
                ", \"samples\": %" PRIu64 ", \"error_bytes\": %" PRIu64,
                i ? "," : "", i + 1, r->bytes_delta, r->count_delta, r->bytes[last],
                r->count[last], r->grew ? "true" : "false", r->samples[last], r->err);
        json_u64s(out, "series", r->bytes, t->nf);
        json_u64s(out, "count_series", r->count, t->nf);
        json_u64s(out, "samples_series", r->samples, t->nf);
        /* frames keeps every frame; site_frame is the one the text names
         * the site by, past allocator wrappers (zmalloc, g_malloc...) */
        fprintf(out, ", \"site_frame\": %zu, \"frames\": ", mp_frameview_first(r->stack));
        mp_fmt_json_frames(out, r->stack);
        fputc('}', out);
    }
    fputs("]}\n", out);
}

/* "1.0M 5.0M 11M" into buf (nf * 16 bytes). */
static void series_text(const dtable *t, const drow *r, char *buf)
{
    char b[16];
    buf[0] = '\0';
    for (size_t f = 0; f < t->nf; f++) {
        if (f)
            strcat(buf, " ");
        strcat(buf, mp_fmt_size_short(b, r->bytes[f]));
    }
}

static void print_files(const dtable *t, char **paths)
{
    const mp_snapshot *a = &t->snaps[0], *z = &t->snaps[t->nf - 1];
    char b[32];
    fprintf(stdout, "memprof diff: %zu snapshots, growth from the first to the last", t->nf);
    if (a->meta->pid == z->meta->pid && z->meta->time_ns >= a->meta->time_ns)
        fprintf(stdout, " (%s apart)", mp_fmt_ns(b, z->meta->time_ns - a->meta->time_ns));
    fputc('\n', stdout);
    for (size_t f = 0; f < t->nf; f++) {
        fprintf(stdout, "  [%zu] ", f + 1);
        mp_put_text(stdout, paths[f]);
        fputs(": ", stdout);
        mp_fmt_header(stdout, NULL, &t->snaps[f]);
    }
    mp_fmt_counters(stdout, z);
    if (a->meta->pid != z->meta->pid)
        mp_fmt_counters(stdout, a);
}

static void print_text(const dtable *t, char **paths, size_t shown, int64_t tb, int64_t tc,
                       uint64_t terr)
{
    FILE *out = stdout;
    size_t last = t->nf - 1;
    char b[32], e[40], b2[32];
    int noisy = terr > 0;
    print_files(t, paths);
    fprintf(out, "total growth: %s (%+" PRId64 " objects), %s -> %s live",
            mp_fmt_bytes(b, tb, 1), tc, mp_fmt_size(e, t->sites[0].total.live_bytes),
            mp_fmt_size(b2, t->sites[last].total.live_bytes));
    if (noisy)
        fprintf(out, ", +/- %s (95%%, sampling)", mp_fmt_size(b, terr));
    fputc('\n', out);
    if (!shown) {
        fputs("no live heap in these snapshots\n", out);
        return;
    }
    char *series = mp_xmalloc(t->nf * 16 + 1);
    int sw = 6;
    for (size_t i = 0; i < shown; i++) {
        series_text(t, &t->rows[i], series);
        if ((int)strlen(series) > sw)
            sw = (int)strlen(series);
    }
    int ew = noisy ? 14 : 0;
    fprintf(out, "%5s  %12s %*s  %-*s  %s\n", "rank", "growth", ew, noisy ? "95% error" : "",
            sw, "series", "site");
    int grew_any = 0;
    for (size_t i = 0; i < shown; i++) {
        const drow *r = &t->rows[i];
        series_text(t, r, series);
        grew_any |= r->grew;
        if (noisy)
            snprintf(e, sizeof(e), "+/-%s", mp_fmt_size(b2, r->err));
        fprintf(out, "%4zu%c  %12s %*s  %-*s  ", i + 1, r->grew ? '*' : ' ',
                mp_fmt_bytes(b, r->bytes_delta, 1), ew, noisy ? e : "", sw, series);
        mp_fmt_stack(out, r->stack, t->callers, 5 + 2 + 12 + 1 + ew + 2 + sw + 2);
    }
    if (grew_any)
        fputs("* grew in every interval\n", out);
    mp_frameview_note(out);
    mp_fmt_unnamed_note(out);
    free(series);
}

/* ---- command ---- */

static void load_all(dtable *t, char **paths, mp_symbolizer *sym)
{
    t->snaps = mp_xcalloc(t->nf, sizeof(mp_snapshot));
    t->sites = mp_xcalloc(t->nf, sizeof(mp_sites));
    for (size_t f = 0; f < t->nf; f++)
        mp_snapshot_load_or_die(paths[f], &t->snaps[f]);
    for (size_t f = 0; f < t->nf; f++)
        mp_sites_build(&t->sites[f], sym, &t->snaps[f]);
}

static void free_all(dtable *t)
{
    for (size_t f = 0; f < t->nf; f++) {
        mp_sites_free(&t->sites[f]);
        mp_snapshot_free(&t->snaps[f]);
    }
    free(t->sites);
    free(t->snaps);
    free(t->rows);
    free(t->cells);
}

/* One "memprof: warning: " line: each %s (a file name) or %N (a program
   name, from the snapshot) prints the next argument escaped. */
static void warn_line(const char *fmt, const char *const *args)
{
    fputs("memprof: warning: ", stderr);
    for (const char *c = fmt; *c; c++) {
        if (c[0] == '%' && (c[1] == 's' || c[1] == 'N'))
            mp_put_text(stderr, *args++), c++;
        else
            fputc(*c, stderr);
    }
    fputc('\n', stderr);
}

/* Files are compared in the order given, whatever they are; but some
 * inputs are almost certainly mistakes worth a line on stderr: snapshots
 * of one process given newest first, snapshots of different programs, and
 * snapshots of two different processes of one program (a restart, or two
 * workers), whose difference is not growth. */
static void warn_odd_order(const dtable *t, char **paths)
{
    size_t other_processes = 0;   /* pairs after the first one warned of */
    for (size_t f = 1; f < t->nf; f++) {
        const mp_meta *p = t->snaps[f - 1].meta, *q = t->snaps[f].meta;
        const char *pp = mp_snapshot_str(&t->snaps[f - 1], p->prog);
        const char *qp = mp_snapshot_str(&t->snaps[f], q->prog);
        char ppid[24], qpid[24];
        snprintf(ppid, sizeof(ppid), "%" PRIu64, p->pid);
        snprintf(qpid, sizeof(qpid), "%" PRIu64, q->pid);
        bool same_process = p->pid == q->pid && p->start_time_ns == q->start_time_ns;
        if (same_process && q->seq == p->seq && q->time_ns == p->time_ns)
            warn_line("%s and %s are the same snapshot: no growth can show",
                      (const char *[]){paths[f - 1], paths[f]});
        else if (same_process && q->seq < p->seq)
            warn_line("%s was taken before %s, yet comes after it: files are compared in "
                      "the order given", (const char *[]){paths[f], paths[f - 1]});
        if (strcmp(pp, qp) != 0)
            warn_line("%s is a snapshot of '%N', %s of '%N'",
                      (const char *[]){paths[f - 1], pp, paths[f], qp});
        else if (!same_process && other_processes++ == 0)
            warn_line("%s and %s are snapshots of two different processes of '%N' (pid %s "
                      "and pid %s): the difference is not growth of one process",
                      (const char *[]){paths[f - 1], paths[f], pp, ppid, qpid});
    }
    if (other_processes > 1) {   /* every worker of a server: one line more, not one each */
        char more[24];
        snprintf(more, sizeof(more), "%zu", other_processes - 1);
        warn_line("and %s more pairs of consecutive files are of different processes",
                  (const char *[]){more});
    }
}

int cmd_diff_main(const mp_opts *o)
{
    if (mp_frameview_init(o->skip) != 0)
        return MP_EXIT_USAGE;
    dtable t = {.nf = o->n_files, .callers = (int)o->frames - 1};
    mp_symbolizer *sym = mp_symbolizer_new();
    load_all(&t, o->files, sym);
    warn_odd_order(&t, o->files);
    build_rows(&t);
    size_t n = rank_rows(&t);
    size_t shown = mp_opts_limit(o, n);

    const mp_sites *first = &t.sites[0], *last = &t.sites[t.nf - 1];
    int64_t tb = delta(last->total.live_bytes, first->total.live_bytes);
    int64_t tc = delta(last->total.live_count, first->total.live_count);
    uint64_t terr = err95(&t, first->total.live_samples, last->total.live_samples);
    if (o->json)
        print_json(stdout, &t, o->files, shown, tb, tc, terr);
    else
        print_text(&t, o->files, shown, tb, tc, terr);
    int rc = mp_opts_close_out(o, stdout);   /* a full disk is no success */
    if ((o->given & MP_OPT_FAIL_OVER) && tb > 0 && (uint64_t)tb > o->fail_over) {
        char b1[32], b2[32];
        mp_error("diff: live heap grew by %s (%" PRId64 " bytes), over --fail-over %s",
                 mp_fmt_bytes(b1, tb, 1), tb, mp_fmt_size(b2, o->fail_over));
        rc = MP_EXIT_GATE;
    }
    free_all(&t);
    mp_symbolizer_free(sym);
    return rc;
}

/* memprof html: the `diff --json` document of snapshots the caller loaded
 * (and built sites for), written to out; the snapshots stay the caller's. */
void cmd_diff_json(FILE *out, mp_snapshot *snaps, mp_sites *sites, size_t nf, char **paths,
                  size_t top)
{
    dtable t = {.nf = nf, .snaps = snaps, .sites = sites};
    warn_odd_order(&t, paths);
    build_rows(&t);
    size_t n = rank_rows(&t);
    const mp_sites *first = &sites[0], *last = &sites[nf - 1];
    print_json(out, &t, paths, top == 0 || top > n ? n : top,
               delta(last->total.live_bytes, first->total.live_bytes),
               delta(last->total.live_count, first->total.live_count),
               err95(&t, first->total.live_samples, last->total.live_samples));
    free(t.rows);
    free(t.cells);
}
