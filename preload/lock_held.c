/*
 * lock_held.c - this thread's holds of tracked locks (a small array: which
 * ones, since when, how deep, and its own waits still counted in the
 * lock's entry) and its batch of contended holds sent as LOCK_HOLDS and
 * LOCK_HOLDHIST events (lockstate.h). All of it per thread; the only
 * shared writes are the entry's acquisitions and waiter counts, made
 * after the real unlock. lock_acct.c decides when a hold begins and ends.
 */
#include "lockstate.h"

#define LK_HELD_MAX 8
static MP_TLS lk_held lk_held_tab[LK_HELD_MAX];
/* The quiet checks' thread-local block (lockstate.h): defined here, the
 * file the rest of the accounting (lock_acct.c) builds on. */
MP_TLS lk_quiet_tls lk_q;

/*
 * Contended holds whose release published its stack, added up per thread
 * and sent in batches: atomic adds per release on a line every waiter of
 * the lock also writes cost more than the rest of the release. A batch is
 * the acquisitions counted (into the entry), and the holds, their total
 * and their histogram buckets (LOCK_HOLDS and LOCK_HOLDHIST events). It
 * goes when the thread releases another tracked lock, after LK_BATCH_MAX
 * releases, LK_BATCH_NS of hold time or a hold in a bucket the batch has
 * no room for, before a condition wait and when the thread exits; so a
 * snapshot may miss a few holds of each thread (never more than
 * LK_BATCH_MAX or LK_BATCH_NS worth). 1024 rather than 64: on a hot lock
 * with a short critical section (shortcs) batches of 64 were ~10k events
 * a second, and their ring's half-full doorbells were most of the
 * collector's wake-ups and context switches (issue 10). The caller's cue
 * to refresh the stack it publishes stays every LK_BATCH_CUE releases.
 */
#define LK_BATCH_MAX 1024
#define LK_BATCH_CUE 64
#define LK_BATCH_NS 1000000ull
#define LK_BATCH_BUCKETS 16
typedef struct lk_held_sum {
    lk_entry *e;
    uint32_t gen, n;
    uint16_t kind, nb;
    uint64_t acquisitions, holds, hold_ns;
    uint32_t bucket[LK_BATCH_BUCKETS], count[LK_BATCH_BUCKETS];
} lk_held_sum;
static MP_TLS lk_held_sum lk_held_acc;

/* ------------------------------------------------------------------------
 * The holds.
 * ---------------------------------------------------------------------- */
bool lk_held_track(const void *addr, lk_entry *e, uint64_t t, uint32_t waited, uint32_t weight)
{
    for (int i = lk_q.held_n - 1; i >= 0; i--) {
        if (lk_held_tab[i].addr == addr) {
            lk_held_tab[i].depth++;   /* recursive mutex or nested read lock */
            lk_held_tab[i].waited += waited;
            return true;
        }
    }
    if (lk_q.held_n == LK_HELD_MAX) {
        /* holds this deep go untimed (the unlock still blames), and are
         * counted now: their release cannot tell */
        atomic_fetch_add_explicit(&e->acquisitions, weight, memory_order_relaxed);
        return false;
    }
    lk_held_tab[lk_q.held_n++] = (lk_held){addr, e, t, 1, waited, weight};
    return true;
}

bool lk_held_release(const void *addr, lk_held *h)
{
    int i = lk_q.held_n - 1;
    while (i >= 0 && lk_held_tab[i].addr != addr)
        i--;
    if (i < 0) {
        *h = (lk_held){.addr = addr};
        return true;
    }
    if (--lk_held_tab[i].depth > 0)
        return false;   /* an inner unlock of a recursive hold */
    *h = lk_held_tab[i];
    lk_held_tab[i] = lk_held_tab[--lk_q.held_n];
    return true;
}

/* One locked subtraction: a compare-and-swap loop on a line every waiter
 * writes retried under contention (2.8% of a 4-thread contended run). A
 * destroy or init of the lock that reset the count meanwhile makes it
 * wrap for a moment, and the difference is given back. */
void lk_held_unwait(lk_entry *e, uint32_t n)
{
    uint32_t old = atomic_fetch_sub_explicit(&e->waiters, n, memory_order_relaxed);
    if (MP_UNLIKELY(old < n))
        atomic_fetch_add_explicit(&e->waiters, n - old, memory_order_relaxed);
}

/* ------------------------------------------------------------------------
 * The batch.
 * ---------------------------------------------------------------------- */
static MP_NOINLINE void lk_held_send(void)
{
    lk_held_sum *a = &lk_held_acc;
    lk_entry *e = a->e;
    /* a destroy or init since: the counts belonged to the old lock */
    if (e && atomic_load_explicit(&e->gen, memory_order_relaxed) == a->gen) {
        uint64_t addr = atomic_load_explicit(&e->addr, memory_order_relaxed);
        if (a->acquisitions)
            atomic_fetch_add_explicit(&e->acquisitions, a->acquisitions, memory_order_relaxed);
        if (a->holds) {
            mp_event ev = {.type = MP_EV_LOCK_HOLDS, .kind = a->kind, .gen = a->gen,
                           .holds = {.addr = addr, .holds = a->holds, .hold_ns = a->hold_ns}};
            lk_send(&ev);
        }
        for (unsigned i = 0; i < a->nb; i++) {
            mp_event ev = {.type = MP_EV_LOCK_HOLDHIST, .kind = a->kind, .gen = a->gen,
                           .holdhist = {.addr = addr, .bucket = a->bucket[i],
                                        .count = a->count[i]}};
            lk_send(&ev);
        }
    }
    *a = (lk_held_sum){0};
}

/* Counts n timed holds of hold_ns each in the batch's histogram; false
 * when it has no room. */
static bool lk_held_bucket(lk_held_sum *a, uint64_t hold_ns, uint32_t n)
{
    uint32_t b = mp_lock_hist_bucket(hold_ns);
    for (unsigned i = 0; i < a->nb; i++) {
        if (a->bucket[i] == b) {
            a->count[i] += n;
            return true;
        }
    }
    if (a->nb == LK_BATCH_BUCKETS)
        return false;
    a->bucket[a->nb] = b;
    a->count[a->nb++] = n;
    return true;
}

bool lk_held_batch(lk_entry *e, uint16_t kind, uint64_t acquisitions, uint64_t holds,
                   uint64_t hold_ns)
{
    lk_held_sum *a = &lk_held_acc;
    if (a->e != e) {
        lk_held_send();
        a->e = e;
        a->kind = kind;
        a->gen = atomic_load_explicit(&e->gen, memory_order_relaxed);
    }
    if (hold_ns && holds && !lk_held_bucket(a, hold_ns, (uint32_t)holds)) {
        lk_held_send();
        return lk_held_batch(e, kind, acquisitions, holds, hold_ns);
    }
    a->acquisitions += acquisitions;
    a->holds += holds;
    a->hold_ns += holds * hold_ns;
    if (++a->n < LK_BATCH_MAX && a->hold_ns < LK_BATCH_NS)
        return a->n % LK_BATCH_CUE == 0;
    lk_held_send();
    return true;
}

void lk_held_flush(void)
{
    if (lk_held_acc.e)
        lk_held_send();
}

/* After the generation of e's lock was bumped: a batch of the old lock
 * goes now, which drops its counts (they were the old lock's). */
void lk_held_forget(const lk_entry *e)
{
    if (lk_held_acc.e == e)
        lk_held_send();
}

/* Fork child: the forking thread's holds are forgotten (its unlocks then
 * pass through untracked), and so is its batch (the parent sends it). */
void lk_held_after_fork_child(void)
{
    lk_q.held_n = 0;
    lk_held_acc = (lk_held_sum){0};
}
