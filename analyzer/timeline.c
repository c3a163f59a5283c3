/*
 * timeline.c - the peak, the series and the size histogram of a set of
 * snapshots, as report prints them (timeline.h).
 */
#include "timeline.h"

#include <inttypes.h>
#include <string.h>

#include "fmt.h"
#include "sites.h"

/* When the peak was reached. A process that never had a byte live (or an
 * attached one that allocated nothing since) has its peak of 0 B from the
 * start: its file says time 0, which would read as decades before it. */
static uint64_t peak_time(const mp_snapshot *s)
{
    uint64_t t = s->peak[0].time_ns, start = s->meta->start_time_ns;
    return t < start ? start : t;
}

void mp_timeline_peak_of(const mp_procset *ps, mp_timeline_peak *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t largest = 0;
    for (size_t i = 0; i < ps->n; i++) {
        const mp_snapshot *s = &ps->snaps[i];
        if (!s->n_peak)
            continue;
        const mp_peak *p = &s->peak[0];
        out->with_peak++;
        out->bytes = mp_sites_sat_add(out->bytes, p->bytes);
        out->sites_bytes = mp_sites_sat_add(out->sites_bytes, p->sites_bytes);
        out->rss_hwm_bytes = mp_sites_sat_add(out->rss_hwm_bytes, p->rss_hwm_bytes);
        out->rss_bytes = mp_sites_sat_add(out->rss_bytes, p->rss_bytes);
        if (p->bytes >= largest) {
            largest = p->bytes;
            out->time_ns = peak_time(s);
        }
    }
}

static void json_series(FILE *out, const mp_snapshot *s)
{
    fputs("\"series\": [", out);
    for (size_t i = 0; s && i < s->n_series; i++) {
        const mp_series_point *p = &s->series[i];
        fprintf(out, "%s{\"t_ns\": %" PRIu64 ", \"heap_bytes\": %" PRIu64
                ", \"rss_bytes\": %" PRIu64 "}",
                i ? ", " : "", p->t_ns, p->heap_bytes, p->rss_bytes);
    }
    fputc(']', out);
}

/* log2 bucket -> counts, over every process. */
static void sum_sizes(const mp_procset *ps, uint64_t count[64], uint64_t bytes[64])
{
    memset(count, 0, 64 * sizeof(uint64_t));
    memset(bytes, 0, 64 * sizeof(uint64_t));
    for (size_t i = 0; i < ps->n; i++)
        for (size_t k = 0; k < ps->snaps[i].n_sizes; k++) {
            const mp_size_bucket *b = &ps->snaps[i].sizes[k];
            count[b->log2] = mp_sites_sat_add(count[b->log2], b->count);
            bytes[b->log2] = mp_sites_sat_add(bytes[b->log2], b->bytes);
        }
}

static void json_sizes(FILE *out, const mp_procset *ps)
{
    uint64_t count[64], bytes[64];
    sum_sizes(ps, count, bytes);
    fputs("\"sizes\": [", out);
    int first = 1;
    for (unsigned k = 0; k < 64; k++) {
        if (!count[k] && !bytes[k])
            continue;
        fprintf(out, "%s{\"min_bytes\": %" PRIu64 ", \"count\": %" PRIu64 ", \"bytes\": %" PRIu64
                "}", first ? "" : ", ", k ? (uint64_t)1 << k : 0, count[k], bytes[k]);
        first = 0;
    }
    fputc(']', out);
}

void mp_timeline_json_one(FILE *out, const mp_snapshot *s)
{
    if (s->n_peak) {
        const mp_peak *p = &s->peak[0];
        fprintf(out, "\"peak\": {\"bytes\": %" PRIu64 ", \"time_ns\": %" PRIu64
                ", \"sites_bytes\": %" PRIu64 ", \"rss_bytes\": %" PRIu64 "}, ",
                p->bytes, peak_time(s), p->sites_bytes, p->rss_hwm_bytes);
    } else {
        fputs("\"peak\": null, ", out);
    }
    json_series(out, s);
}

void mp_timeline_json(FILE *out, const mp_procset *ps)
{
    mp_timeline_peak p;
    mp_timeline_peak_of(ps, &p);
    fprintf(out, "\"peak\": {\"bytes\": %" PRIu64 ", \"time_ns\": %" PRIu64
            ", \"sites_bytes\": %" PRIu64 ", \"rss_bytes\": %" PRIu64 "},\n ",
            p.bytes, p.time_ns, p.sites_bytes, p.rss_hwm_bytes);
    json_series(out, ps->n == 1 ? &ps->snaps[0] : NULL);
    fputs(",\n ", out);
    json_sizes(out, ps);
}

/* Time since the first process started, for text. */
static uint64_t since_start(const mp_procset *ps, uint64_t t)
{
    uint64_t start = UINT64_MAX;
    for (size_t i = 0; i < ps->n; i++)
        if (ps->snaps[i].meta->start_time_ns < start)
            start = ps->snaps[i].meta->start_time_ns;
    return t > start ? t - start : 0;
}

/* An attached process's start_time_ns is its attach time: say so, as the
   snapshot header does. */
static const char *start_word(const mp_procset *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        if (!(ps->snaps[i].meta->flags & MP_META_ATTACHED))
            return "start";
    return "attach";
}

void mp_timeline_text(FILE *out, const mp_procset *ps, uint64_t live_now)
{
    mp_timeline_peak p;
    mp_timeline_peak_of(ps, &p);
    if (!p.with_peak)
        return;
    char b1[32], b2[32], t[32];
    if (p.bytes)
        fprintf(out, "peak heap: %s %s after %s%s; now %s",
                mp_fmt_size(b1, p.bytes), mp_fmt_ns(t, since_start(ps, p.time_ns)),
                start_word(ps), ps->n > 1 ? " (sum of each process's peak)" : "",
                mp_fmt_size(b2, live_now));
    else
        fprintf(out, "peak heap: 0 B (nothing sampled was live since %s); now %s",
                start_word(ps), mp_fmt_size(b2, live_now));
    if (p.rss_hwm_bytes)
        fprintf(out, "; peak RSS %s, now %s", mp_fmt_size(b1, p.rss_hwm_bytes),
                mp_fmt_size(b2, p.rss_bytes));
    fputc('\n', out);
    if (ps->n == 1 && ps->snaps[0].n_series > 1) {
        const mp_snapshot *s = &ps->snaps[0];
        uint64_t hi = 0;
        for (size_t i = 0; i < s->n_series; i++)
            hi = s->series[i].heap_bytes > hi ? s->series[i].heap_bytes : hi;
        fprintf(out, "heap over time: %zu points over %s, highest %s (report --json: \"series\")\n",
                s->n_series, mp_fmt_ns(t, s->series[s->n_series - 1].t_ns - s->series[0].t_ns),
                mp_fmt_size(b1, hi));
    }
}

void mp_timeline_sizes_text(FILE *out, const mp_procset *ps)
{
    uint64_t count[64], bytes[64], total = 0;
    sum_sizes(ps, count, bytes);
    for (unsigned k = 0; k < 64; k++)
        total = mp_sites_sat_add(total, count[k]);
    if (!total)
        return;
    fputs("allocation sizes (estimated allocations):\n", out);
    for (unsigned k = 0; k < 64; k++) {
        if (!count[k])
            continue;
        char lo[32], hi[32];
        mp_fmt_size(lo, k ? (uint64_t)1 << k : 0);
        mp_fmt_size(hi, ((uint64_t)2 << k) - 1);
        fprintf(out, "  %10s .. %-10s %12" PRIu64 " %5.1f%%\n", lo, hi, count[k],
                100.0 * (double)count[k] / (double)total);
    }
}
