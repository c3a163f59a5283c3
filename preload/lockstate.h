/*
 * lockstate.h - private contract between lock_hooks.c (application threads)
 * and lockagg.c (the collector thread).
 *
 * Event fields for the lock events (mp_event, see shim.h):
 *
 *   LOCK_WAIT  stack = waiter stack, a = lock address, b = wait ns,
 *              pad = lock generation, stack2 = release sequence number of the
 *              release that let this waiter in (0 = unknown / not acquired).
 *   LOCK_HOLD  stack = holder stack (captured at its unlock), a = address,
 *              b = hold ns (0 when the acquisition was not seen),
 *              pad = generation, stack2 = this release's sequence number.
 *   LOCK_SITE  stack = first-use site, a = address, pad = generation.
 *   LOCK_DEAD  a = address, pad = the generation that ended,
 *              b = its acquisitions counted by the application side.
 *
 * The first-use site is the first contention's waiter stack: the collector
 * takes it from the first WAIT of a (lock, generation) unless a SITE came
 * first. lock_hooks.c emits no SITE events (see the note there).
 *
 * Why sequence numbers instead of the holder's stack id in the WAIT event:
 * the holder captures its stack *after* the real unlock (capturing before
 * would lengthen the contended critical section by an unwind), so the woken
 * waiter usually runs before that stack id exists. Instead every release of a
 * tracked lock takes a number (inside the critical section, one atomic add on
 * a line the lock already bounces), the waiter reads the latest number after
 * acquiring, and the collector joins WAIT and HOLD on (lock, generation, seq).
 */
#ifndef MEMPROF_LOCKSTATE_H
#define MEMPROF_LOCKSTATE_H

#include "shim.h"

/* The application-side table of locks known to be contended. */
#define LK_TABLE_BITS 14
#define LK_TABLE_SIZE (1u << LK_TABLE_BITS)

typedef struct lk_entry {
    _Atomic uint64_t addr;          /* 0 = free slot; never reset once claimed */
    _Atomic uint32_t gen;           /* bumped by destroy/init of the address */
    _Atomic uint32_t waiters;       /* threads blocked in our hooks right now */
    _Atomic uint32_t rel_seq;       /* releases seen (see above) */
    uint32_t unused;
    _Atomic uint64_t acquisitions;  /* acquisitions while known contended */
    char pad[64 - 32];              /* one entry per cache line: hot locks in
                                       neighbouring slots must not share one */
} lk_entry;
_Static_assert(sizeof(lk_entry) == 64, "lk_entry is one cache line");

/* Mixes an address into a table index (Fibonacci hashing of addr / 8). */
static inline uint32_t lk_hash(uint64_t addr, unsigned bits)
{
    return (uint32_t)(((addr >> 3) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

/* Acquisitions counted for (addr, gen) by the application side, 0 if unknown.
 * Read by the collector when exporting; a relaxed read of a live counter. */
uint64_t lk_app_acquisitions(uint64_t addr, uint32_t gen) MP_HIDDEN;
/* Forgets every application-side lock (fork child, single-threaded). */
void lk_app_after_fork_child(void) MP_HIDDEN;

#endif
