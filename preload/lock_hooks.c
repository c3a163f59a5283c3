/*
 * lock_hooks.c - pthread lock interposers: the application-thread side of
 * lock profiling.
 *
 * A blocking acquire of a mutex or spinlock first peeks at the lock word:
 * free and never contended (one bitmap load, lock_table.c) means a tail
 * call to the real lock and nothing else; no clock, no table, no stack.
 * A busy lock takes the slow path: the real trylock tells contention
 * (EBUSY) from an owner's re-lock; on contention the waiter captures its
 * stack (while it would be waiting anyway), times the real blocking call
 * and emits LOCK_WAIT. rwlocks, which have no single word to peek at, start
 * with the trylock. Locks seen contended get an entry in the table and
 * their bitmap bit; from then on acquisitions are timed in a small
 * per-thread array, and an unlock that finds waiters blames the unlocker
 * (Go's mutex profile blames the unlocker too): see lockstate.h for how
 * the waiter and the holder meet. Condition variables: lock_cond.c.
 *
 * Invisible by construction: glibc-internal locks (stdio, dlopen, malloc
 * arenas) and futex-based user locks, which never go through the PLT.
 */
#include "lockstate.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* Spinlocks are volatile ints; the address is all we keep. */
#define LK_ADDR(p) ((const void *)(uintptr_t)(p))

/* ------------------------------------------------------------------------
 * Per-thread state: locks this thread holds that are known contended, and
 * a pending trylock-spin episode.
 * ---------------------------------------------------------------------- */
#define LK_HELD_MAX 8
typedef struct lk_held {
    const void *addr;
    lk_entry *e;
    uint64_t t_acquire;
    uint32_t depth;       /* recursive re-acquisitions by this thread */
    uint32_t pad;
} lk_held;
static MP_TLS lk_held lk_held_tab[LK_HELD_MAX];
static MP_TLS int lk_nheld;

/* Failed trylocks: a trylock-spin loop never calls the blocking lock, yet
 * it waits. Each run of EBUSY results on one lock that ends in this thread
 * acquiring it counts as one contention, waiting from the first EBUSY to the
 * acquisition (no event per failed try: a spin fails millions of times).
 * One run is pending per thread; an EBUSY on another lock starts a new one.
 * Code that fails, does other work and succeeds later is charged the time
 * in between: it was denied the lock that long. A failed trylock is
 * contention, so its lock enters the table; the acquire fast paths then
 * need not look at lk_spin_addr: a lock with a pending run has its bit. */
static MP_TLS const void *lk_spin_addr;
static MP_TLS uint64_t lk_spin_t0;

/* Every lock event goes out through here: the push is a slow path. */
static void lk_send(const mp_event *ev)
{
    mp_hook_enter();
    mp_emit(ev);
    mp_hook_leave();
}


/*
 * Remembers that this thread now holds a tracked lock. t is the acquisition
 * time when the caller has it; otherwise the clock is read only if others
 * are already queued: a hold that starts with nobody waiting is usually
 * uncontended, and reading the clock on every acquisition of a hot lock
 * was a third of the profiler's cost on it. Such holds report 0 ns.
 */
static void lk_track(const void *addr, lk_entry *e, uint64_t t)
{
    for (int i = lk_nheld - 1; i >= 0; i--) {
        if (lk_held_tab[i].addr == addr) {
            lk_held_tab[i].depth++;   /* recursive mutex or nested read lock */
            return;
        }
    }
    atomic_fetch_add_explicit(&e->acquisitions, 1, memory_order_relaxed);
    if (lk_nheld == LK_HELD_MAX)
        return;   /* holds this deep go untimed; the unlock still blames */
    if (!t && atomic_load_explicit(&e->waiters, memory_order_relaxed) > 0)
        t = mp_now_ns();
    lk_held_tab[lk_nheld++] = (lk_held){addr, e, t, 1, 0};
}

/*
 * Stacks of contention, waiter's and holder's. A hot lock is taken and
 * released from the same few places over and over: unwinding every time
 * cost a third of a contended program's time (measured: 174k holder
 * unwinds for 73 contentions when one thread keeps re-taking the lock, and
 * 511k waiter unwinds when it does not). So each thread unwinds at most
 * once per LK_STACK_REFRESH_NS per lock and role, and reuses that stack in
 * between. That is a time sample of its call sites: a thread that waits
 * for (or releases) one lock from several places within the window has
 * them charged to the site seen at the start of the window. Counts and
 * times stay exact; only the split between sites is sampled.
 */
enum { LK_ROLE_WAITER, LK_ROLE_HOLDER, LK_NROLES };
#define LK_STACK_CACHE_BITS 2
#define LK_STACK_REFRESH_NS 2000000ull   /* on the coarse clock (ticks of 1-4 ms) */
typedef struct lk_cached_stack {
    const void *addr;
    uint64_t t_capture;
    uint32_t stack;
} lk_cached_stack;
static MP_TLS lk_cached_stack lk_stack_cache[LK_NROLES][1u << LK_STACK_CACHE_BITS];

/* The cache's clock: freshness at millisecond grain needs no more than
 * the coarse clock, which is a load, not a TSC read and a conversion. */
static uint64_t lk_coarse_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* This thread's recent stack for addr in role, or MP_NO_STACK. */
static uint32_t lk_stack_cached(const void *addr, int role)
{
    const lk_cached_stack *c =
        &lk_stack_cache[role][lk_hash((uintptr_t)addr, LK_STACK_CACHE_BITS)];
    if (c->addr == addr && lk_coarse_ns() - c->t_capture < LK_STACK_REFRESH_NS)
        return c->stack;
    return MP_NO_STACK;
}

/* This thread's stack for addr in role: the cached one, or a new unwind. */
static uint32_t lk_stack(const void *addr, int role)
{
    uint32_t stack = lk_stack_cached(addr, role);
    if (stack != MP_NO_STACK)
        return stack;
    mp_hook_enter();
    stack = mp_capture_stack();
    mp_hook_leave();
    lk_stack_cache[role][lk_hash((uintptr_t)addr, LK_STACK_CACHE_BITS)] =
        (lk_cached_stack){addr, lk_coarse_ns(), stack};
    return stack;
}

/*
 * Emits the WAIT of a waiter that now holds e's lock. When the release
 * that let it in published its holder's stack (lk_release_begin), the
 * event names the holder itself (LOCK_BLAMED); otherwise it carries the
 * release's number for the collector to join with that release's HOLD.
 * Both words are read while holding the lock, so no release of a mutex
 * can come in between.
 */
static mp_event lk_wait_event(const void *addr, uint16_t kind, uint32_t stack, lk_entry *e,
                              uint32_t gen, bool acquired, uint64_t wait_ns)
{
    uint32_t seq = 0;
    if (e && acquired) {
        seq = atomic_load_explicit(&e->rel_seq, memory_order_acquire);
        uint64_t blame = atomic_load_explicit(&e->blame, memory_order_relaxed);
        if (seq != 0 && (uint32_t)(blame >> 32) == seq)
            return (mp_event){.type = MP_EV_LOCK_BLAMED, .kind = kind, .gen = gen,
                              .blamed = {.addr = (uintptr_t)addr, .stack = stack,
                                         .holder = (uint32_t)blame, .wait_ns = wait_ns}};
    }
    return (mp_event){.type = MP_EV_LOCK_WAIT, .kind = kind, .gen = gen,
                      .wait = {.addr = (uintptr_t)addr, .stack = stack, .seq = seq,
                               .wait_ns = wait_ns}};
}

/*
 * The WAIT of a contended acquisition is built while the lock is held (the
 * release numbers are only consistent then) but sent after the thread
 * releases it: pushing it from inside the critical section the other
 * waiters queue for lengthened it, and on a hot lock that cost more wall
 * time than anything else the profiler did. One per thread; a second
 * contention before the release sends the first at once.
 */
static MP_TLS mp_event lk_pending;   /* type 0: none */

void lk_flush_pending(void)
{
    if (MP_LIKELY(lk_pending.type == 0))
        return;
    mp_event ev = lk_pending;
    lk_pending.type = 0;
    lk_send(&ev);
    MP_COUNT(lock_contentions);
}

/* Records one contention: the calling thread waited wait_ns for addr. */
void lk_record_wait(const void *addr, uint16_t kind, uint64_t wait_ns, bool acquired)
{
    uint32_t stack = lk_stack(addr, LK_ROLE_WAITER);
    lk_entry *e = lk_lookup((uintptr_t)addr, true);
    uint32_t gen = e ? atomic_load_explicit(&e->gen, memory_order_relaxed) : 0;
    mp_event ev = lk_wait_event(addr, kind, stack, e, gen, acquired, wait_ns);
    lk_send(&ev);
    MP_COUNT(lock_contentions);
}

static MP_NOINLINE void lk_spin_end(const void *addr, uint16_t kind)
{
    lk_spin_addr = NULL;
    lk_record_wait(addr, kind, mp_now_ns() - lk_spin_t0, true);
}

MP_NOINLINE void lk_acquired_slow(const void *addr, uint16_t kind)
{
    if (lk_spin_addr == addr)
        lk_spin_end(addr, kind);
    if (!lk_maybe_tracked(addr))
        return;
    lk_entry *e = lk_lookup((uintptr_t)addr, false);
    if (e)
        lk_track(addr, e, 0);
}

/* The calling thread acquired addr without waiting in a blocking call. */
static inline void lk_acquired(const void *addr, uint16_t kind)
{
    if (MP_UNLIKELY(lk_maybe_tracked(addr)))
        lk_acquired_slow(addr, kind);
}

static MP_NOINLINE void lk_try_failed(const void *addr)
{
    if (lk_spin_addr != addr && lk_lookup((uintptr_t)addr, true)) {
        lk_spin_addr = addr;
        lk_spin_t0 = mp_now_ns();
    }
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

/* ------------------------------------------------------------------------
 * The contended path of a blocking acquire.
 * ---------------------------------------------------------------------- */
typedef struct lk_wait {
    const void *addr;
    lk_entry *e;
    uint32_t stack;
    uint32_t gen;
    uint64_t t0;
    uint16_t kind;
} lk_wait;

static MP_NOINLINE void lk_contend_begin(lk_wait *w, const void *addr, uint16_t kind)
{
    w->addr = addr;
    w->kind = kind;
    if (lk_spin_addr == addr)
        lk_spin_addr = NULL;   /* the blocking wait supersedes the spin */
    /* Unwind now, while the lock is busy anyway, not after acquiring it
     * (inside the critical section others are waiting for). */
    w->stack = lk_stack(addr, LK_ROLE_WAITER);
    w->e = lk_lookup((uintptr_t)addr, true);
    w->gen = w->e ? atomic_load_explicit(&w->e->gen, memory_order_relaxed) : 0;
    if (w->e)
        atomic_fetch_add_explicit(&w->e->waiters, 1, memory_order_relaxed);
    w->t0 = mp_now_ns();   /* after the unwind: that is not waiting */
}

/* rc is the real call's result: 0/EOWNERDEAD acquired, ETIMEDOUT a wait
 * without acquisition (still contention), anything else is an error the
 * caller gets untouched and that is not a wait (EDEADLK, EINVAL, ...). */
static MP_NOINLINE void lk_contend_end(lk_wait *w, int rc)
{
    uint64_t t1 = mp_now_ns();
    bool acquired = rc == 0 || rc == EOWNERDEAD;
    if (w->e) {
        atomic_fetch_sub_explicit(&w->e->waiters, 1, memory_order_relaxed);
        if (acquired)
            lk_track(w->addr, w->e, t1);
    }
    if (!acquired && rc != ETIMEDOUT)
        return;
    lk_flush_pending();
    lk_pending = lk_wait_event(w->addr, w->kind, w->stack, w->e, w->gen, acquired, t1 - w->t0);
    /* Not held (timed out), or not in the table (its unlock may skip the
     * slow path that sends it): now. */
    if (!acquired || !w->e)
        lk_flush_pending();
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
 * rwlocks, which readers share, have no single word to peek at: their fast
 * path is the real trylock and one bitmap load. Whether profiling is on at
 * all is only asked on the slow paths: an acquisition of an untracked lock
 * has nothing to record either way.
 */
static inline bool lk_mutex_free_untracked(pthread_mutex_t *m)
{
    return MP_LIKELY(__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == 0) &&
           MP_LIKELY(!lk_maybe_tracked(m));
}

static inline bool lk_spin_free_untracked(pthread_spinlock_t *s)
{
    return MP_LIKELY(__atomic_load_n(s, __ATOMIC_RELAXED) == 0) &&
           MP_LIKELY(!lk_maybe_tracked(LK_ADDR(s)));
}

static inline bool lk_rwlock_got_untracked(int rc, pthread_rwlock_t *l)
{
    return MP_LIKELY(rc == 0) && MP_LIKELY(!lk_maybe_tracked(l));
}

/* ------------------------------------------------------------------------
 * Release: blame the holder when waiters are present.
 * ---------------------------------------------------------------------- */
/* Runs before the real unlock; true when lk_release_end must follow it. */
MP_NOINLINE bool lk_release_begin(const void *addr, lk_rel *r)
{
    int i = lk_nheld - 1;
    while (i >= 0 && lk_held_tab[i].addr != addr)
        i--;
    if (i >= 0 && --lk_held_tab[i].depth > 0)
        return false;   /* an inner unlock of a recursive hold */
    lk_entry *e = i >= 0 ? lk_held_tab[i].e : lk_lookup((uintptr_t)addr, false);
    uint64_t t_acquire = i >= 0 ? lk_held_tab[i].t_acquire : 0;
    if (i >= 0)
        lk_held_tab[i] = lk_held_tab[--lk_nheld];
    if (!e)
        return false;
    r->seq = atomic_fetch_add_explicit(&e->rel_seq, 1, memory_order_release) + 1;
    if (atomic_load_explicit(&e->waiters, memory_order_relaxed) == 0)
        return false;
    r->e = e;
    r->t_acquire = t_acquire;
    r->gen = atomic_load_explicit(&e->gen, memory_order_relaxed);
    /* With a recent stack at hand, the waiter we let in can name us
     * directly (lk_wait_event), and no HOLD event is needed. Without one,
     * the unwind waits until after the unlock and the collector joins. */
    r->stack = lk_stack_cached(addr, LK_ROLE_HOLDER);
    if (r->stack != MP_NO_STACK)
        atomic_store_explicit(&e->blame, (uint64_t)r->seq << 32 | r->stack,
                              memory_order_relaxed);
    return true;
}

/* Runs after the real unlock, so the unwind does not lengthen the critical
 * section; the stack is still the unlocker's. */
MP_NOINLINE void lk_release_end(const void *addr, uint16_t kind, const lk_rel *r)
{
    uint64_t hold_ns = r->t_acquire ? mp_now_ns() - r->t_acquire : 0;
    if (r->stack != MP_NO_STACK) {
        atomic_fetch_add_explicit(&r->e->hold_ns, hold_ns, memory_order_relaxed);
        atomic_fetch_add_explicit(&r->e->holds, 1, memory_order_relaxed);
        return;
    }
    mp_event ev = {.type = MP_EV_LOCK_HOLD, .kind = kind, .gen = r->gen,
                   .hold = {.addr = (uintptr_t)addr, .stack = lk_stack(addr, LK_ROLE_HOLDER),
                            .seq = r->seq, .hold_ns = hold_ns}};
    lk_send(&ev);
}

/* init or destroy of addr: whatever lives there next is a new lock. */
static MP_NOINLINE void lk_forget_slow(const void *addr)
{
    lk_entry *e = lk_lookup((uintptr_t)addr, false);
    if (!e)
        return;
    uint32_t old = atomic_fetch_add_explicit(&e->gen, 1, memory_order_relaxed);
    uint64_t acq = atomic_exchange_explicit(&e->acquisitions, 0, memory_order_relaxed);
    uint64_t hold_ns = atomic_exchange_explicit(&e->hold_ns, 0, memory_order_relaxed);
    uint64_t holds = atomic_exchange_explicit(&e->holds, 0, memory_order_relaxed);
    atomic_store_explicit(&e->waiters, 0, memory_order_relaxed);
    if (holds) {
        mp_event ev = {.type = MP_EV_LOCK_HOLDS, .gen = old,
                       .holds = {.addr = (uintptr_t)addr, .holds = holds, .hold_ns = hold_ns}};
        lk_send(&ev);
    }
    mp_event ev = {.type = MP_EV_LOCK_DEAD, .gen = old,
                   .dead = {.addr = (uintptr_t)addr, .acquisitions = acq}};
    lk_send(&ev);
}

static inline void lk_forget(const void *addr)
{
    if (lk_on() && MP_UNLIKELY(lk_maybe_tracked(addr)))
        lk_forget_slow(addr);
}


/* ------------------------------------------------------------------------
 * Lifecycle.
 * ---------------------------------------------------------------------- */
/* Fork child (locks.c): the forking thread's own holds are forgotten
 * (its unlocks then pass through untracked), and so is the parent's
 * pending contention. */
void lk_hooks_after_fork_child(void)
{
    lk_nheld = 0;
    lk_spin_addr = NULL;
    memset(lk_stack_cache, 0, sizeof(lk_stack_cache));
    lk_pending.type = 0;   /* the parent's contention */
}


/* ------------------------------------------------------------------------
 * Release: the slow half of every unlock, around the real unlock.
 * ---------------------------------------------------------------------- */
/* After the real unlock of a lock lk_release_begin looked at. */
static void lk_release_done(const void *addr, uint16_t kind, bool end, const lk_rel *r)
{
    if (end)
        lk_release_end(addr, kind, r);
    lk_flush_pending();
}

/* ------------------------------------------------------------------------
 * The interposers, one function each, over the helpers above. A blocking
 * acquire is a fast path (inline, a tail call to the real function) and a
 * _slow twin out of line; trylocks, unlocks, init and destroy follow.
 * ---------------------------------------------------------------------- */

/* ---- mutexes ---- */

static MP_NOINLINE int lk_mutex_lock_slow(pthread_mutex_t *m)
{
    lk_wait w;
    int rc = LK_REAL(mutex_trylock)(m);
    lk_next next = lk_after_trylock(m, MP_LOCK_MUTEX, rc, &w);
    if (next == LK_ACQUIRED)
        return rc;
    return lk_after_block(next, &w, LK_REAL(mutex_lock)(m));
}

int pthread_mutex_lock(pthread_mutex_t *m)
{
    if (lk_mutex_free_untracked(m))
        return LK_REAL(mutex_lock)(m);
    return lk_mutex_lock_slow(m);
}

static MP_NOINLINE int lk_mutex_timedlock_slow(pthread_mutex_t *m, const struct timespec *at)
{
    lk_wait w;
    int rc = LK_REAL(mutex_trylock)(m);
    lk_next next = lk_after_trylock(m, MP_LOCK_MUTEX, rc, &w);
    if (next == LK_ACQUIRED)
        return rc;
    return lk_after_block(next, &w, LK_REAL(mutex_timedlock)(m, at));
}

int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *at)
{
    if (lk_mutex_free_untracked(m))
        return LK_REAL(mutex_timedlock)(m, at);
    return lk_mutex_timedlock_slow(m, at);
}

static MP_NOINLINE int lk_mutex_clocklock_slow(pthread_mutex_t *m, clockid_t clk,
                                               const struct timespec *at)
{
    lk_wait w;
    int rc = LK_REAL(mutex_trylock)(m);
    lk_next next = lk_after_trylock(m, MP_LOCK_MUTEX, rc, &w);
    if (next == LK_ACQUIRED)
        return rc;
    return lk_after_block(next, &w, LK_REAL(mutex_clocklock)(m, clk, at));
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
    bool end = lk_release_begin(m, &r);
    int rc = LK_REAL(mutex_unlock)(m);
    lk_release_done(m, MP_LOCK_MUTEX, end, &r);
    return rc;
}

int pthread_mutex_unlock(pthread_mutex_t *m)
{
    if (MP_UNLIKELY(lk_maybe_tracked(m)))
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
    if (lk_rwlock_got_untracked(rc, l))
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
    if (lk_rwlock_got_untracked(rc, l))
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
    if (lk_rwlock_got_untracked(rc, l))
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
    if (lk_rwlock_got_untracked(rc, l))
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
    if (lk_rwlock_got_untracked(rc, l))
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
    if (lk_rwlock_got_untracked(rc, l))
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
    bool end = lk_release_begin(l, &r);
    int rc = LK_REAL(rwlock_unlock)(l);
    lk_release_done(l, MP_LOCK_RWLOCK, end, &r);
    return rc;
}

int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
    if (MP_UNLIKELY(lk_maybe_tracked(l)))
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

static MP_NOINLINE int lk_spin_lock_slow(pthread_spinlock_t *s)
{
    lk_wait w;
    int rc = LK_REAL(spin_trylock)(s);
    lk_next next = lk_after_trylock(LK_ADDR(s), MP_LOCK_SPIN, rc, &w);
    if (next == LK_ACQUIRED)
        return rc;
    return lk_after_block(next, &w, LK_REAL(spin_lock)(s));
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
    bool end = lk_release_begin(LK_ADDR(s), &r);
    int rc = LK_REAL(spin_unlock)(s);
    lk_release_done(LK_ADDR(s), MP_LOCK_SPIN, end, &r);
    return rc;
}

int pthread_spin_unlock(pthread_spinlock_t *s)
{
    if (MP_UNLIKELY(lk_maybe_tracked(LK_ADDR(s))))
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
