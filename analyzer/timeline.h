/*
 * timeline.h - the heap through time (timeline.c): the peak, the series of
 * live heap and RSS, the allocation sizes, as `report` shows them in text
 * and JSON (SPEC "JSON output": "peak", "series"; also "sizes").
 */
#ifndef MEMPROF_TIMELINE_H
#define MEMPROF_TIMELINE_H

#include <stdint.h>
#include <stdio.h>

#include "procset.h"

/* The peak of a set of processes: the sum of each one's peak (an upper
 * bound of their joint peak, exact for one process), at the time of the
 * largest; 0 when no file has a PEAK section (older writers). */
typedef struct mp_timeline_peak {
    uint64_t bytes, time_ns, sites_bytes;
    uint64_t rss_hwm_bytes, rss_bytes;
    size_t with_peak;        /* processes whose file has a peak */
} mp_timeline_peak;

void mp_timeline_peak_of(const mp_procset *ps, mp_timeline_peak *out);
/* `"peak": {...}, "series": [...], "sizes": [...]` (no leading comma);
 * the series of a single process only: several would need one time axis. */
void mp_timeline_json(FILE *out, const mp_procset *ps);
/* One snapshot's `"peak": {"bytes", "time_ns", "sites_bytes", "rss_bytes"}
 * (null when the file has none), "series": [...]` (memprof html's files). */
void mp_timeline_json_one(FILE *out, const mp_snapshot *s);
/* The peak next to the current heap, and a line about the series. */
void mp_timeline_text(FILE *out, const mp_procset *ps, uint64_t live_now);
/* The allocation-size histogram, one line per power of two. */
void mp_timeline_sizes_text(FILE *out, const mp_procset *ps);

#endif
