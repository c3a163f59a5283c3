/*
 * heap_peak.c - the highest estimated live heap since the process started,
 * when it was reached, and the live heap by stack at that moment.
 *
 * The collector adds the sampled blocks' weights in heap_agg.c and tells us
 * the live total after every sample and before every free. The high-water
 * mark itself is exact (a compare per event); the live set by stack is
 * copied only when the mark has risen by more than 1/64 since the last
 * copy, so a heap that rises slowly copies a few hundred times over its
 * whole life, not on every sample. The copy is taken at the turn, at the
 * first free after a new high (the aggregates are then exactly the peak's),
 * or at snapshot time while the heap is still at its high, so the copy is
 * the peak itself whenever the peak grew by more than 1/64 since the last
 * one, and never more than 1/64 below it otherwise.
 *
 * Only stacks with live bytes are copied, into memory reserved once (it is
 * backed only as far as it is written). Times are the samples' own ticks
 * (mp_tick, 65.5 us), converted to CLOCK_REALTIME when a snapshot is written
 * or once per collector pass, so they do not depend on how long the
 * collector slept before it drained the sample.
 */
#include "shim.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PEAK_SITES (1u << 20)
#define MIN_RISE 4096   /* below this a copy is not worth it */

static mp_peak_site *sites;       /* stack ids of this process, not file indexes */
static size_t n_sites;
static uint64_t peak_bytes, copied_bytes;
static uint32_t peak_tick, copied_tick;
static uint64_t peak_time_ns, copied_time_ns;   /* settled from the ticks */
static bool have_peak, have_copy, unsettled;

int mp_heap_peak_init(void)
{
    if (!sites)
        sites = mp_reserve(sizeof(mp_peak_site) * MAX_PEAK_SITES);
    return sites ? 0 : -1;
}

void mp_heap_peak_reset(void)
{
    n_sites = 0;
    peak_bytes = copied_bytes = 0;
    peak_tick = copied_tick = 0;
    peak_time_ns = copied_time_ns = 0;
    have_peak = have_copy = unsettled = false;
}

uint64_t mp_tick_to_realtime(uint32_t tick)
{
    uint64_t age = (uint64_t)(uint32_t)(mp_tick() - tick) << MP_TICK_SHIFT;
    uint64_t now = mp_realtime_ns();
    return now > age ? now - age : 0;
}

static bool copy_due(void)
{
    if (!have_peak || peak_bytes <= copied_bytes)
        return false;
    return !have_copy || peak_bytes - copied_bytes > copied_bytes / 64 + MIN_RISE;
}

static void copy_live_set(void)
{
    uint32_t n_ids = mp_stack_count();
    size_t n = 0;
    for (uint32_t id = 0; id < n_ids && n < MAX_PEAK_SITES && sites; id++) {
        const mp_heap_agg *a = mp_heap_agg_get(id);
        if (!a || a->live_bytes <= 0)
            continue;
        sites[n++] = (mp_peak_site){.stack = id,
                                    .live_samples = (uint64_t)(a->live_samples > 0 ? a->live_samples : 0),
                                    .live_bytes = (uint64_t)a->live_bytes,
                                    .live_count = a->live_count_fx > 0
                                                      ? ((uint64_t)a->live_count_fx + MP_COUNT_ONE / 2) / MP_COUNT_ONE
                                                      : 0};
    }
    n_sites = n;
    copied_bytes = peak_bytes;
    copied_tick = peak_tick;
    have_copy = true;
    unsettled = true;
}

/* Ticks wrap after 78 hours: turned into times while they are fresh. */
void mp_heap_peak_settle(void)
{
    if (!unsettled)
        return;
    unsettled = false;
    peak_time_ns = have_peak ? mp_tick_to_realtime(peak_tick) : 0;
    copied_time_ns = have_copy ? mp_tick_to_realtime(copied_tick) : 0;
}

void mp_heap_peak_note(const mp_event *ev, uint64_t live)
{
    if (ev->type == MP_EV_FREE) {
        /* The heap turns down: if it stands at a high worth keeping, the
         * aggregates are that high's live set right now. */
        if (live == peak_bytes && copy_due())
            copy_live_set();
        return;
    }
    if (live > peak_bytes || !have_peak) {
        peak_bytes = live;
        peak_tick = ev->heap.ticks;
        have_peak = true;
        unsettled = true;
    }
}

/* VmHWM (the resident high-water mark) and VmRSS, in bytes. */
static void read_rss(uint64_t *hwm, uint64_t *rss)
{
    char buf[4096];
    *hwm = *rss = 0;
    if (mp_read_small_file("/proc/self/status", buf, sizeof(buf)) <= 0)
        return;
    const char *p = strstr(buf, "\nVmHWM:");
    if (p)
        *hwm = strtoull(p + 7, NULL, 10) * 1024;
    p = strstr(buf, "\nVmRSS:");
    if (p)
        *rss = strtoull(p + 7, NULL, 10) * 1024;
}

void mp_heap_peak_export(mp_peak *out, const mp_peak_site **out_sites, size_t *n)
{
    /* Still at the high: the live set now is the peak's. */
    if (mp_heap_agg_live_total() == peak_bytes && have_peak && peak_bytes > copied_bytes)
        copy_live_set();
    mp_heap_peak_settle();
    memset(out, 0, sizeof(*out));
    out->bytes = peak_bytes;
    out->time_ns = peak_time_ns;
    out->sites_bytes = have_copy ? copied_bytes : 0;
    out->sites_time_ns = copied_time_ns;
    read_rss(&out->rss_hwm_bytes, &out->rss_bytes);
    *out_sites = sites;
    *n = have_copy ? n_sites : 0;
}
