/*
 * heap_series.c - the estimated live heap and the resident set over time,
 * since the process started, in at most MP_SERIES_MAX points.
 *
 * The collector calls mp_heap_series_note once per pass; a point is added
 * when the current spacing has passed since the last one (4 Hz at first).
 * There is no wake-up of its own: a collector that sleeps because nothing
 * happens adds no points, which loses nothing (the heap did not change).
 * When the table is full every other point is dropped and the spacing
 * doubles, so the series always spans the whole run at a resolution that
 * halves as the run doubles, in a fixed 6 KiB. RSS is /proc/self/statm's
 * resident pages, read only when a point is taken.
 */
#include "shim.h"

#include <stdlib.h>
#include <unistd.h>

#define FIRST_SPACING_NS 250000000ull

static mp_series_point points[MP_SERIES_MAX];
static size_t n_points;
static uint64_t spacing_ns = FIRST_SPACING_NS, last_ns;

void mp_heap_series_reset(void)
{
    n_points = 0;
    spacing_ns = FIRST_SPACING_NS;
    last_ns = 0;
}

uint64_t mp_heap_series_rss(void)
{
    char buf[128];
    if (mp_read_small_file("/proc/self/statm", buf, sizeof(buf)) <= 0)
        return 0;
    char *end;
    strtoull(buf, &end, 10);   /* size; resident comes second */
    return strtoull(end, NULL, 10) * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void thin_out(void)
{
    size_t n = 0;
    for (size_t i = 0; i < n_points; i += 2)
        points[n++] = points[i];
    n_points = n;
    spacing_ns *= 2;
}

static mp_series_point point_now(void)
{
    return (mp_series_point){.t_ns = mp_realtime_ns(),
                             .heap_bytes = mp_heap_agg_live_total(),
                             .rss_bytes = mp_heap_series_rss()};
}

void mp_heap_series_note(uint64_t now_ns)
{
    mp_heap_peak_settle();
    if (n_points && now_ns - last_ns < spacing_ns)
        return;
    if (n_points == MP_SERIES_MAX)
        thin_out();
    last_ns = now_ns;
    points[n_points++] = point_now();
}

uint64_t mp_heap_series_due(void)
{
    return n_points ? last_ns + spacing_ns : 0;
}

size_t mp_heap_series_export(mp_series_point *out)
{
    for (size_t i = 0; i < n_points; i++)
        out[i] = points[i];
    out[n_points] = point_now();
    return n_points + 1;
}
