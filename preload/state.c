/*
 * state.c - the shim's global state, defined in one place so that unit tests
 * can link single concerns (ring.c, sampler.c) without the interposers.
 */
#include "shim.h"

#include <time.h>

mp_config mp_cfg = {
    .sample_bytes = MP_DEFAULT_SAMPLE,
    .interval_s = MP_DEFAULT_INTERVAL,
    .locks = 1,
    .depth = MP_DEFAULT_DEPTH,
};
_Atomic int mp_state = MP_STATE_OFF;
pid_t mp_pid;
MP_TLS int mp_guard;
MP_TLS int mp_in_hook;
mp_stats mp_stats_g;

void mp_spin_lock(mp_spinlock *l)
{
    while (!mp_spin_trylock(l)) {
        while (atomic_load_explicit(&l->v, memory_order_relaxed))
            mp_cpu_relax();
    }
}

uint64_t mp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mp_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
