/*
 * locktab.h - a snapshot's locks merged by symbolic stack, as `memprof
 * locks` ranks them (locktab.c). Same lifetime rule as sites.h: keys and
 * stacks belong to the symbolizer that built the table.
 */
#ifndef MEMPROF_LOCKTAB_H
#define MEMPROF_LOCKTAB_H

#include "sites.h"

typedef struct mp_lockstack {
    const char *key;
    const mp_symstack *stack;     /* may be NULL */
    uint64_t contentions;         /* waits suffered (waiter) / caused (holder) */
    uint64_t wait_ns;
} mp_lockstack;

typedef struct mp_lockrec {
    uint64_t address;
    uint32_t kind;                /* mp_lock_kind */
    const char *key;              /* key of the first-use stack, "" when none */
    const mp_symstack *site;      /* first-use stack, NULL when none */
    uint64_t contentions, wait_ns, max_wait_ns;
    uint64_t hold_ns, contended_holds, acquisitions;
    int max_wait_exact;           /* 0: a window could only bound max_wait_ns */
    mp_lockstack *waiters;        /* role MP_ROLE_WAITER, merged by key */
    size_t n_waiters, cap_waiters;
    mp_lockstack *holders;        /* role MP_ROLE_HOLDER, merged by key */
    size_t n_holders, cap_holders;
    /* LOCK_HIST counts per bucket ([0] waits, [1] holds), NULL when none. */
    uint64_t *hist[2];
} mp_lockrec;

/* Percentiles of a lock's waits (what 0) or holds (what 1), from its
 * histogram: each is the upper bound of the bucket holding that rank,
 * capped at max (so at most max_wait_ns, and monotone); all 0 without a
 * histogram. p[] gets p50, p90, p99, p99.9. Returns the number of values
 * the histogram holds. */
#define MP_LOCK_NPCT 4
uint64_t mp_locktab_percentiles(const mp_lockrec *r, int what, uint64_t max,
                                uint64_t p[MP_LOCK_NPCT]);

typedef struct mp_locktab {
    mp_lockrec *v;
    size_t n;
    uint64_t contentions, wait_ns;  /* totals over v */
    struct mp_keymap *map;        /* (address, key) -> index (private) */
    struct mp_keymap *stacks;     /* (lock index, role, key) -> position in
                                     that lock's waiters/holders (private) */
} mp_locktab;

/*
 * Merges snap's LOCKS by (address, first-use key) and each lock's
 * LOCK_SITES by (role, key). Locks are kept even with zero contentions.
 */
void mp_locktab_build(mp_locktab *t, mp_symbolizer *sym, const mp_snapshot *snap);
const mp_lockrec *mp_locktab_find(const mp_locktab *t, uint64_t address, const char *key);
/*
 * Turns t's cumulative counters into the window since `old` (an earlier
 * snapshot of the same process): subtracts old's counters lock by lock and
 * stack by stack (clamped at 0), then drops locks and stacks with no
 * contention left. max_wait_ns: when it changed it happened in the window and
 * is exact; when it did not change the window's maximum is only known to be
 * <= it, so it is kept and max_wait_exact is cleared.
 */
void mp_locktab_subtract(mp_locktab *t, const mp_locktab *old);
/* Drops locks with zero contentions (the "contended" in "contended locks"). */
void mp_locktab_drop_uncontended(mp_locktab *t);
/* Locks by wait_ns descending, and each lock's stacks likewise. */
void mp_locktab_sort(mp_locktab *t);
void mp_locktab_free(mp_locktab *t);

#endif
