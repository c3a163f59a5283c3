/*
 * dormant.c - how long the process was dormant, for the snapshots
 * (mp_counters.dormant_ns): what was allocated or contended while it was
 * (MEMPROF_START=off, `memprof disable`) is missing from them, and their
 * reader must be told.
 *
 * since is mp_now_ns() (made odd, so never 0) when the current dormant
 * stretch began, 0 while recording. Written by start-up, fork child,
 * attach and the collector's enable/disable, never two at once; read by
 * whichever thread writes a snapshot, for which relaxed loads are close
 * enough.
 */
#include "shim.h"

static _Atomic uint64_t total_ns, since_ns;

void mp_dormant_restart(void)
{
    bool dormant = atomic_load(&mp_state) == MP_STATE_DORMANT;
    atomic_store_explicit(&total_ns, 0, memory_order_relaxed);
    atomic_store_explicit(&since_ns, dormant ? mp_now_ns() | 1 : 0, memory_order_relaxed);
}

void mp_dormant_mark(bool dormant)
{
    uint64_t since = atomic_load_explicit(&since_ns, memory_order_relaxed);
    if (dormant && since == 0) {
        atomic_store_explicit(&since_ns, mp_now_ns() | 1, memory_order_relaxed);
    } else if (!dormant && since != 0) {
        uint64_t now = mp_now_ns();
        atomic_fetch_add_explicit(&total_ns, now > since ? now - since : 0,
                                  memory_order_relaxed);
        atomic_store_explicit(&since_ns, 0, memory_order_relaxed);
    }
}

uint64_t mp_dormant_ns(void)
{
    uint64_t total = atomic_load_explicit(&total_ns, memory_order_relaxed);
    uint64_t since = atomic_load_explicit(&since_ns, memory_order_relaxed);
    uint64_t now = since ? mp_now_ns() : 0;
    return total + (now > since ? now - since : 0);
}
