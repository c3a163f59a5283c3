/*
 * heap_fold.c - the heap side of the collector: each SAMPLE and FREE event
 * goes to the per-stack aggregates (heap_agg.c) and to what is derived
 * from them, in the order that keeps each exact: the peak sees the live
 * total after a sample and before a free (heap_peak.c), a free's lifetime
 * goes to heap_life.c and a sample's size to heap_sizes.c. Also their
 * start-up and their reset in a fork child. The series (heap_series.c) is
 * fed per collector pass, not per event.
 */
#include "shim.h"

int mp_heap_fold_init(void)
{
    mp_tick_init();   /* the clock of the births and lifetimes */
    if (mp_heap_agg_init() != 0 || mp_heap_peak_init() != 0 || mp_heap_life_init() != 0)
        return -1;
    return 0;
}

void mp_heap_fold(const mp_event *ev)
{
    if (ev->type == MP_EV_FREE) {
        mp_heap_peak_note(ev, mp_heap_agg_live_total());
        mp_heap_life_add(ev);
        mp_heap_agg_add(ev);
    } else if (ev->type == MP_EV_SAMPLE) {
        mp_heap_peak_note(ev, mp_heap_agg_add(ev));
        mp_heap_sizes_add(ev);
    }
}

/* Fork child, or a new attach: the totals, peak and history so far are
 * the parent's, or an earlier attach's. */
void mp_heap_fold_reset(void)
{
    mp_heap_agg_after_fork_child();
    mp_heap_peak_reset();
    mp_heap_series_reset();
    mp_heap_life_reset();
    mp_heap_sizes_reset();
}
