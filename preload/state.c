/*
 * state.c - the shim's global state, defined in one place so that unit tests
 * can link single concerns (ring.c, sampler.c) without the interposers: the
 * configuration, the lifecycle state, the reentrancy marks, the process the
 * state belongs to, and the sharded counters. It calls nothing of the shim.
 */
#include "shim.h"

#include <string.h>
#include <unistd.h>

mp_config mp_cfg = {
    .sample_bytes = MP_DEFAULT_SAMPLE,
    .interval_s = MP_DEFAULT_INTERVAL,
    .locks = 1,
    .depth = MP_DEFAULT_DEPTH,
    .start = 1,
};
_Atomic int mp_state = MP_STATE_OFF;
_Atomic int mp_recorded;
_Atomic int mp_attached;
pid_t mp_pid;
MP_TLS int mp_guard;
MP_TLS int mp_in_hook;
mp_stats_shard mp_stats_sh[MP_STAT_SHARDS];
MP_TLS unsigned mp_stat_slot;
static _Atomic uint64_t stat_next_slot;   /* 64 bits: never wraps back into the own shards */
static uint64_t start_realtime_ns;

void mp_state_own_process(uint64_t realtime_ns)
{
    mp_pid = getpid();
    start_realtime_ns = realtime_ns;
}

uint64_t mp_start_realtime_ns(void)
{
    return start_realtime_ns;
}

unsigned mp_stat_slot_assign(void)
{
    uint64_t n = atomic_fetch_add_explicit(&stat_next_slot, 1, memory_order_relaxed);
    mp_stat_slot = n < MP_STAT_OWN
                       ? (unsigned)n + 1
                       : MP_STAT_OWN + (unsigned)((n - MP_STAT_OWN) % (MP_STAT_SHARDS - MP_STAT_OWN)) + 1;
    return mp_stat_slot;
}

uint64_t mp_stat_total(size_t offset)
{
    uint64_t sum = 0;
    for (int i = 0; i < MP_STAT_SHARDS; i++) {
        _Atomic uint64_t *c = (_Atomic uint64_t *)((char *)&mp_stats_sh[i].s + offset);
        sum += atomic_load_explicit(c, memory_order_relaxed);
    }
    return sum;
}

void mp_stats_reset(void)
{
    memset(mp_stats_sh, 0, sizeof(mp_stats_sh));
}
