/*
 * lock_acct.c - the accounting behind the lock interposers (lock_hooks.c,
 * lock_cond.c): trylock-spin runs, the waiter's and holder's stacks, the
 * contention events (which are sampled, when they are sent), and what an
 * acquisition, a release, an init or a destroy of a tracked lock does.
 * Which tracked locks this thread holds, and its batch of contended holds:
 * lock_held.c.
 * Everything here is a slow path: the interposers come here only for a
 * lock that is busy or was contended before (lockstate.h says how the
 * waiter and the holder meet).
 */
#include "lockstate.h"

#include <errno.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Per-thread state: a pending trylock-spin episode.
 * ---------------------------------------------------------------------- */
/* Failed trylocks: a trylock-spin loop never calls the blocking lock, yet
 * it waits. Each run of EBUSY results on one lock that ends in this thread
 * acquiring it counts as one contention, waiting from the first EBUSY to the
 * acquisition (no event per failed try: a spin fails millions of times).
 *
 * Only a run the thread keeps trying is a wait. A caller that gets EBUSY and
 * moves on (memcached's lru_pull_tail: `if (item_trylock(..) == NULL)
 * continue;`) was not waiting, even if it takes that lock later. The run
 * is kept only while the thread does nothing else with locks and tries
 * again soon (lk_spin_live):
 *   - an acquisition of another tracked lock, or an EBUSY on another lock,
 *     ends it (given up); another EBUSY on the same lock continues it,
 *     however late (the thread is still trying: a sched_yield loop on a
 *     loaded machine waits a timeslice or more between tries);
 *   - the acquisition must come within LK_SPIN_GAP_NS of the last EBUSY,
 *     or within 4 times the run's mean interval between EBUSYs when that
 *     is longer (a loop that yields or sleeps keeps its own pace); a later
 *     one is no wait.
 * This costs a clock read per failed trylock: the caller is spinning then.
 * A failed trylock is contention, so its lock enters the table; the
 * acquire fast paths then need not look at lk_q.spin_addr: a lock with a
 * pending run has its byte in lk_map. */
#define LK_SPIN_GAP_NS 10000000ull
static MP_TLS uint64_t lk_spin_t0, lk_spin_last, lk_spin_fails;   /* lk_ticks */
static MP_TLS uint32_t lk_spin_stack;

/* The entry of the tracked lock this thread used last (lk_q.last_entry):
 * a thread taking one hot lock over and over finds it without a table
 * probe. Entries are never freed (only the whole table, in a fork child,
 * which resets this too). */
static inline lk_entry *lk_entry_of(const void *addr, bool create)
{
    if (MP_LIKELY(lk_q.last_addr == addr))
        return lk_q.last_entry;
    lk_entry *e = lk_lookup((uintptr_t)addr, create);
    if (e) {
        lk_q.last_addr = addr;
        lk_q.last_entry = e;
    }
    return e;
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
#define LK_STACK_REFRESH_NS 2000000ull
typedef struct lk_cached_stack {
    const void *addr;
    uint64_t t_capture;   /* lk_ticks */
    uint32_t stack;
} lk_cached_stack;
static MP_TLS lk_cached_stack lk_stack_cache[LK_NROLES][1u << LK_STACK_CACHE_BITS];

static lk_cached_stack *lk_stack_slot(const void *addr, int role)
{
    return &lk_stack_cache[role][lk_hash((uintptr_t)addr, LK_STACK_CACHE_BITS)];
}

/* This thread's last stack for addr in role however old, or MP_NO_STACK:
 * what a release publishes before its real unlock, where even a clock
 * read is work inside the critical section (lk_release_end refreshes it). */
static uint32_t lk_stack_last(const void *addr, int role)
{
    const lk_cached_stack *c = lk_stack_slot(addr, role);
    return c->addr == addr ? c->stack : MP_NO_STACK;
}

/* This thread's stack for addr in role at *now (lk_ticks): the cached one
 * while fresh, or a new unwind, after which *now is read again (the
 * unwind is not waiting). Freshness is judged on the clock the caller
 * reads anyway: a contention's own start, not a clock read of its own. */
static uint32_t lk_stack_at(const void *addr, int role, uint64_t *now)
{
    lk_cached_stack *c = lk_stack_slot(addr, role);
    if (c->addr == addr && lk_ticks_ns(*now - c->t_capture) < LK_STACK_REFRESH_NS)
        return c->stack;
    mp_hook_enter();
    uint32_t stack = mp_capture_stack();
    mp_hook_leave();
    *now = lk_ticks();
    *c = (lk_cached_stack){addr, *now, stack};
    return stack;
}

static uint32_t lk_stack(const void *addr, int role)
{
    uint64_t now = lk_ticks();
    return lk_stack_at(addr, role, &now);
}

/*
 * Emits the WAIT of a waiter that now holds e's lock. When the release
 * that let it in published its holder's stack (lk_release_begin), the
 * event names the holder itself (LOCK_BLAMED); otherwise it carries the
 * release's number for the collector to join with that release's HOLD.
 * Both words are read while holding the lock, so no release of a mutex
 * can come in between. (A waiter that queued after the releaser looked
 * for waiters names the release before: a misattribution of a wait of
 * nanoseconds.)
 */
static mp_event lk_wait_event(const void *addr, uint16_t kind, uint32_t stack, lk_entry *e,
                              uint32_t gen, bool acquired, uint64_t wait_ns, unsigned weight)
{
    uint32_t seq = 0;
    if (e && acquired) {
        uint64_t blame = atomic_load_explicit(&e->blame, memory_order_relaxed);
        if (blame >> 32)
            return (mp_event){.type = MP_EV_LOCK_BLAMED, .kind = kind, .gen = gen,
                              .blamed = {.addr = (uintptr_t)addr, .stack = stack,
                                         .holder = (uint32_t)blame, .wait_ns = wait_ns,
                                         .weight_log2 = weight}};
        seq = atomic_load_explicit(&e->rel_seq, memory_order_acquire);
    }
    return (mp_event){.type = MP_EV_LOCK_WAIT, .kind = kind, .gen = gen,
                      .wait = {.addr = (uintptr_t)addr, .stack = stack, .seq = seq,
                               .wait_ns = wait_ns, .weight_log2 = weight}};
}

/*
 * Which contentions are recorded. Every wait is timed, but a hot lock with
 * a short critical section has hundreds of thousands of waits of a
 * microsecond or less, and an event for each (and its aggregation) cost
 * more than the waits themselves. So a wait of w < E = 2^MP_LOCK_EXACT_LOG2
 * ns is recorded with probability 1/2^k (k = log2(E / w), rounded down, so
 * 1/2^k < 2w / E) and then counts 2^k times: counts and wait totals stay
 * unbiased, like the heap's sampling by bytes, and every wait of E or
 * longer is recorded. The first contention of a
 * lock (each generation) is always recorded, so no contended lock goes
 * missing and its first-use site is its first contention. Returns k, or -1
 * when this wait is not recorded.
 */
static MP_TLS uint64_t lk_rng;

/* The per-thread generator behind both samplings (xorshift64); seed mixes
 * in something of the caller's the first time. */
static uint64_t lk_random(uint64_t seed)
{
    uint64_t x = lk_rng;
    if (MP_UNLIKELY(x == 0))
        x = (uintptr_t)&lk_rng ^ seed ^ 0x9E3779B97F4A7C15ull;   /* per thread */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    lk_rng = x;
    return x;
}

static int lk_sample(lk_entry *e, uint32_t gen, uint64_t wait_ns)
{
    if (e && atomic_load_explicit(&e->recorded_gen, memory_order_relaxed) != gen + 1) {
        atomic_store_explicit(&e->recorded_gen, gen + 1, memory_order_relaxed);
        return 0;
    }
    unsigned lg = wait_ns ? 63u - (unsigned)__builtin_clzll(wait_ns) : 0;
    if (lg >= MP_LOCK_EXACT_LOG2)
        return 0;
    unsigned k = MP_LOCK_EXACT_LOG2 - lg;
    if (k > LK_WEIGHT_LOG2_MAX)
        k = LK_WEIGHT_LOG2_MAX;
    return (lk_random(wait_ns) >> 32) & ((1u << k) - 1) ? -1 : (int)k;
}

/* lk_q.hold_skip: holds with waiters until the next measured one
 * (lockstate.h). 0 at a thread's start: its first is measured. */
static void lk_hold_rearm(void)
{
    lk_q.hold_skip = 1 + (uint32_t)((lk_random(lk_q.hold_skip) >> 32) % (2 * LK_HOLD_RATE - 1));
}

/* Whether this acquisition of addr (e its entry, taken without a wait of
 * this thread's) begins a measured hold: one with others queued, picked
 * by the countdown. For most locks the countdown steps on the
 * acquisitions the waiter count says others are queued for. For a mutex
 * whose word tells (lockstate.h) it steps on every acquisition (the
 * inline quiet check cannot read the count without taking its line from
 * the waiters), and only the picked one reads the count: the same 1 in
 * LK_HOLD_RATE of the holds that begin with others queued, weighted
 * alike. */
static bool lk_hold_sampled(const void *addr, uint16_t kind, const lk_entry *e)
{
    bool by_word = lk_word_tells(addr, kind);
    if (!by_word && atomic_load_explicit(&e->waiters, memory_order_relaxed) == 0)
        return false;
    if (!lk_hold_pick())
        return false;
    lk_hold_rearm();
    return !by_word || atomic_load_explicit(&e->waiters, memory_order_relaxed) > 0;
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

/* Makes the WAIT of a contended acquisition the pending one, if recorded. */
static void lk_pend(const void *addr, uint16_t kind, uint32_t stack, lk_entry *e, uint32_t gen,
                    bool acquired, uint64_t wait_ns)
{
    int weight = lk_sample(e, gen, wait_ns);
    if (weight < 0)
        return;
    lk_flush_event();
    lk_pending = lk_wait_event(addr, kind, stack, e, gen, acquired, wait_ns, (unsigned)weight);
    /* Not held (timed out), or not in the table (its unlock may skip the
     * slow path that sends it): now. */
    if (!acquired || !e)
        lk_flush_event();
}

static MP_NOINLINE void lk_send_pending(void)
{
    mp_event ev = lk_pending;
    lk_pending.type = 0;
    lk_send(&ev);
    MP_COUNT(lock_contentions);
}

void lk_flush_event(void)
{
    if (MP_UNLIKELY(lk_pending.type != 0))
        lk_send_pending();
}

/* The exiting thread (lifecycle.c): its pending event and batched holds. */
void lk_flush_pending(void)
{
    lk_flush_event();
    lk_held_flush();
}

/* Records one contention: the calling thread waited wait_ns for addr. */
void lk_record_wait(const void *addr, uint16_t kind, uint64_t wait_ns, bool acquired)
{
    lk_entry *e = lk_entry_of(addr, true);
    uint32_t gen = e ? atomic_load_explicit(&e->gen, memory_order_relaxed) : 0;
    int weight = lk_sample(e, gen, wait_ns);
    if (weight < 0)
        return;
    uint32_t stack = lk_stack(addr, LK_ROLE_WAITER);
    mp_event ev = lk_wait_event(addr, kind, stack, e, gen, acquired, wait_ns, (unsigned)weight);
    lk_send(&ev);
    MP_COUNT(lock_contentions);
}

/* True when the pending run is still being tried at time now (see above). */
static bool lk_spin_live(uint64_t now)
{
    uint64_t gap = lk_ticks_ns(now - lk_spin_last), limit = LK_SPIN_GAP_NS;
    if (lk_spin_fails > 1) {
        uint64_t pace = 4 * (lk_ticks_ns(lk_spin_last - lk_spin_t0) / (lk_spin_fails - 1));
        if (pace > limit)
            limit = pace;
    }
    return gap <= limit;
}

/* This thread acquired addr without blocking: the end of its trylock run
 * on addr, a wait from the first EBUSY to *now, when it was still live;
 * any run on another lock is given up. */
static MP_NOINLINE bool lk_spin_over(const void *addr, uint64_t *now)
{
    bool waited = false;
    if (lk_q.spin_addr == addr) {
        *now = lk_ticks();
        waited = lk_spin_live(*now);
    }
    lk_q.spin_addr = NULL;
    return waited;
}

MP_NOINLINE void lk_acquired_slow(const void *addr, uint16_t kind)
{
    uint64_t now = 0;
    bool spun = MP_UNLIKELY(lk_q.spin_addr != NULL) && lk_spin_over(addr, &now);
    if (!lk_maybe_tracked(addr))
        return;
    lk_entry *e = lk_entry_of(addr, false);
    /* Nobody queued and no wait of ours: nothing to time at the release,
     * which finds no waiters either (or, when one queues meanwhile,
     * publishes this holder's stack without measuring the hold). With
     * waiters, only a sampled hold is measured (lk_hold_pick; the inline
     * check may have asked already, and asking again is idempotent once
     * armed). Tracking every acquisition of a hot lock cost more than the
     * lock itself. A recursive re-lock under contention may then be seen
     * as the outer hold; its blame is still this thread's. */
    if (e && spun) {
        lk_held_track(addr, e, now, 0, 1);
    } else if (e && lk_hold_sampled(addr, kind, e)) {
        lk_held_track(addr, e, lk_ticks(), 0, LK_HOLD_RATE);
    }
    if (spun)
        lk_pend(addr, kind, lk_spin_stack, e,
                e ? atomic_load_explicit(&e->gen, memory_order_relaxed) : 0, true,
                lk_ticks_ns(now - lk_spin_t0));
}

MP_NOINLINE void lk_try_failed(const void *addr)
{
    uint64_t now = lk_ticks();
    if (lk_q.spin_addr == addr) {   /* trying the same lock again: still trying */
        lk_spin_last = now;
        lk_spin_fails++;
        return;
    }
    lk_q.spin_addr = NULL;
    if (!lk_entry_of(addr, true))
        return;
    /* The stack now, while failing, not inside the critical section. */
    lk_spin_stack = lk_stack_at(addr, LK_ROLE_WAITER, &now);
    lk_q.spin_addr = addr;
    lk_spin_t0 = lk_spin_last = now;
    lk_spin_fails = 1;
}

/* ------------------------------------------------------------------------
 * The contended path of a blocking acquire.
 * ---------------------------------------------------------------------- */

MP_NOINLINE void lk_contend_begin(lk_wait *w, const void *addr, uint16_t kind)
{
    w->addr = addr;
    w->kind = kind;
    lk_q.spin_addr = NULL;   /* the blocking wait supersedes any trylock run */
    /* Unwind now, while the lock is busy anyway, not after acquiring it
     * (inside the critical section others are waiting for). */
    w->t0 = lk_ticks();
    w->stack = lk_stack_at(addr, LK_ROLE_WAITER, &w->t0);
    w->e = lk_entry_of(addr, true);
    w->gen = w->e ? atomic_load_explicit(&w->e->gen, memory_order_relaxed) : 0;
    if (w->e)
        atomic_fetch_add_explicit(&w->e->waiters, 1, memory_order_relaxed);
}

/* rc is the real call's result: 0/EOWNERDEAD acquired, ETIMEDOUT a wait
 * without acquisition (still contention), anything else is an error the
 * caller gets untouched and that is not a wait (EDEADLK, EINVAL, ...). */
MP_NOINLINE void lk_contend_end(lk_wait *w, int rc)
{
    uint64_t t1 = lk_ticks();
    bool acquired = rc == 0 || rc == EOWNERDEAD;
    /* Acquired, this thread stays in the waiter count until its release
     * (lk_release_end): taking itself off now would write the entry's
     * line inside the critical section others queue for. Its own release
     * discounts it. The hold that follows the wait is one with others
     * queued like any other, so it is measured when the countdown picks
     * it, with its weight (lk_hold_pick); otherwise it is tracked with
     * weight 0 only so that the release, after the real unlock, sends
     * the pending WAIT and discounts this thread's wait. Timing every
     * one put a clock read inside each contended critical section and a
     * hold into the batch, the largest cost left on a hot lock (4
     * threads on one mutex: 1.09x the plain run's wall time with every
     * such hold measured, 1.01x without). */
    if (w->e) {
        bool timed = acquired && lk_hold_pick();
        if (timed)
            lk_hold_rearm();
        if (!(acquired && lk_held_track(w->addr, w->e, timed ? t1 : 0, 1,
                                        timed ? LK_HOLD_RATE : 0)))
            lk_held_unwait(w->e, 1);
    }
    if (!acquired && rc != ETIMEDOUT)
        return;
    lk_pend(w->addr, w->kind, w->stack, w->e, w->gen, acquired, lk_ticks_ns(t1 - w->t0));
}

/* ------------------------------------------------------------------------
 * Release: blame the holder when waiters are present.
 * ---------------------------------------------------------------------- */
/* Whether the release about to happen lets waiters in (h: the hold it
 * ends). A mutex whose word tells asks the word, and a measured hold of
 * it (one that began with others queued, or after this thread's own
 * wait, when the word is 2 anyway) counts whatever the word says: the
 * word misses waiters asleep after a wake-up (lockstate.h). Other locks
 * ask the count, less this thread's own waits still in it. */
static bool lk_release_has_waiters(const void *addr, uint16_t kind, const lk_entry *e,
                                   const lk_held *h)
{
    if (lk_word_tells(addr, kind))
        return h->e != NULL || lk_mutex_word_queued(addr);
    return atomic_load_explicit(&e->waiters, memory_order_relaxed) > h->waited;
}

/* Publishes stack (MP_NO_STACK: none) as e's holder; a store only when
 * the entry names another one. */
static inline void lk_publish(lk_entry *e, uint32_t stack)
{
    uint64_t blame = stack != MP_NO_STACK ? 1ull << 32 | stack : 0;
    if (atomic_load_explicit(&e->blame, memory_order_relaxed) != blame)
        atomic_store_explicit(&e->blame, blame, memory_order_relaxed);
}

/* Takes the next release number of e (lockstate.h: the holder is alone on
 * a mutex or spinlock, so no atomic add; readers of an rwlock release it
 * together). */
static inline uint32_t lk_take_seq(lk_entry *e, uint16_t kind)
{
    if (kind == MP_LOCK_RWLOCK)
        return atomic_fetch_add_explicit(&e->rel_seq, 1, memory_order_release) + 1;
    uint32_t seq = atomic_load_explicit(&e->rel_seq, memory_order_relaxed) + 1;
    atomic_store_explicit(&e->rel_seq, seq, memory_order_release);
    return seq;
}

/* Runs before the real unlock, inside the critical section: nothing
 * shared is written unless waiters are queued, and then only the
 * published stack when it changes (or a release number, for a thread
 * with no stack for this lock yet). True when lk_release_end must follow
 * the unlock. */
MP_NOINLINE bool lk_release_begin(const void *addr, uint16_t kind, lk_rel *r)
{
    lk_held h = {.addr = addr};
    /* No tracked hold (the common release with waiters on a hot lock):
     * skips the held table. */
    if (lk_q.held_n != 0 && !lk_held_release(addr, &h))
        return false;   /* an inner unlock of a recursive hold */
    lk_entry *e = h.e ? h.e : lk_entry_of(addr, false);
    r->waited = h.waited;
    /* The acquisition is counted after the real unlock (lk_release_end),
     * in this thread's batch, with its weight. */
    r->counted = h.e;
    r->weight = h.e ? h.weight : 0;
    r->e = NULL;
    if (!e)
        return false;
    /* Nobody queued: no number, nothing to blame. A waiter that queued
     * just after this load reads the previous release's number and blames
     * that holder: a misattribution of a wait of nanoseconds. */
    if (!lk_release_has_waiters(addr, kind, e, &h))
        return r->counted != NULL;
    /* With a stack at hand, the waiter we let in can name us directly
     * (lk_wait_event), and no HOLD event is needed. Without one, the
     * release takes a number, the unwind waits until after the unlock,
     * and the collector joins. */
    r->stack = lk_stack_last(addr, LK_ROLE_HOLDER);
    lk_publish(e, r->stack);
    if (!h.e && r->stack != MP_NO_STACK)
        return false;   /* not a measured hold, and nothing to send */
    r->e = e;
    r->gen = atomic_load_explicit(&e->gen, memory_order_relaxed);
    /* The hold ends here, before the real unlock: read after it, the clock
     * also counted any preemption of this thread after the release (the
     * woken waiter takes the CPU), while the next holder's hold had begun,
     * and one mutex was "held" longer than the run. Holds timed inside the
     * real ones cannot overlap, so their sum stays below the wall time. */
    r->hold_ns = h.e && h.t_acquire ? lk_ticks_ns(lk_ticks() - h.t_acquire) : 0;
    if (r->stack == MP_NO_STACK)
        r->seq = lk_take_seq(e, kind);
    return true;
}

/* Runs after the real unlock, so the unwind does not lengthen the critical
 * section; the stack is still the unlocker's. */
MP_NOINLINE void lk_release_end(const void *addr, uint16_t kind, const lk_rel *r)
{
    if (r->waited)
        lk_held_unwait(r->counted, r->waited);
    if (!r->e) {
        if (r->counted)
            lk_held_batch(r->counted, kind, r->weight, 0, 0);
        return;
    }
    /* A measured hold (r->counted) goes to the batch. The published stack
     * is refreshed for the next releases every 64 batched ones
     * (lk_held_batch's cue): even a clock read on every release was a
     * third of this path. */
    bool refresh = r->counted && lk_held_batch(r->e, kind, r->weight, r->weight, r->hold_ns);
    if (r->stack != MP_NO_STACK) {
        if (refresh)
            (void)lk_stack(addr, LK_ROLE_HOLDER);
        return;
    }
    mp_event ev = {.type = MP_EV_LOCK_HOLD, .kind = kind, .gen = r->gen,
                   .hold = {.addr = (uintptr_t)addr, .stack = lk_stack(addr, LK_ROLE_HOLDER),
                            .seq = r->seq}};
    lk_send(&ev);
}

/* init or destroy of addr: whatever lives there next is a new lock. */
MP_NOINLINE void lk_forget_slow(const void *addr)
{
    lk_entry *e = lk_lookup((uintptr_t)addr, false);
    if (!e)
        return;
    uint32_t old = atomic_fetch_add_explicit(&e->gen, 1, memory_order_relaxed);
    uint64_t acq = atomic_exchange_explicit(&e->acquisitions, 0, memory_order_relaxed);
    atomic_store_explicit(&e->waiters, 0, memory_order_relaxed);
    lk_held_forget(e);   /* this thread's batch of the old lock */
    mp_event ev = {.type = MP_EV_LOCK_DEAD, .gen = old,
                   .dead = {.addr = (uintptr_t)addr, .acquisitions = acq}};
    lk_send(&ev);
}

/* ------------------------------------------------------------------------
 * Lifecycle.
 * ---------------------------------------------------------------------- */
/* Fork child (locks.c): the forking thread's trylock run and cached
 * stacks are forgotten, and so is the parent's pending contention. */
void lk_acct_after_fork_child(void)
{
    lk_q.spin_addr = NULL;
    lk_q.last_addr = NULL;   /* the table is gone */
    memset(lk_stack_cache, 0, sizeof(lk_stack_cache));
    lk_pending.type = 0;   /* the parent's contention */
}
