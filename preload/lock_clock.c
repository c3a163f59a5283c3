/*
 * lock_clock.c - the clock of the lock profiler's intervals: waits, holds
 * and trylock runs, each begun and ended on one thread (lockstate.h,
 * lk_ticks). Two or three of its reads sit inside a contended critical
 * section, where clock_gettime (a serialising TSC read, the vDSO's
 * sequence lock and a conversion: ~25 ns here) lengthened the section
 * others queue for. So where the TSC is invariant, the reads are a bare
 * rdtsc (~10 ns) and only the differences are converted, with a scale
 * measured against CLOCK_MONOTONIC: over the time since start-up for the
 * first LK_CAL_NS, then fixed. Elsewhere a tick is a nanosecond of
 * mp_now_ns.
 */
#include "lockstate.h"

_Atomic int lk_tsc_ok;
_Atomic uint64_t lk_scale;   /* ns per tick << 32; 0: not yet measured */
static uint64_t lk_tsc0, lk_ns0;

#define LK_CAL_NS 16000000ull

/* Start-up (locks.c): whether ticks are TSC cycles, and the origin of the
 * scale. Before this runs, or without an invariant TSC that the kernel's
 * time is made of (os.c, mp_tsc_keeps_time), they are ns. */
void lk_clock_init(void)
{
#if defined(__x86_64__)
    if (mp_tsc_keeps_time()) {
        lk_ns0 = mp_now_ns();
        lk_tsc0 = __builtin_ia32_rdtsc();
        atomic_store_explicit(&lk_tsc_ok, 1, memory_order_release);
        return;
    }
#endif
    atomic_store_explicit(&lk_scale, 1ull << 32, memory_order_relaxed);
}

/* The scale before it is fixed: measured over the time since start-up
 * (one clock read per conversion during the first LK_CAL_NS). */
MP_NOINLINE uint64_t lk_calibrate(void)
{
    if (!atomic_load_explicit(&lk_tsc_ok, memory_order_acquire)) {
        atomic_store_explicit(&lk_scale, 1ull << 32, memory_order_relaxed);
        return 1ull << 32;
    }
    uint64_t dn = mp_now_ns() - lk_ns0;
#if defined(__x86_64__)
    uint64_t dt = __builtin_ia32_rdtsc() - lk_tsc0;
#else
    uint64_t dt = dn;
#endif
    if (dt == 0 || dn == 0)
        return 1ull << 32;
    uint64_t s = (uint64_t)(((unsigned __int128)dn << 32) / dt);
    if (dn >= LK_CAL_NS)
        atomic_store_explicit(&lk_scale, s, memory_order_relaxed);
    return s;
}
