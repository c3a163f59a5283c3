/*
 * tick.c - the sampled blocks' clock (shim.h: mp_tick, mp_tick_ns).
 *
 * Every sample reads it for the block's birth and every free of a sampled
 * block for its lifetime: twice per allocation at MEMPROF_SAMPLE=1. There
 * clock_gettime(CLOCK_MONOTONIC) cost ~50 ns a read on this machine's
 * vDSO (an ordered TSC read under the vvar sequence lock, then the
 * conversion), and was half of exact mode's wall time on a single-threaded
 * churn, invisible to instruction counts. So where the kernel's time is
 * made of an invariant TSC (os.c, mp_tsc_keeps_time: its clocksource is
 * "tsc", or a KVM guest's "kvm-clock"), a read is a bare rdtsc scaled to
 * CLOCK_MONOTONIC's nanoseconds: ns1 + (tsc - tsc1) * mult / 2^32, with
 * mult measured against mp_now_ns over the first MP_TICK_CAL_NS after
 * start-up and (ns1, tsc1) the pair read at the end of that measurement,
 * so the clock continues from mp_now_ns without a jump (to within the
 * ~50 ns between the two reads). Until then, and without a trusted TSC,
 * a read is mp_now_ns itself.
 *
 * The three words are written once, before mp_tick_tsc is set (release;
 * readers acquire): a reader sees all of them or uses mp_now_ns. A scale
 * measured over 16 ms with reads ~50 ns apart is within ~10 ppm: a
 * lifetime of an hour is off by ~40 ms, far under its bucket's width. A
 * fork child keeps the clock (the TSC and CLOCK_MONOTONIC go on); one
 * forked while another thread was measuring keeps mp_now_ns (the lock is
 * only ever tried).
 */
#include "shim.h"


#define MP_TICK_CAL_NS 16000000ull

/* UNSET until start-up, STARTING while it reads the first pair, then
 * MEASURING until the scale is published (or not), then DONE. */
enum { TICK_UNSET = 0, TICK_STARTING = 1, TICK_MEASURING = 2, TICK_DONE = 3 };

_Atomic int mp_tick_tsc;
uint64_t mp_tick_ns1, mp_tick_tsc1, mp_tick_mult;
static _Atomic int state;
static uint64_t ns0, tsc0;
static mp_spinlock measure_lock;

/* Start-up (heap_fold.c's init): whether to measure the TSC's rate. Once
 * per process image; a fork child inherits the outcome. */
void mp_tick_init(void)
{
    int expected = TICK_UNSET;
    if (!atomic_compare_exchange_strong(&state, &expected, TICK_STARTING))
        return;
#if defined(__x86_64__)
    if (mp_tsc_keeps_time()) {
        ns0 = mp_now_ns();
        tsc0 = __builtin_ia32_rdtsc();
        atomic_store_explicit(&state, TICK_MEASURING, memory_order_release);
        return;
    }
#endif
    atomic_store(&state, TICK_DONE);   /* mp_now_ns for good */
}

#if defined(__x86_64__)
/* The scale from (ns0, tsc0) to (now, tsc), published with its anchor. */
static void publish(uint64_t now)
{
    uint64_t tsc = __builtin_ia32_rdtsc();
    if (tsc <= tsc0)
        return;
    unsigned __int128 mult = ((unsigned __int128)(now - ns0) << 32) / (tsc - tsc0);
    /* 0.01 to 100 ns a cycle: anything else is not a clock worth having */
    if (mult < (1ull << 32) / 100 || mult > (unsigned __int128)100 << 32)
        return;
    mp_tick_ns1 = now;
    mp_tick_tsc1 = tsc;
    mp_tick_mult = (uint64_t)mult;
    atomic_store_explicit(&mp_tick_tsc, 1, memory_order_release);
}
#endif

uint64_t mp_tick_ns_slow(void)
{
    uint64_t now = mp_now_ns();
#if defined(__x86_64__)
    if (atomic_load_explicit(&state, memory_order_acquire) == TICK_MEASURING &&
        now - ns0 >= MP_TICK_CAL_NS && mp_spin_trylock(&measure_lock)) {
        if (atomic_load(&state) == TICK_MEASURING) {
            publish(now);
            atomic_store(&state, TICK_DONE);
        }
        mp_spin_unlock(&measure_lock);
    }
#endif
    return now;
}
