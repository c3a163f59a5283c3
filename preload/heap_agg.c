/*
 * heap_agg.c - the heap side of the collector's aggregates: per stack id
 * (indexed directly, no hashing) the live and allocated totals that the
 * SAMPLE and FREE events add up to. Written by the collector thread only
 * (or the exiting thread once the collector has stopped); snapshot.c reads
 * it on the same thread. The lock side is lockagg.c. The live total is
 * kept here too, for the peak (heap_peak.c) and the series
 * (heap_series.c); heap_fold.c feeds all of them.
 */
#include "shim.h"

#define MAX_AGG_STACKS (1u << 20)

static mp_heap_agg *heap_agg;
static int64_t live_total;

uint64_t mp_heap_agg_live_total(void)
{
    return live_total > 0 ? (uint64_t)live_total : 0;
}

mp_heap_agg *mp_heap_agg_get(uint32_t stack)
{
    return heap_agg && stack < MAX_AGG_STACKS ? &heap_agg[stack] : NULL;
}

int mp_heap_agg_init(void)
{
    if (!heap_agg)
        heap_agg = mp_reserve(sizeof(mp_heap_agg) * MAX_AGG_STACKS);
    return heap_agg ? 0 : -1;
}

/* Fork child: the parent's totals are not the child's. */
void mp_heap_agg_after_fork_child(void)
{
    mp_pages_free(heap_agg, sizeof(mp_heap_agg) * MAX_AGG_STACKS);
    heap_agg = NULL;
    live_total = 0;
    mp_heap_agg_init();
}

uint64_t mp_heap_agg_add(const mp_event *ev)
{
    mp_heap_agg *a = mp_heap_agg_get(ev->heap.stack);
    if (!a)
        return mp_heap_agg_live_total();
    if (ev->type == MP_EV_SAMPLE) {
        a->live_samples++;
        a->live_bytes += (int64_t)ev->heap.bytes;
        a->live_count_fx += (int64_t)ev->heap.count_fx;
        a->alloc_samples++;
        a->alloc_bytes += ev->heap.bytes;
        a->alloc_count_fx += ev->heap.count_fx;
        live_total += (int64_t)ev->heap.bytes;
    } else if (ev->type == MP_EV_FREE) {
        live_total -= (int64_t)ev->heap.bytes;
        a->live_samples--;
        a->live_bytes -= (int64_t)ev->heap.bytes;
        a->live_count_fx -= (int64_t)ev->heap.count_fx;
    }
    return live_total > 0 ? (uint64_t)live_total : 0;
}
