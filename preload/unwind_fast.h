/*
 * unwind_fast.h - the fast unwinder's own header: the contract between
 * unwind.c (which drives a capture), unwind_table.c (the per-pc rules
 * and their cache) and unwind_fast.c (the walk and the remembered walks).
 * Nothing else in the shim needs it: the rest sees only mp_capture_stack
 * and its neighbours in shim.h.
 */
#ifndef MEMPROF_UNWIND_FAST_H
#define MEMPROF_UNWIND_FAST_H

#include "shim.h"

/* A frame's rule in one word: kind (bits 0-1); CFA = SP or BP (bit 2) plus
 * off (bits 4-23); BP saved at CFA - 8 * bpoff (bit 3, bits 24-35); the
 * cache keeps a check of the address and generation in bits 40-63. */
typedef uint64_t mp_uwrule;
#define MP_UW_NONE 0u          /* not cached / in no module */
#define MP_UW_KIND_FRAME 1u    /* the fields below apply */
#define MP_UW_OTHER 2u         /* a rule only libunwind follows */
#define MP_UW_END 3u           /* the return address is undefined: outermost */
#define MP_UW_KIND_MASK 3u
#define MP_UW_CFA_BP 4u
#define MP_UW_BP_SAVED 8u
#define MP_UW_OFF_SHIFT 4
#define MP_UW_OFF_MASK 0xfffffu
#define MP_UW_BPOFF_SHIFT 24
#define MP_UW_BPOFF_MASK 0xfffu
#define MP_UW_CHECK_SHIFT 40
int mp_uwtable_init(void) MP_HIDDEN;
void mp_uwtable_after_fork_child(void) MP_HIDDEN;
/* The rule cache (unwind_table.c): direct-mapped by pc, written by
 * mp_uwtable_slow; the check bits tell a torn or stale entry. */
#define MP_UW_CACHE_BITS 16
typedef struct mp_uwcache_entry {
    _Atomic uint64_t pc, rule;
} mp_uwcache_entry;
extern mp_uwcache_entry *mp_uwtable_cache MP_HIDDEN;
static inline uint64_t mp_uwtable_slot(uintptr_t pc)
{
    return (pc * 0x9E3779B97F4A7C15ull) >> (64 - MP_UW_CACHE_BITS);
}
static inline uint64_t mp_uwtable_check(uintptr_t pc, uint32_t gen)
{
    return (((pc * 0xC2B2AE3D27D4EB4Full) >> 40) ^ (gen & 0xff)) & 0xffffff;
}
/* pc's cached rule, MP_UW_NONE when not cached; inlined into the walk. */
static inline mp_uwrule mp_uwtable_cached(uintptr_t pc, uint32_t gen)
{
    const mp_uwcache_entry *e = &mp_uwtable_cache[mp_uwtable_slot(pc)];
    uint64_t r = atomic_load_explicit(&e->rule, memory_order_relaxed);
    uint64_t p = atomic_load_explicit(&e->pc, memory_order_relaxed);
    if (p != pc || (r >> MP_UW_CHECK_SHIFT) != mp_uwtable_check(pc, gen))
        return MP_UW_NONE;
    return r & ((1ull << MP_UW_CHECK_SHIFT) - 1);
}
/* Computes (lookup_pc: pc - 1 for a return address) and caches pc's rule. */
mp_uwrule mp_uwtable_slow(uintptr_t pc, uintptr_t lookup_pc, uint32_t gen) MP_HIDDEN;

typedef struct mp_uwregs { uintptr_t pc, sp, bp; } mp_uwregs;
/* A walk, one entry a step: the registers in that frame, and where BP was
 * reloaded from for the next (bit 0: the rest of the walk used BP). The
 * pcs of the frames after the shim's are the stack itself. A reusable
 * walk also lists the reloaded BPs its result depends on (unwind_fast.c),
 * outermost last, ending at MP_UW_CHECKS: those read from step j outward
 * are [chk_at[j], MP_UW_CHECKS), chk_step the step that read each. sp[n]
 * is a sentinel above every stack pointer. */
#define MP_UW_STEPS (MP_MAX_DEPTH + 16)
#define MP_UW_CHECKS MP_UW_STEPS
typedef struct mp_uwwalk {
    uint64_t pc[MP_UW_STEPS];
    uintptr_t sp[MP_UW_STEPS + 1], bp[MP_UW_STEPS], bpslot[MP_UW_STEPS];
    uintptr_t chk_addr[MP_UW_CHECKS], chk_val[MP_UW_CHECKS];
    uint16_t chk_step[MP_UW_CHECKS], chk_at[MP_UW_STEPS];
    int n;                               /* steps; 0: not reusable */
    int first, out;                      /* the stack: pc[first .. first+out) */
    uintptr_t hi;
    uint32_t gen;
} mp_uwwalk;
/* A walk remembered (unwind_fast.c): where it started, the stack words
 * its result depends on (nwords of them at arena position at), and the
 * stack id it came to. id 0: an empty entry. */
#define MP_UW_MEMO 64
#define MP_UW_MEMO_WORDS 2048   /* 32 KiB a thread, touched as used */
typedef struct mp_uwmemo {
    uintptr_t pc, sp, bp, hi;
    uint64_t at;
    uint32_t gen, id;
    uint16_t nwords, max;
    bool bp_used;
} mp_uwmemo;
/* A thread's unwind state, off its stack (unwind_fast.c): the stack's
 * bounds, the last two walks (the previous one is reused where the new
 * one reaches a frame it already walked), libunwind's buffers. */
typedef struct mp_uwthread {
    uintptr_t lo, hi;                    /* the thread's stack */
    mp_uwwalk walk[2];
    int cur;                             /* the last walk */
    mp_uwmemo memo[MP_UW_MEMO];          /* by starting sp */
    uint64_t memo_pos;                   /* words ever written to the arena */
    uintptr_t memo_addr[MP_UW_MEMO_WORDS], memo_val[MP_UW_MEMO_WORDS];
    uint32_t last_id;                    /* unwind.c: the last walk's stack id */
    uint64_t frames[MP_MAX_DEPTH];       /* libunwind's stack */
    uint64_t check[MP_MAX_DEPTH];
    void *ips[MP_MAX_DEPTH + 16];
} mp_uwthread;
mp_uwthread *mp_uwthread_get(void) MP_HIDDEN;   /* NULL: no memory */
void mp_uwthread_after_fork_child(void) MP_HIDDEN;
/* 1: sp is on a stack of known bounds (*lo, *hi); 0: on neither the
 * thread's nor the alternate signal stack; -1: the thread's are unknown. */
int mp_uwthread_bounds(mp_uwthread *t, uintptr_t sp, uintptr_t *lo, uintptr_t *hi) MP_HIDDEN;
void mp_uwthread_prepare(void) MP_HIDDEN;   /* start-up, in a normal context */
/* How a walk ended: cleanly, at a frame for libunwind, at a slot outside
 * the stack, cleanly on the very stack of the last walk (which stands:
 * mp_uwfast_same, told by unwind.c);
 * STOP (inside unwind_fast.c only): cleanly but not reusable. */
enum { MP_UWS_END = 0, MP_UWS_OTHER = 1, MP_UWS_BAD = 2, MP_UWS_SAME = 3, MP_UWS_STOP = 4 };
/* Walks from regs into t->walk[t->cur] (the stack: pc + first, the
 * leading frames in [skip_lo, skip_hi) left out; returned, its depth);
 * *status says how it ended. Reads only [regs->sp, hi). */
int mp_uwfast_walk(mp_uwthread *t, const mp_uwregs *regs, uintptr_t hi, int max, uint32_t gen,
                   uintptr_t skip_lo, uintptr_t skip_hi, int *status) MP_HIDDEN;
/* The depth of the last walk's stack when regs start that very walk again
 * (a loop allocating from one place), else -1. */
int mp_uwfast_same(mp_uwthread *t, const mp_uwregs *regs, uintptr_t hi, int max,
                   uint32_t gen) MP_HIDDEN;
/* The stack id of a remembered walk that regs start and whose words all
 * still hold, else 0; and remembering the last walk (kept: n > 0) as id. */
uint32_t mp_uwmemo_find(mp_uwthread *t, const mp_uwregs *regs, uintptr_t hi, uint32_t gen,
                        int max) MP_HIDDEN;
void mp_uwmemo_put(mp_uwthread *t, uint32_t id, int max) MP_HIDDEN;

#endif /* MEMPROF_UNWIND_FAST_H */
