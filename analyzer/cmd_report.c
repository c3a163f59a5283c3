/*
 * cmd_report.c - `memprof report FILE [--top N] [--json]`: the live heap of
 * one snapshot ranked by site (SPEC "Commands", "JSON output").
 */
#include "cmd.h"
#include "fmt.h"
#include "sites.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>

#define CALLERS 3      /* caller frames shown under each site in text */

/* Sites that still hold something, in rank order. Freed-only sites (only
 * cumulative allocations left) are not part of the live heap. */
static size_t live_sites(const mp_sites *s, const mp_site **out)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].live_bytes || s->v[i].live_count)
            out[n++] = &s->v[i];
    return n;
}

/* The foreign allocator recorded by the shim, or "". */
static const char *provider(const mp_snapshot *snap)
{
    return mp_snapshot_str(snap, snap->meta->malloc_provider);
}

static void print_json(const char *path, const mp_snapshot *snap, const mp_sites *s,
                       const mp_site **list, size_t shown, size_t n_live)
{
    FILE *out = stdout;
    fputs("{\"file\": ", out);
    mp_json_string(out, path);
    fputs(", ", out);
    mp_fmt_json_meta(out, snap);
    fputs(", \"malloc_provider\": ", out);
    if (*provider(snap))
        mp_json_string(out, provider(snap));
    else
        fputs("null", out);
    fprintf(out, ",\n \"total\": {\"bytes\": %" PRIu64 ", \"count\": %" PRIu64
            ", \"samples\": %" PRIu64 ", \"sites\": %zu},\n \"sites\": [",
            s->total.live_bytes, s->total.live_count, s->total.live_samples, n_live);
    for (size_t i = 0; i < shown; i++) {
        const mp_site *x = list[i];
        fprintf(out, "%s\n  {\"rank\": %zu, \"bytes\": %" PRIu64 ", \"count\": %" PRIu64
                ", \"samples\": %" PRIu64 ", \"alloc_bytes\": %" PRIu64
                ", \"alloc_count\": %" PRIu64 ", \"frames\": ",
                i ? "," : "", i + 1, x->live_bytes, x->live_count, x->live_samples,
                x->alloc_bytes, x->alloc_count);
        mp_fmt_json_frames(out, x->stack);
        fputc('}', out);
    }
    fputs("]}\n", out);
}

static void print_text(const mp_snapshot *snap, const mp_sites *s,
                       const mp_site **list, size_t shown, size_t n_live)
{
    FILE *out = stdout;
    char b[32];
    mp_fmt_header(out, "report", snap);
    mp_fmt_counters(out, snap);
    if (*provider(snap))
        fprintf(out, "malloc is provided by %s: nothing was profiled\n", provider(snap));
    fprintf(out, "live heap: %s (%" PRIu64 " bytes) in %" PRIu64 " objects at %zu sites",
            mp_fmt_bytes(b, (int64_t)s->total.live_bytes, 0), s->total.live_bytes,
            s->total.live_count, n_live);
    if (snap->meta->sample_bytes > 1)
        fprintf(out, ", estimated from %" PRIu64 " samples", s->total.live_samples);
    if (shown < n_live)
        fprintf(out, "; top %zu shown", shown);
    fputc('\n', out);
    if (!n_live) {
        fputs("no live heap in this snapshot\n", out);
        return;
    }
    fprintf(out, "%5s %14s %10s %6s %10s  %s\n", "rank", "bytes", "", "%", "count", "site");
    for (size_t i = 0; i < shown; i++) {
        const mp_site *x = list[i];
        double pct = s->total.live_bytes ? 100.0 * x->live_bytes / s->total.live_bytes : 0;
        fprintf(out, "%5zu %14" PRIu64 " %10s %5.1f%% %10" PRIu64 "  ", i + 1,
                x->live_bytes, mp_fmt_bytes(b, (int64_t)x->live_bytes, 0), pct, x->live_count);
        mp_fmt_stack(out, x->stack, CALLERS, 5 + 1 + 14 + 1 + 10 + 1 + 6 + 1 + 10 + 2);
    }
}

int cmd_report_main(const mp_opts *o)
{
    mp_snapshot snap;
    mp_snapshot_load_or_die(o->files[0], &snap);
    mp_symbolizer *sym = mp_symbolizer_new();
    mp_sites s;
    mp_sites_build(&s, sym, &snap);
    mp_sites_sort(&s, MP_BY_LIVE_BYTES);

    const mp_site **list = mp_xcalloc(s.n, sizeof(*list));
    size_t n_live = live_sites(&s, list);
    size_t shown = mp_opts_limit(o, n_live);
    if (o->json)
        print_json(o->files[0], &snap, &s, list, shown, n_live);
    else
        print_text(&snap, &s, list, shown, n_live);
    fflush(stdout);

    free(list);
    mp_sites_free(&s);
    mp_symbolizer_free(sym);
    mp_snapshot_free(&snap);
    return MP_EXIT_OK;
}
