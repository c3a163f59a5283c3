/*
 * lock_cond.c - condition variables. glibc re-locks the mutex inside
 * pthread_cond_wait through an internal call our mutex hook never sees, so
 * the wait hooks do the mutex accounting themselves: a release on entry, an acquisition on
 * return, and the re-lock contention in between, estimated as follows.
 *
 * We cannot see the instant a waiter was woken, only the last signal or
 * broadcast on the cond (its hook stamps the time when the cond has known
 * waiters). t_return - max(t_signal, t_enter) is wake-up latency plus the
 * time spent queueing for the mutex; only the part above
 * LK_RELOCK_THRESHOLD_NS is treated as contention, so a plain wake-up
 * (scheduler latency) is not. A broadcast to many waiters that then pile up
 * on the mutex shows as one contention per late waiter, waiting since the
 * broadcast. Signals that are older than the wait's start (t_signal <
 * t_enter: we missed the signal that woke us) are not used. The slot table
 * is direct-mapped by cond address; a cond whose slot is taken by another
 * cond with waiters goes unaccounted.
 */
#include "lockstate.h"

#include <errno.h>
#include <string.h>

#define LK_COND_BITS 10
/* Measured here (2-vCPU VM, signal -> return from pthread_cond_wait with
 * an idle mutex): p50 4-10 us, p90 12-29 us, p99 25-60 us. */
#define LK_RELOCK_THRESHOLD_NS 100000ull
typedef struct lk_cond_slot {
    _Atomic uint64_t addr;
    _Atomic uint64_t t_signal;
    _Atomic uint32_t waiters;
    uint32_t pad[3];
} lk_cond_slot;
static lk_cond_slot lk_conds[1u << LK_COND_BITS];

typedef struct lk_cw {
    lk_cond_slot *slot;
    pthread_mutex_t *m;
    uint64_t t_enter;
} lk_cw;

static lk_cond_slot *lk_cond_claim(const pthread_cond_t *c)
{
    lk_cond_slot *s = &lk_conds[lk_hash((uintptr_t)c, LK_COND_BITS)];
    uint64_t cur = atomic_load_explicit(&s->addr, memory_order_relaxed);
    if (cur != (uintptr_t)c) {
        if (atomic_load_explicit(&s->waiters, memory_order_relaxed) != 0)
            return NULL;
        if (!atomic_compare_exchange_strong(&s->addr, &cur, (uintptr_t)c) && cur != (uintptr_t)c)
            return NULL;
    }
    atomic_fetch_add_explicit(&s->waiters, 1, memory_order_relaxed);
    return s;
}

static MP_NOINLINE void lk_cond_enter(lk_cw *cw, pthread_cond_t *c, pthread_mutex_t *m)
{
    lk_rel r;
    cw->m = m;
    /* The real unlock happens inside the wait, so the holder's stack is
     * taken just before it (only when the mutex has waiters). */
    if (lk_maybe_tracked(m) && lk_release_begin(m, MP_LOCK_MUTEX, &r))
        lk_release_end(m, MP_LOCK_MUTEX, &r);
    lk_flush_pending();   /* about to block: no critical section to keep short */
    cw->slot = lk_cond_claim(c);
    cw->t_enter = mp_now_ns();
}

static MP_NOINLINE void lk_cond_leave(lk_cw *cw, int rc)
{
    if (cw->slot) {
        uint64_t t_ret = mp_now_ns();
        uint64_t ts = atomic_load_explicit(&cw->slot->t_signal, memory_order_relaxed);
        atomic_fetch_sub_explicit(&cw->slot->waiters, 1, memory_order_relaxed);
        /* A signal stamped after t_ret (another notify meanwhile) is not ours. */
        if (rc == 0 && ts >= cw->t_enter && ts < t_ret && t_ret - ts > LK_RELOCK_THRESHOLD_NS)
            lk_record_wait(cw->m, MP_LOCK_MUTEX, t_ret - ts, true);
    }
    if (rc == 0 || rc == ETIMEDOUT || rc == EOWNERDEAD)   /* the mutex is held again */
        lk_acquired_slow(cw->m, MP_LOCK_MUTEX);
}

static inline void lk_cond_signalled(const pthread_cond_t *c)
{
    if (!lk_on())
        return;
    lk_cond_slot *s = &lk_conds[lk_hash((uintptr_t)c, LK_COND_BITS)];
    if (MP_UNLIKELY(atomic_load_explicit(&s->addr, memory_order_relaxed) == (uintptr_t)c) &&
        atomic_load_explicit(&s->waiters, memory_order_relaxed) != 0)
        atomic_store_explicit(&s->t_signal, mp_now_ns(), memory_order_relaxed);
}

#define LK_COND_WAIT(c, m, WAIT)                                                           \
    do {                                                                                   \
        if (!lk_on())                                                                      \
            return WAIT;                                                                   \
        lk_cw cw_;                                                                         \
        lk_cond_enter(&cw_, c, m);                                                         \
        int rc_ = WAIT;                                                                    \
        lk_cond_leave(&cw_, rc_);                                                          \
        return rc_;                                                                        \
    } while (0)

void lk_cond_after_fork_child(void)
{
    memset(lk_conds, 0, sizeof(lk_conds));
}

int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    LK_COND_WAIT(c, m, LK_REAL(cond_wait)(c, m));
}

int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *at)
{
    LK_COND_WAIT(c, m, LK_REAL(cond_timedwait)(c, m, at));
}

int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
                           const struct timespec *at)
{
    LK_COND_WAIT(c, m, LK_REAL(cond_clockwait)(c, m, clk, at));
}

int pthread_cond_signal(pthread_cond_t *c)
{
    lk_cond_signalled(c);
    return LK_REAL(cond_signal)(c);
}

int pthread_cond_broadcast(pthread_cond_t *c)
{
    lk_cond_signalled(c);
    return LK_REAL(cond_broadcast)(c);
}
