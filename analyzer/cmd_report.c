/*
 * cmd_report.c - `memprof report FILE [MORE...] [--what heap|peak|alloc|
 * temporary] [--top N] [--frames N] [--json]`: one snapshot's sites ranked
 * by live heap, by the live heap at the peak, by cumulative allocations or
 * by short-lived allocations; several files are one set of processes
 * (procset.h) added up (SPEC "Commands", "JSON output").
 */
#include "cmd.h"
#include "fmt.h"
#include "frameview.h"
#include "procset.h"
#include "sites.h"
#include "timeline.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>

/* What a --what ranks by, and which sites it lists. */
static enum mp_site_order order_of(mp_what w)
{
    return w == MP_WHAT_ALLOC ? MP_BY_ALLOC_BYTES
           : w == MP_WHAT_TEMPORARY ? MP_BY_TEMP_COUNT : MP_BY_LIVE_BYTES;
}

static int listed(const mp_site *x, mp_what w)
{
    if (w == MP_WHAT_ALLOC)
        return x->alloc_bytes || x->alloc_count;
    if (w == MP_WHAT_TEMPORARY)
        return x->temp_count != 0;
    return x->live_bytes || x->live_count;   /* freed-only sites hold nothing */
}

static size_t list_sites(const mp_sites *s, mp_what w, const mp_site **out)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (listed(&s->v[i], w))
            out[n++] = &s->v[i];
    return n;
}

/* The foreign allocator recorded by the shim, or "". */
static const char *provider(const mp_snapshot *snap)
{
    return mp_snapshot_str(snap, snap->meta->malloc_provider);
}

/* Seconds the processes ran, added up, for allocation rates. */
static double run_seconds(const mp_procset *ps)
{
    double s = 0;
    for (size_t i = 0; i < ps->n; i++) {
        const mp_meta *m = ps->snaps[i].meta;
        if (m->time_ns > m->start_time_ns)
            s += (double)(m->time_ns - m->start_time_ns) / 1e9;
    }
    return s;
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0;
}

/* ---- JSON ---- */

static void json_lifetimes(FILE *out, const mp_site *x)
{
    fprintf(out, ", \"freed_count\": %" PRIu64 ", \"temporary_count\": %" PRIu64
            ", \"temporary_bytes\": %" PRIu64 ", \"lifetime_hist\": [",
            x->freed_count, x->temp_count, x->temp_bytes);
    for (unsigned k = 0; k < MP_LIFE_BUCKETS; k++)
        fprintf(out, "%s%" PRIu64, k ? ", " : "", x->life_hist[k]);
    fputc(']', out);
}

static void json_site(FILE *out, const mp_site *x, size_t rank, mp_what w)
{
    uint64_t bytes = w == MP_WHAT_ALLOC ? x->alloc_bytes
                     : w == MP_WHAT_TEMPORARY ? x->temp_bytes : x->live_bytes;
    uint64_t count = w == MP_WHAT_ALLOC ? x->alloc_count
                     : w == MP_WHAT_TEMPORARY ? x->temp_count : x->live_count;
    fprintf(out, "\n  {\"rank\": %zu, \"bytes\": %" PRIu64 ", \"count\": %" PRIu64
            ", \"samples\": %" PRIu64 ", \"live_bytes\": %" PRIu64 ", \"alloc_bytes\": %" PRIu64
            ", \"alloc_count\": %" PRIu64,
            rank, bytes, count, x->live_samples, x->live_bytes, x->alloc_bytes, x->alloc_count);
    json_lifetimes(out, x);
    fputs(", \"frames\": ", out);
    mp_fmt_json_frames(out, x->stack);
    fputc('}', out);
}

static void print_json(const mp_procset *ps, const mp_sites *s, const mp_site **list,
                       size_t shown, size_t n_listed, mp_what w)
{
    FILE *out = stdout;
    fputs("{\"file\": ", out);
    mp_json_string(out, ps->paths[0]);
    fprintf(out, ", \"what\": \"%s\", \"processes\": %zu, \"files\": [", mp_stacktree_what_name(w),
            ps->n);
    for (size_t i = 0; i < ps->n; i++) {
        fputs(i ? ", " : "", out);
        mp_json_string(out, ps->paths[i]);
    }
    fputs("], ", out);
    mp_fmt_json_meta(out, &ps->snaps[0]);
    fputs(", \"malloc_provider\": ", out);
    if (*provider(&ps->snaps[0]))
        mp_json_string(out, provider(&ps->snaps[0]));
    else
        fputs("null", out);
    fprintf(out, ",\n \"total\": {\"bytes\": %" PRIu64 ", \"count\": %" PRIu64
            ", \"samples\": %" PRIu64 ", \"sites\": %zu, \"alloc_bytes\": %" PRIu64
            ", \"alloc_count\": %" PRIu64 ", \"freed_count\": %" PRIu64
            ", \"temporary_count\": %" PRIu64 ", \"temporary_bytes\": %" PRIu64
            ", \"temporary_ns\": %llu},\n ",
            s->total.live_bytes, s->total.live_count, s->total.live_samples, n_listed,
            s->total.alloc_bytes, s->total.alloc_count, s->total.freed_count,
            s->total.temp_count, s->total.temp_bytes,
            (unsigned long long)MP_TEMPORARY_TICKS * MP_TICK_NS);
    mp_timeline_json(out, ps);
    fputs(",\n \"sites\": [", out);
    for (size_t i = 0; i < shown; i++) {
        fputs(i ? "," : "", out);
        json_site(out, list[i], i + 1, w);
    }
    fputs("]}\n", out);
}

/* ---- text ---- */

static void text_totals(FILE *out, const mp_procset *ps, const mp_sites *s, size_t n_listed,
                        size_t shown, mp_what w)
{
    char b[32], t[32];
    const mp_site *x = &s->total;
    if (w == MP_WHAT_ALLOC)
        fprintf(out, "allocated: %s in %" PRIu64 " allocations (%.0f/s) at %zu site%s",
                mp_fmt_size(b, x->alloc_bytes), x->alloc_count,
                run_seconds(ps) > 0 ? (double)x->alloc_count / run_seconds(ps) : 0, n_listed,
                n_listed == 1 ? "" : "s");
    else if (w == MP_WHAT_TEMPORARY)
        fprintf(out, "temporary (freed within %s): %" PRIu64 " of %" PRIu64
                " allocations seen freed (%.1f%%), %s, at %zu site%s",
                mp_fmt_ns(t, MP_TEMPORARY_TICKS * MP_TICK_NS), x->temp_count, x->freed_count,
                pct(x->temp_count, x->freed_count), mp_fmt_size(b, x->temp_bytes),
                n_listed, n_listed == 1 ? "" : "s");
    else
        fprintf(out, "%s: %s (%" PRIu64 " bytes) in %" PRIu64 " objects at %zu site%s",
                w == MP_WHAT_PEAK ? "live heap at the peak" : "live heap",
                mp_fmt_size(b, x->live_bytes), x->live_bytes, x->live_count,
                n_listed, n_listed == 1 ? "" : "s");
    if (ps->snaps[0].meta->sample_bytes > 1)
        fputs(", estimated from samples", out);
    if (shown < n_listed)
        fprintf(out, "; top %zu shown", shown);
    fputc('\n', out);
}

static void text_row(FILE *out, const mp_site *x, const mp_site *total, size_t rank,
                     mp_what w, double secs)
{
    char b[32];
    uint64_t bytes = w == MP_WHAT_ALLOC ? x->alloc_bytes : x->live_bytes;
    uint64_t whole = w == MP_WHAT_ALLOC ? total->alloc_bytes : total->live_bytes;
    if (w == MP_WHAT_TEMPORARY)
        fprintf(out, "%5zu %14" PRIu64 " %5.1f%% %10" PRIu64 " %10.0f/s  ", rank, x->temp_count,
                pct(x->temp_count, x->freed_count), x->alloc_count,
                secs > 0 ? (double)x->alloc_count / secs : 0);
    else
        fprintf(out, "%5zu %14" PRIu64 " %10s %5.1f%% %10" PRIu64 "  ", rank, bytes,
                mp_fmt_size(b, bytes), pct(bytes, whole),
                w == MP_WHAT_ALLOC ? x->alloc_count : x->live_count);
}

/* Several processes: each one's header line under the first's, so that
 * every pid added up is named (a server's 40 workers: the first few and a
 * count). */
#define REPORT_HEADERS_SHOWN 8

static void print_other_headers(FILE *out, const mp_procset *ps)
{
    for (size_t i = 1; i < ps->n && i < REPORT_HEADERS_SHOWN; i++) {
        fputs("  and ", out);
        mp_fmt_header(out, NULL, &ps->snaps[i]);
    }
    if (ps->n > REPORT_HEADERS_SHOWN)
        fprintf(out, "  and %zu more processes\n", ps->n - REPORT_HEADERS_SHOWN);
}

static void print_text(const mp_procset *ps, const mp_sites *s, const mp_site **list,
                       size_t shown, size_t n_listed, const mp_opts *o, uint64_t live_now)
{
    FILE *out = stdout;
    char d[128];
    mp_what w = o->what;
    mp_fmt_header(out, "report", &ps->snaps[0]);
    print_other_headers(out, ps);
    if (ps->n_files > 1)
        fprintf(out, "added up: %s\n", mp_procset_describe(ps, d, sizeof(d)));
    for (size_t i = 0; i < ps->n; i++) {
        mp_fmt_counters(out, &ps->snaps[i]);
        if (*provider(&ps->snaps[i])) {
            fputs("malloc is provided by ", out);
            mp_put_text(out, provider(&ps->snaps[i]));   /* a module path: untrusted */
            fputs(": nothing was profiled\n", out);
        }
    }
    mp_timeline_text(out, ps, live_now);
    text_totals(out, ps, s, n_listed, shown, w);
    if (w == MP_WHAT_ALLOC)
        mp_timeline_sizes_text(out, ps);
    if (!n_listed) {
        fputs(w == MP_WHAT_PEAK ? "no peak recorded in this snapshot\n"
              : w == MP_WHAT_TEMPORARY ? "no temporary allocations seen\n"
                                       : "no live heap in this snapshot\n", out);
        return;
    }
    int indent = 5 + 1 + 14 + 1 + 10 + 1 + 6 + 1 + 10 + 2;
    if (w == MP_WHAT_TEMPORARY)
        fprintf(out, "%5s %14s %6s %10s %12s  %s\n", "rank", "temporary", "%", "allocs", "rate",
                "site");
    else
        fprintf(out, "%5s %14s %10s %6s %10s  %s\n", "rank", "bytes", "", "%",
                w == MP_WHAT_ALLOC ? "allocs" : "count", "site");
    for (size_t i = 0; i < shown; i++) {
        text_row(out, list[i], &s->total, i + 1, w, run_seconds(ps));
        mp_fmt_stack(out, list[i]->stack, (int)o->frames - 1, indent);
    }
    mp_frameview_note(out);
    mp_fmt_unnamed_note(out);
}

int cmd_report_main(const mp_opts *o)
{
    if (mp_frameview_init(o->skip) != 0)
        return MP_EXIT_USAGE;
    mp_procset ps;
    mp_procset_load(&ps, o->files, o->n_files);
    mp_symbolizer *sym = mp_symbolizer_new();
    mp_sites s, now;
    mp_sites_init(&s);
    mp_sites_init(&now);
    for (size_t i = 0; i < ps.n; i++) {
        mp_sites_add(&s, sym, &ps.snaps[i], o->what == MP_WHAT_PEAK);
        if (o->what == MP_WHAT_PEAK)
            mp_sites_add(&now, sym, &ps.snaps[i], 0);
    }
    mp_sites_sort(&s, order_of(o->what));
    uint64_t live_now = o->what == MP_WHAT_PEAK ? now.total.live_bytes : s.total.live_bytes;

    const mp_site **list = mp_xcalloc(s.n ? s.n : 1, sizeof(*list));
    size_t n_listed = list_sites(&s, o->what, list);
    size_t shown = mp_opts_limit(o, n_listed);
    if (o->json)
        print_json(&ps, &s, list, shown, n_listed, o->what);
    else
        print_text(&ps, &s, list, shown, n_listed, o, live_now);
    int rc = mp_opts_close_out(o, stdout);   /* a full disk is no success */

    free(list);
    mp_sites_free(&s);
    mp_sites_free(&now);
    mp_symbolizer_free(sym);
    mp_procset_free(&ps);
    return rc;
}
