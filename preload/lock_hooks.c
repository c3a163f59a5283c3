/*
 * lock_hooks.c - pthread lock interposers: the application-thread side of
 * lock profiling.
 *
 * A blocking acquire of a mutex or spinlock first peeks at the lock word:
 * free and never contended (one byte-map load, lock_table.c) means a tail
 * call to the real lock and nothing else; no clock, no table, no stack.
 * A busy lock takes the slow path: the real trylock tells contention
 * (EBUSY) from an owner's re-lock; on contention the waiter captures its
 * stack (while it would be waiting anyway), times the real blocking call
 * and emits LOCK_WAIT. rwlocks, which have no single word to peek at, start
 * with the trylock. Locks seen contended get an entry in the table and
 * their byte in the map; from then on acquisitions are timed in a small
 * per-thread array, and an unlock that finds waiters blames the unlocker
 * (Go's mutex profile blames the unlocker too): see lockstate.h for how
 * the waiter and the holder meet. Condition variables: lock_cond.c.
 *
 * Invisible by construction: glibc-internal locks (stdio, dlopen, malloc
 * arenas) and futex-based user locks, which never go through the PLT.
 */
#include "lockstate.h"

#include <errno.h>

/* Spinlocks are volatile ints; the address is all we keep. */
#define LK_ADDR(p) ((const void *)(uintptr_t)(p))

/* ------------------------------------------------------------------------
 * The inline halves: what a fast path decides before calling lock_acct.c.
 * ---------------------------------------------------------------------- */
/* The calling thread acquired addr without waiting in a blocking call. */
static inline void lk_acquired(const void *addr, uint16_t kind)
{
    if (MP_UNLIKELY(lk_maybe_tracked(addr)))
        lk_acquired_slow(addr, kind);
}

/* After a real trylock of any kind: keeps hold and spin accounting. */
static inline int lk_after_try(const void *addr, uint16_t kind, int rc)
{
    if (rc == 0 || rc == EOWNERDEAD)
        lk_acquired(addr, kind);
    else if (rc == EBUSY)
        lk_try_failed(addr);
    return rc;
}

/*
 * What a blocking acquire does once its real trylock returned rc (the
 * contended or unusual case, out of line so the fast paths need no stack
 * frame). A trylock error other than EBUSY (EDEADLK of an error-checking
 * mutex, EAGAIN, EINVAL...) hands over to the real blocking call, whose
 * result the caller gets untouched; EOWNERDEAD means the robust mutex was
 * acquired and must not be locked again. On contention (EBUSY) w is begun
 * and the caller must pass the blocking call's result to lk_contend_end.
 */
typedef enum { LK_ACQUIRED, LK_BLOCK, LK_BLOCK_TIMED } lk_next;

static inline __attribute__((always_inline)) lk_next lk_after_trylock(const void *addr, uint16_t kind, int rc, lk_wait *w)
{
    if (!lk_on())
        return rc == 0 || rc == EOWNERDEAD ? LK_ACQUIRED : LK_BLOCK;
    if (rc == 0 || rc == EOWNERDEAD) {
        lk_acquired_slow(addr, kind);
        return LK_ACQUIRED;
    }
    if (rc != EBUSY)
        return LK_BLOCK;
    lk_contend_begin(w, addr, kind);
    return LK_BLOCK_TIMED;
}

/* The blocking call's result rc, timed as contention when it was one. */
static inline int lk_after_block(lk_next next, lk_wait *w, int rc)
{
    if (next == LK_BLOCK_TIMED)
        lk_contend_end(w, rc);
    return rc;
}

/*
 * The fast path of locks whose word we can read (mutexes, spinlocks): peek
 * at it, and when it is free and the lock is not tracked, tail-call the
 * real blocking call. No trylock, no stack frame, no clock. A lock that is
 * taken by someone else in the nanoseconds between the peek and the real
 * call is waited for unseen; any other busy lock goes to the slow path,
 * which starts with the trylock that tells contention from an owner's
 * recursive or erroneous re-lock. The peek is a hint, so relaxed.
 *
 * The map byte comes first: a lock known contended goes straight to the
 * trylock, whose compare-and-swap asks for its line once; a peek at a
 * word another core holds first fetched the line shared and then again
 * exclusive.
 *
 * rwlocks, which readers share, have no single word to peek at: their fast
 * path is the real trylock and one byte-map load. Whether profiling is on at
 * all is only asked on the slow paths: an acquisition of an untracked lock
 * has nothing to record either way.
 */
static inline bool lk_mutex_free_untracked(pthread_mutex_t *m)
{
    return MP_LIKELY(!lk_maybe_tracked(m)) &&
           MP_LIKELY(!lk_int_nonzero(&m->__data.__lock));
}

/* glibc's x86 spinlock counts down (lock decl): 1 is free, 0 and below
 * taken. Its generic one is a flag: 0 is free. */
#if defined(__x86_64__) || defined(__i386__)
#define LK_SPIN_FREE 1
#else
#define LK_SPIN_FREE 0
#endif

static inline bool lk_spin_free_untracked(pthread_spinlock_t *s)
{
    return MP_LIKELY(__atomic_load_n(s, __ATOMIC_RELAXED) == LK_SPIN_FREE) &&
           MP_LIKELY(!lk_maybe_tracked(LK_ADDR(s)));
}

/* Acquired, and nothing to record: never contended, or quiet. */
static inline bool lk_rwlock_got_quiet(int rc, pthread_rwlock_t *l)
{
    return MP_LIKELY(rc == 0) && (MP_LIKELY(!lk_maybe_tracked(l)) || lk_acquired_quiet(l));
}

static inline void lk_forget(const void *addr)
{
    if (lk_on() && MP_UNLIKELY(lk_maybe_tracked(addr)))
        lk_forget_slow(addr);
}

/* ------------------------------------------------------------------------
 * Release: the slow half of every unlock, around the real unlock.
 * ---------------------------------------------------------------------- */
/* After the real unlock of a lock lk_release_begin looked at. */
static void lk_release_done(const void *addr, uint16_t kind, bool end, const lk_rel *r)
{
    if (end)
        lk_release_end(addr, kind, r);
    lk_flush_event();
}

/* ------------------------------------------------------------------------
 * The interposers, one function each, over the helpers above. A blocking
 * acquire is a fast path (inline, a tail call to the real function) and a
 * _slow twin out of line; trylocks, unlocks, init and destroy follow.
 * ---------------------------------------------------------------------- */

/* ---- mutexes ---- */

static MP_NOINLINE int lk_mutex_lock_rest(pthread_mutex_t *m, int rc)
{
    lk_wait w;
    lk_next next = lk_after_trylock(m, MP_LOCK_MUTEX, rc, &w);
    if (next == LK_ACQUIRED)
        return rc;
    return lk_after_block(next, &w, LK_REAL(mutex_lock)(m));
}

/* The real trylock first: acquired with nothing to record is the common
 * case of a lock known contended. */
static MP_NOINLINE int lk_mutex_lock_slow(pthread_mutex_t *m)
{
    int rc = LK_REAL(mutex_trylock)(m);
    if (MP_LIKELY(rc == 0) && lk_mutex_acquired_quiet(m))
        return 0;
    return lk_mutex_lock_rest(m, rc);
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
    if (lk_mutex_free_untracked(m))
        return LK_REAL(mutex_lock)(m);
    return lk_mutex_lock_slow(m);
}

static MP_NOINLINE int lk_mutex_timedlock_rest(pthread_mutex_t *m, int rc, const struct timespec *at)
{
    lk_wait w;
    lk_next next = lk_after_trylock(m, MP_LOCK_MUTEX, rc, &w);
    if (next == LK_ACQUIRED)
        return rc;
    return lk_after_block(next, &w, LK_REAL(mutex_timedlock)(m, at));
}

static MP_NOINLINE int lk_mutex_timedlock_slow(pthread_mutex_t *m, const struct timespec *at)
{
    int rc = LK_REAL(mutex_trylock)(m);
    if (MP_LIKELY(rc == 0) && lk_mutex_acquired_quiet(m))
        return 0;
    return lk_mutex_timedlock_rest(m, rc, at);
}

int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *at)
{
    if (lk_mutex_free_untracked(m))
        return LK_REAL(mutex_timedlock)(m, at);
    return lk_mutex_timedlock_slow(m, at);
}

static MP_NOINLINE int lk_mutex_clocklock_rest(pthread_mutex_t *m, int rc, clockid_t clk, const struct timespec *at)
{
    lk_wait w;
    lk_next next = lk_after_trylock(m, MP_LOCK_MUTEX, rc, &w);
    if (next == LK_ACQUIRED)
        return rc;
    return lk_after_block(next, &w, LK_REAL(mutex_clocklock)(m, clk, at));
}

static MP_NOINLINE int lk_mutex_clocklock_slow(pthread_mutex_t *m, clockid_t clk, const struct timespec *at)
{
    int rc = LK_REAL(mutex_trylock)(m);
    if (MP_LIKELY(rc == 0) && lk_mutex_acquired_quiet(m))
        return 0;
    return lk_mutex_clocklock_rest(m, rc, clk, at);
}

int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk, const struct timespec *at)
{
    if (lk_mutex_free_untracked(m))
        return LK_REAL(mutex_clocklock)(m, clk, at);
    return lk_mutex_clocklock_slow(m, clk, at);
}

int pthread_mutex_trylock(pthread_mutex_t *m)
{
    int rc = LK_REAL(mutex_trylock)(m);
    return lk_on() ? lk_after_try(m, MP_LOCK_MUTEX, rc) : rc;
}

static MP_NOINLINE int lk_mutex_unlock_slow(pthread_mutex_t *m)
{
    if (!lk_on())
        return LK_REAL(mutex_unlock)(m);
    lk_rel r;
    bool end = lk_release_begin(m, MP_LOCK_MUTEX, &r);
    int rc = LK_REAL(mutex_unlock)(m);
    lk_release_done(m, MP_LOCK_MUTEX, end, &r);
    return rc;
}

int pthread_mutex_unlock(pthread_mutex_t *m)
{
    if (MP_UNLIKELY(lk_maybe_tracked(m)) && !lk_mutex_release_quiet(m))
        return lk_mutex_unlock_slow(m);
    return LK_REAL(mutex_unlock)(m);
}

int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
    lk_forget(m);
    return LK_REAL(mutex_init)(m, attr);
}

int pthread_mutex_destroy(pthread_mutex_t *m)
{
    lk_forget(m);
    return LK_REAL(mutex_destroy)(m);
}

/* ---- rwlocks ---- */

static MP_NOINLINE int lk_rwlock_rdlock_slow(pthread_rwlock_t *l, int rc)
{
    lk_wait w;
    lk_next next = lk_after_trylock(l, MP_LOCK_RWLOCK, rc, &w);
    if (next == LK_ACQUIRED)
        return rc;
    return lk_after_block(next, &w, LK_REAL(rwlock_rdlock)(l));
}

int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
    int rc = LK_REAL(rwlock_tryrdlock)(l);
    if (lk_rwlock_got_quiet(rc, l))
        return 0;
    return lk_rwlock_rdlock_slow(l, rc);
}

static MP_NOINLINE int lk_rwlock_wrlock_slow(pthread_rwlock_t *l, int rc)
{
    lk_wait w;
    lk_next next = lk_after_trylock(l, MP_LOCK_RWLOCK, rc, &w);
    if (next == LK_ACQUIRED)
        return rc;
    return lk_after_block(next, &w, LK_REAL(rwlock_wrlock)(l));
}

int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
    int rc = LK_REAL(rwlock_trywrlock)(l);
    if (lk_rwlock_got_quiet(rc, l))
        return 0;
    return lk_rwlock_wrlock_slow(l, rc);
}

static MP_NOINLINE int lk_rwlock_timedrdlock_slow(pthread_rwlock_t *l, int rc,
                                                  const struct timespec *at)
{
    lk_wait w;
    lk_next next = lk_after_trylock(l, MP_LOCK_RWLOCK, rc, &w);
    if (next == LK_ACQUIRED)
        return rc;
    return lk_after_block(next, &w, LK_REAL(rwlock_timedrdlock)(l, at));
}

int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *at)
{
    int rc = LK_REAL(rwlock_tryrdlock)(l);
    if (lk_rwlock_got_quiet(rc, l))
        return 0;
    return lk_rwlock_timedrdlock_slow(l, rc, at);
}

static MP_NOINLINE int lk_rwlock_timedwrlock_slow(pthread_rwlock_t *l, int rc,
                                                  const struct timespec *at)
{
    lk_wait w;
    lk_next next = lk_after_trylock(l, MP_LOCK_RWLOCK, rc, &w);
    if (next == LK_ACQUIRED)
        return rc;
    return lk_after_block(next, &w, LK_REAL(rwlock_timedwrlock)(l, at));
}

int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *at)
{
    int rc = LK_REAL(rwlock_trywrlock)(l);
    if (lk_rwlock_got_quiet(rc, l))
        return 0;
    return lk_rwlock_timedwrlock_slow(l, rc, at);
}

static MP_NOINLINE int lk_rwlock_clockrdlock_slow(pthread_rwlock_t *l, int rc, clockid_t clk,
                                                  const struct timespec *at)
{
    lk_wait w;
    lk_next next = lk_after_trylock(l, MP_LOCK_RWLOCK, rc, &w);
    if (next == LK_ACQUIRED)
        return rc;
    return lk_after_block(next, &w, LK_REAL(rwlock_clockrdlock)(l, clk, at));
}

int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t clk, const struct timespec *at)
{
    int rc = LK_REAL(rwlock_tryrdlock)(l);
    if (lk_rwlock_got_quiet(rc, l))
        return 0;
    return lk_rwlock_clockrdlock_slow(l, rc, clk, at);
}

static MP_NOINLINE int lk_rwlock_clockwrlock_slow(pthread_rwlock_t *l, int rc, clockid_t clk,
                                                  const struct timespec *at)
{
    lk_wait w;
    lk_next next = lk_after_trylock(l, MP_LOCK_RWLOCK, rc, &w);
    if (next == LK_ACQUIRED)
        return rc;
    return lk_after_block(next, &w, LK_REAL(rwlock_clockwrlock)(l, clk, at));
}

int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clk, const struct timespec *at)
{
    int rc = LK_REAL(rwlock_trywrlock)(l);
    if (lk_rwlock_got_quiet(rc, l))
        return 0;
    return lk_rwlock_clockwrlock_slow(l, rc, clk, at);
}

int pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
    int rc = LK_REAL(rwlock_tryrdlock)(l);
    return lk_on() ? lk_after_try(l, MP_LOCK_RWLOCK, rc) : rc;
}

int pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
    int rc = LK_REAL(rwlock_trywrlock)(l);
    return lk_on() ? lk_after_try(l, MP_LOCK_RWLOCK, rc) : rc;
}

static MP_NOINLINE int lk_rwlock_unlock_slow(pthread_rwlock_t *l)
{
    if (!lk_on())
        return LK_REAL(rwlock_unlock)(l);
    lk_rel r;
    bool end = lk_release_begin(l, MP_LOCK_RWLOCK, &r);
    int rc = LK_REAL(rwlock_unlock)(l);
    lk_release_done(l, MP_LOCK_RWLOCK, end, &r);
    return rc;
}

int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
    if (MP_UNLIKELY(lk_maybe_tracked(l)) && !lk_release_quiet(l))
        return lk_rwlock_unlock_slow(l);
    return LK_REAL(rwlock_unlock)(l);
}

int pthread_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *attr)
{
    lk_forget(l);
    return LK_REAL(rwlock_init)(l, attr);
}

int pthread_rwlock_destroy(pthread_rwlock_t *l)
{
    lk_forget(l);
    return LK_REAL(rwlock_destroy)(l);
}

/* ---- spinlocks (volatile ints: the address is all we keep) ---- */

static MP_NOINLINE int lk_spin_lock_rest(pthread_spinlock_t *s, int rc)
{
    lk_wait w;
    lk_next next = lk_after_trylock(LK_ADDR(s), MP_LOCK_SPIN, rc, &w);
    if (next == LK_ACQUIRED)
        return rc;
    return lk_after_block(next, &w, LK_REAL(spin_lock)(s));
}

static MP_NOINLINE int lk_spin_lock_slow(pthread_spinlock_t *s)
{
    int rc = LK_REAL(spin_trylock)(s);
    if (MP_LIKELY(rc == 0) && lk_acquired_quiet(LK_ADDR(s)))
        return 0;
    return lk_spin_lock_rest(s, rc);
}

int pthread_spin_lock(pthread_spinlock_t *s)
{
    if (lk_spin_free_untracked(s))
        return LK_REAL(spin_lock)(s);
    return lk_spin_lock_slow(s);
}

int pthread_spin_trylock(pthread_spinlock_t *s)
{
    int rc = LK_REAL(spin_trylock)(s);
    return lk_on() ? lk_after_try(LK_ADDR(s), MP_LOCK_SPIN, rc) : rc;
}

static MP_NOINLINE int lk_spin_unlock_slow(pthread_spinlock_t *s)
{
    if (!lk_on())
        return LK_REAL(spin_unlock)(s);
    lk_rel r;
    bool end = lk_release_begin(LK_ADDR(s), MP_LOCK_SPIN, &r);
    int rc = LK_REAL(spin_unlock)(s);
    lk_release_done(LK_ADDR(s), MP_LOCK_SPIN, end, &r);
    return rc;
}

int pthread_spin_unlock(pthread_spinlock_t *s)
{
    if (MP_UNLIKELY(lk_maybe_tracked(LK_ADDR(s))) && !lk_release_quiet(LK_ADDR(s)))
        return lk_spin_unlock_slow(s);
    return LK_REAL(spin_unlock)(s);
}

int pthread_spin_init(pthread_spinlock_t *s, int pshared)
{
    lk_forget(LK_ADDR(s));
    return LK_REAL(spin_init)(s, pshared);
}

int pthread_spin_destroy(pthread_spinlock_t *s)
{
    lk_forget(LK_ADDR(s));
    return LK_REAL(spin_destroy)(s);
}
