/*
 * lockstate.h - the lock profiler's own header: the contract between its
 * application-thread side (lock_hooks.c, lock_cond.c over lock_acct.c,
 * lock_held.c, lock_table.c, lock_clock.c and lock_real.c) and its
 * collector side (lockagg.c); locks.c brings them up and resets them in a
 * fork child.
 *
 * The lock events (mp_event in shim.h; every one carries the lock's
 * address, kind and generation: a destroy or init of the address starts a
 * new generation, which the collector keeps as a lock of its own):
 *
 *   LOCK_WAIT    .wait: stack = the waiter's, wait_ns, seq = the release
 *                number of the release that let this waiter in (0 =
 *                unknown / not acquired).
 *   LOCK_BLAMED  .blamed: a WAIT whose holder is known: holder = the stack
 *                the releasing holder published (lk_entry.blame); no join
 *                needed.
 *   LOCK_HOLD    .hold: stack = the holder's (captured at its unlock),
 *                seq = this release's number: only the join's other half
 *                (hold_ns 0; the hold itself, if measured, is batched).
 *   LOCK_SITE    .site: stack = the first-use site.
 *   LOCK_HOLDS   .holds: holds and hold_ns of measured contended holds
 *                (sampled, weighted: see lk_hold_pick), a batch of one
 *                thread's (lock_held.c).
 *   LOCK_HOLDHIST .holdhist: count more of those holds in one bucket of
 *                the hold-time histogram (mp_lock_hist_bucket).
 *   LOCK_DEAD    .dead: the generation ended; acquisitions = its
 *                acquisitions counted by the application side.
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
 *
 * The join is the fallback. A holder that has a stack for this lock
 * (lock_acct.c caches one per thread, lock and role, refreshed every few
 * milliseconds) publishes it in the lock's entry before the real unlock,
 * and the waiter it lets in reads it after acquiring and names the holder
 * in its own event. The publication is a store only when the stack differs
 * from the one there: threads releasing a hot lock from the same place
 * write nothing shared inside the critical section. Only a release
 * without a stack takes a number (and clears the published stack). Such a
 * release sends a HOLD for the join; measured holds go to a per-thread
 * batch sent as HOLDS and HOLDHIST (lock_held.c). On a hot lock nearly
 * every release has a stack, so events stay few and the join caches
 * small.
 */
#ifndef MEMPROF_LOCKSTATE_H
#define MEMPROF_LOCKSTATE_H

#include "shim.h"

/* The application-side table of locks known to be contended. */
#define LK_TABLE_BITS 14
#define LK_TABLE_SIZE (1u << LK_TABLE_BITS)

typedef struct lk_entry {
    /* Read by holders inside their critical sections, rarely written. */
    _Atomic uint64_t addr;          /* 0 = free slot; never reset once claimed */
    _Atomic uint32_t gen;           /* bumped by destroy/init of the address */
    _Atomic uint32_t rel_seq;       /* releases seen (see above) */
    _Atomic uint32_t recorded_gen;  /* 1 + the generation whose first wait
                                       was recorded (lk_sample) */
    uint32_t unused;
    _Atomic uint64_t acquisitions;  /* acquisitions while known contended */
    _Atomic uint64_t blame;         /* 1 << 32 | the holder stack of the
                                       last release with waiters; 0: that
                                       release had none (join by seq) */
    char pad[64 - 40];              /* hot locks in neighbouring slots must
                                       not share a line */
    /* Written by every waiter as it queues and leaves: a line of its own,
     * so that those writes do not take the line above from the holder. */
    _Atomic uint32_t waiters;       /* threads blocked in our hooks right now
                                       (and until their release) */
    char pad_waiters[64 - 4];
} lk_entry;
_Static_assert(sizeof(lk_entry) == 128, "lk_entry is two cache lines");

/* Waits of 2^MP_LOCK_EXACT_LOG2 ns (32.8 us, shim.h) and longer are all
 * recorded; shorter ones are sampled, a wait of w ns kept with probability
 * 2^-k, k = MP_LOCK_EXACT_LOG2 - floor(log2 w) (at most
 * LK_WEIGHT_LOG2_MAX), and then counted 2^k times (lock_acct.c,
 * lk_sample). */
#define LK_WEIGHT_LOG2_MAX 12

/* Mixes an address into a table index (Fibonacci hashing of addr / 8). */
static inline uint32_t lk_hash(uint64_t addr, unsigned bits)
{
    return (uint32_t)(((addr >> 3) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

/* ------------------------------------------------------------------------
 * Contended locks (lock_table.c): a byte map every hook consults, and the
 * table behind it.
 * ---------------------------------------------------------------------- */
#define LK_MAP_BITS 16
extern _Atomic uint8_t lk_map[1u << LK_MAP_BITS] MP_HIDDEN;

/* Address bits 0..15: locks in the same 64 KiB never share a byte, and a
 * false "maybe" costs one table lookup. Every acquire and release computes
 * this, so it is one zero-extension (bits 3..18, a 512 KiB window, cost a
 * move and a shift more on every call: 3 of the 19 instructions a
 * never-contended lock/unlock pair added, issue 10). A byte per slot
 * rather than a bit: the test is one compare with memory instead of a
 * shift, a mask, a load and a bit test (the footprint touched is still a
 * cache line per lock). */
static inline uint32_t lk_slot(uint64_t addr)
{
    return (uint16_t)addr;
}

/* *p != 0, a relaxed read. On x86-64 one compare with memory: GCC
 * compiles a relaxed atomic load as a load and a separate test, one
 * instruction more on every acquire and release (the map byte, the lock
 * word). A byte or an aligned int load is atomic there, and the asm reads
 * *p each time it runs. */
#if defined(__x86_64__)
#define LK_NONZERO(p, suffix)                                                              \
    ({                                                                                     \
        bool nz_;                                                                          \
        __asm__("cmp" suffix " $0, %1" : "=@ccnz"(nz_) : "m"(*(p)));                        \
        nz_;                                                                               \
    })
static inline bool lk_byte_nonzero(const _Atomic uint8_t *p) { return LK_NONZERO(p, "b"); }
static inline bool lk_int_nonzero(const int *p) { return LK_NONZERO(p, "l"); }
static inline bool lk_u32_nonzero(const _Atomic uint32_t *p) { return LK_NONZERO(p, "l"); }
#undef LK_NONZERO
#else
static inline bool lk_byte_nonzero(const _Atomic uint8_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed) != 0;
}
static inline bool lk_int_nonzero(const int *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED) != 0;
}
static inline bool lk_u32_nonzero(const _Atomic uint32_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed) != 0;
}
#endif

/* False: addr was certainly never contended. */
static inline bool lk_maybe_tracked(const void *addr)
{
    return lk_byte_nonzero(&lk_map[lk_slot((uintptr_t)addr)]);
}

/* addr's entry, claimed (and its byte in lk_map set) when create is set and it has
 * none; NULL when absent or the table has no room near its slot. */
lk_entry *lk_lookup(uint64_t addr, bool create) MP_HIDDEN;
void lk_table_after_fork_child(void) MP_HIDDEN;

/* ------------------------------------------------------------------------
 * The quiet case of a lock known contended (lock_acct.c's and
 * lock_held.c's per-thread state): taken or released while nobody waits
 * for it, by a thread that holds no tracked lock it timed. Nothing to
 * record, and the interposer decides it without a call, a clock or a table
 * probe: the entry this thread used last (lk_entry_of) and one load of its
 * waiter count.
 * ---------------------------------------------------------------------- */
/* Everything those checks read, in one thread-local block: each TLS
 * variable of a shared object costs a load of its offset from the GOT
 * before the load itself, so separate ones cost two instructions more on
 * each quiet acquire and release of a tracked lock. */
typedef struct lk_quiet_tls {
    const void *last_addr;   /* last_entry's lock (lock_acct.c) */
    lk_entry *last_entry;
    const void *spin_addr;   /* a trylock run's lock (lock_acct.c) */
    int held_n;              /* tracked holds (lock_held.c) */
    uint32_t hold_skip;      /* lk_hold_pick, below */
} lk_quiet_tls;
extern MP_TLS lk_quiet_tls lk_q MP_HIDDEN;

static inline bool lk_nobody_waits(const void *addr)
{
    return MP_LIKELY(lk_q.last_addr == addr) &&
           MP_LIKELY(!lk_u32_nonzero(&lk_q.last_entry->waiters));
}

/*
 * A mutex's own word. The lock word of every mutex that is not robust,
 * priority-inheriting or priority-protected (__kind bits 16, 32 and 64
 * clear) is glibc's lll lock: 0 free, 1 held, 2 held with waiters that
 * may be asleep, the state in which glibc's unlock wakes one. For those a
 * release asks the word whether it has waiters, and the quiet checks ask
 * it instead of the entry: the entry's waiter count, written by every
 * waiter as it queues and leaves, read by every holder inside its
 * critical section, bounced its line between the threads on each
 * contention, and the misses lengthened the critical sections the others
 * queued for (4 threads on one mutex: 9x plain's context switches, issue
 * 10). The word's line is the one the holder's unlock writes next anyway.
 * The word is glibc's hint, not a count: it stays 2 after a waiter
 * acquires, a condition wait's re-lock sets it, and it is 1 while waiters
 * sleep after an unlock woke one and another thread took the lock first
 * (holds decided by it were 0.15 of a program's own, all of whose holds
 * had waiters). So the count is still kept, on a line of its own
 * (lk_entry), and which holds are measured is decided from it
 * (lk_hold_sampled, lock_acct.c), read only for the one acquisition in
 * LK_HOLD_RATE that the countdown picks.
 */
#define LK_MUTEX_OWN_WORD_KINDS 0x70   /* PTHREAD_MUTEX_ROBUST_NORMAL_NP, _PRIO_INHERIT_NP, _PRIO_PROTECT_NP */
#define LK_MUTEX_WORD_QUEUED 2

static inline bool lk_mutex_word_tells(const pthread_mutex_t *m)
{
    return (__atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) & LK_MUTEX_OWN_WORD_KINDS) == 0;
}

static inline bool lk_mutex_word_queued(const pthread_mutex_t *m)
{
    return __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == LK_MUTEX_WORD_QUEUED;
}

/* Whether addr is a mutex whose word tells (above). */
static inline bool lk_word_tells(const void *addr, uint16_t kind)
{
    return kind == MP_LOCK_MUTEX && lk_mutex_word_tells(addr);
}

/*
 * Contended holds are sampled (Go's SetMutexProfileFraction): a hold that
 * begins with others queued is timed and blamed as a measured hold with
 * probability 1/LK_HOLD_RATE, decided before any clock read or table
 * work, and then counts LK_HOLD_RATE times (holds, hold time, histogram,
 * acquisitions), so the totals stay unbiased. Timing every one of them
 * lengthened a short critical section several times over (a clock read
 * at each end, the held table, the batch): the convoy of issue 10. A hold
 * that follows a wait of this thread's own is always timed (the wait's
 * clock read is its start; it counts once). A release with waiters that
 * is not a measured hold still publishes this thread's cached holder
 * stack (a store only when it differs), so waiters keep naming holders.
 *
 * lk_q.hold_skip counts down the holds with waiters until the next measured
 * one: each such acquisition takes one step; at 1 the next one is picked
 * and lk_hold_rearm (lock_acct.c) draws the next gap, uniform in
 * [1, 2 LK_HOLD_RATE - 1] (mean LK_HOLD_RATE). lk_hold_pick is idempotent
 * once armed, so the inline quiet check and lk_acquired_slow may both
 * ask about one acquisition.
 */
#define LK_HOLD_RATE_LOG2 MP_LOCK_HOLD_RATE_LOG2
#define LK_HOLD_RATE (1u << LK_HOLD_RATE_LOG2)

static inline bool lk_hold_pick(void)
{
    if (MP_LIKELY(lk_q.hold_skip > 1)) {
        lk_q.hold_skip--;
        return false;
    }
    return true;
}

/* This thread just acquired addr without waiting: true when there is
 * nothing to record (no trylock run to end, and nobody queued or this
 * hold is not one of the measured ones). */
static inline bool lk_acquired_quiet(const void *addr)
{
    if (MP_UNLIKELY(lk_q.spin_addr != NULL) || MP_UNLIKELY(lk_q.last_addr != addr))
        return false;
    return MP_LIKELY(!lk_u32_nonzero(&lk_q.last_entry->waiters)) || !lk_hold_pick();
}

/* About to release addr: true when there is nothing to record (no timed
 * hold of this thread's, so no pending event either, and nobody queued). */
static inline bool lk_release_quiet(const void *addr)
{
    return MP_LIKELY(lk_q.held_n == 0) && lk_nobody_waits(addr);
}

/* The same two for a mutex whose word tells: its acquisitions all step
 * the hold countdown (the word misses sleeping waiters; the picked one
 * reads the count), and a release is quiet when the word says nobody
 * waits. */
static inline bool lk_mutex_acquired_quiet(const pthread_mutex_t *m)
{
    if (!lk_mutex_word_tells(m))
        return lk_acquired_quiet(m);
    return MP_LIKELY(lk_q.spin_addr == NULL) && !lk_hold_pick();
}

static inline bool lk_mutex_release_quiet(const pthread_mutex_t *m)
{
    if (!lk_mutex_word_tells(m))
        return lk_release_quiet(m);
    return MP_LIKELY(lk_q.held_n == 0) && MP_LIKELY(!lk_mutex_word_queued(m));
}

/* ------------------------------------------------------------------------
 * The intervals' clock (lock_clock.c): lk_ticks() at both ends on one
 * thread, lk_ticks_ns() of the difference.
 * ---------------------------------------------------------------------- */
extern _Atomic int lk_tsc_ok MP_HIDDEN;
extern _Atomic uint64_t lk_scale MP_HIDDEN;
void lk_clock_init(void) MP_HIDDEN;
uint64_t lk_calibrate(void) MP_HIDDEN;

static inline uint64_t lk_ticks(void)
{
#if defined(__x86_64__)
    if (MP_LIKELY(atomic_load_explicit(&lk_tsc_ok, memory_order_relaxed)))
        return __builtin_ia32_rdtsc();
#endif
    return mp_now_ns();
}

/* Ticks to ns; a negative difference (TSCs of two CPUs a few cycles
 * apart) is 0. */
static inline uint64_t lk_ticks_ns(uint64_t d)
{
    if ((int64_t)d <= 0)
        return 0;
    uint64_t s = atomic_load_explicit(&lk_scale, memory_order_relaxed);
    if (MP_UNLIKELY(s == 0))
        s = lk_calibrate();
    return (uint64_t)(((unsigned __int128)d * s) >> 32);
}

static inline bool lk_on(void)
{
    return mp_active() && MP_LIKELY(mp_cfg.locks != 0);
}

/* ------------------------------------------------------------------------
 * What lock_cond.c uses of the mutex accounting (lock_acct.c).
 * ---------------------------------------------------------------------- */
/* The calling thread waited wait_ns for addr (and acquired it, or not). */
void lk_record_wait(const void *addr, uint16_t kind, uint64_t wait_ns, bool acquired) MP_HIDDEN;
/* The calling thread holds addr again without a blocking call we timed. */
void lk_acquired_slow(const void *addr, uint16_t kind) MP_HIDDEN;

/* ------------------------------------------------------------------------
 * The accounting the interposers call on their slow paths (lock_acct.c).
 * ---------------------------------------------------------------------- */
/* A failed trylock: maybe the start of a trylock-spin episode on addr. */
void lk_try_failed(const void *addr) MP_HIDDEN;
/* A blocking acquire that found the lock taken: w is begun before the real
 * blocking call (the unwind happens here, while waiting anyway) and ended
 * with its result rc: 0/EOWNERDEAD acquired, ETIMEDOUT a wait without
 * acquisition (still contention), anything else an error that is not a
 * wait (EDEADLK, EINVAL, ...). */
typedef struct lk_wait {
    const void *addr;
    lk_entry *e;
    uint32_t stack;
    uint32_t gen;
    uint64_t t0;          /* lk_ticks */
    uint16_t kind;
} lk_wait;
void lk_contend_begin(lk_wait *w, const void *addr, uint16_t kind) MP_HIDDEN;
void lk_contend_end(lk_wait *w, int rc) MP_HIDDEN;
/* init or destroy of a tracked addr: whatever lives there next is a new lock. */
void lk_forget_slow(const void *addr) MP_HIDDEN;
/* Fork child: forgets this thread's trylock run, stacks and pending event. */
void lk_acct_after_fork_child(void) MP_HIDDEN;
/* Every lock event goes out through here (slow paths only): lock_acct.c
 * and lock_held.c both send, so it lives here rather than in either. */
static inline void lk_send(const mp_event *ev)
{
    mp_hook_enter();
    mp_emit(ev);
    mp_hook_leave();
}

/* ------------------------------------------------------------------------
 * This thread's holds of tracked locks and its batch of contended holds
 * (lock_held.c).
 * ---------------------------------------------------------------------- */
typedef struct lk_held {
    const void *addr;
    lk_entry *e;          /* NULL: not a tracked hold (lk_held_release) */
    uint64_t t_acquire;   /* lk_ticks; 0: untimed */
    uint32_t depth;       /* recursive re-acquisitions by this thread */
    uint32_t waited;      /* our own waits still in e->waiters (see
                             lk_contend_end) */
    uint32_t weight;      /* how many holds this one counts for: 1, or
                             LK_HOLD_RATE for a sampled one */
} lk_held;
/* Remembers that this thread now holds addr (e its entry) since t
 * (lk_ticks), waited the waits of ours to take off e's count at the
 * release.
 * False when the table is full: the hold goes untimed and its acquisition
 * is counted now. */
bool lk_held_track(const void *addr, lk_entry *e, uint64_t t, uint32_t waited,
                   uint32_t weight) MP_HIDDEN;
/* A release of addr by this thread: false for the inner unlock of a
 * recursive hold; otherwise true, *h the hold taken out of the table (its
 * e NULL when addr was not in it). */
bool lk_held_release(const void *addr, lk_held *h) MP_HIDDEN;
/* Takes n of this thread's waits off e's count (a destroy or init of
 * the lock that reset it meanwhile leaves it at 0 again). */
void lk_held_unwait(lk_entry *e, uint32_t n) MP_HIDDEN;
/* A release of e: acquisitions its acquisition's weight when it was
 * tracked, holds the weight of a measured contended hold (0: none), each
 * of them hold_ns long (0: untimed), added to the batch. True when that sent the batch,
 * and every 64th release batched in between: the caller's cue to refresh
 * the holder stack it publishes. */
bool lk_held_batch(lk_entry *e, uint16_t kind, uint64_t acquisitions, uint64_t holds,
                   uint64_t hold_ns) MP_HIDDEN;
void lk_held_flush(void) MP_HIDDEN;                  /* sends the batch now */
void lk_held_forget(const lk_entry *e) MP_HIDDEN;    /* e's lock got a new generation */
void lk_held_after_fork_child(void) MP_HIDDEN;

/* A release in two halves around the real unlock: begin (before, inside
 * the critical section: as little as possible, and nothing shared written
 * unless waiters are queued) returns true when end (after) must run; end
 * counts the acquisition, and when there were waiters adds the hold and
 * blames the holder. */
typedef struct lk_rel {
    lk_entry *counted;    /* the entry whose acquisition this release ends */
    lk_entry *e;          /* set when waiters were present */
    uint64_t hold_ns;     /* read before the real unlock; 0: not timed */
    uint32_t seq;
    uint32_t gen;
    uint32_t stack;       /* published before the unlock, or MP_NO_STACK */
    uint32_t waited;      /* this thread's own waits to take off counted */
    uint32_t weight;      /* the hold's weight; 0: not a measured hold (the
                             release only takes a number for the join) */
} lk_rel;
bool lk_release_begin(const void *addr, uint16_t kind, lk_rel *r) MP_HIDDEN;
void lk_release_end(const void *addr, uint16_t kind, const lk_rel *r) MP_HIDDEN;
void lk_cond_after_fork_child(void) MP_HIDDEN;
/* After the real unlock of a lock this thread acquired with contention:
 * sends that contention's event (lk_flush_pending, shim.h, also sends the
 * thread's batched hold counts). */
void lk_flush_event(void) MP_HIDDEN;

/* The acquisitions the application side counted for (addr, gen) itself;
 * 0 if unknown. Read by the collector when exporting: a relaxed read of a
 * live counter. */
uint64_t lk_app_acquisitions(uint64_t addr, uint32_t gen) MP_HIDDEN;

/* ------------------------------------------------------------------------
 * The real pthread functions (lock_real.c resolves them): one typed field
 * per interposer, named after the function without its pthread_ prefix,
 * with its parameters and the arguments that pass them on.
 * pthread_cond_* must be the GLIBC_2.3.2 versions: the 2.2.5 ones use an
 * older condvar layout and a mixed pair freezes (mutrace's comment).
 * ---------------------------------------------------------------------- */
#define LK_M pthread_mutex_t *m
#define LK_L pthread_rwlock_t *l
#define LK_S pthread_spinlock_t *s
#define LK_C pthread_cond_t *c
#define LK_AT const struct timespec *at
#define LK_FNS(X)                                                                          \
    X(mutex_lock, pthread_mutex_lock, NULL, (LK_M), (m))                                   \
    X(mutex_trylock, pthread_mutex_trylock, NULL, (LK_M), (m))                             \
    X(mutex_timedlock, pthread_mutex_timedlock, NULL, (LK_M, LK_AT), (m, at))              \
    X(mutex_clocklock, pthread_mutex_clocklock, NULL, (LK_M, clockid_t k, LK_AT), (m, k, at)) \
    X(mutex_unlock, pthread_mutex_unlock, NULL, (LK_M), (m))                               \
    X(mutex_init, pthread_mutex_init, NULL, (LK_M, const pthread_mutexattr_t *a), (m, a))  \
    X(mutex_destroy, pthread_mutex_destroy, NULL, (LK_M), (m))                             \
    X(rwlock_rdlock, pthread_rwlock_rdlock, NULL, (LK_L), (l))                             \
    X(rwlock_wrlock, pthread_rwlock_wrlock, NULL, (LK_L), (l))                             \
    X(rwlock_tryrdlock, pthread_rwlock_tryrdlock, NULL, (LK_L), (l))                       \
    X(rwlock_trywrlock, pthread_rwlock_trywrlock, NULL, (LK_L), (l))                       \
    X(rwlock_timedrdlock, pthread_rwlock_timedrdlock, NULL, (LK_L, LK_AT), (l, at))        \
    X(rwlock_timedwrlock, pthread_rwlock_timedwrlock, NULL, (LK_L, LK_AT), (l, at))        \
    X(rwlock_clockrdlock, pthread_rwlock_clockrdlock, NULL, (LK_L, clockid_t k, LK_AT), (l, k, at)) \
    X(rwlock_clockwrlock, pthread_rwlock_clockwrlock, NULL, (LK_L, clockid_t k, LK_AT), (l, k, at)) \
    X(rwlock_unlock, pthread_rwlock_unlock, NULL, (LK_L), (l))                             \
    X(rwlock_init, pthread_rwlock_init, NULL, (LK_L, const pthread_rwlockattr_t *a), (l, a)) \
    X(rwlock_destroy, pthread_rwlock_destroy, NULL, (LK_L), (l))                           \
    X(spin_lock, pthread_spin_lock, NULL, (LK_S), (s))                                     \
    X(spin_trylock, pthread_spin_trylock, NULL, (LK_S), (s))                               \
    X(spin_unlock, pthread_spin_unlock, NULL, (LK_S), (s))                                 \
    X(spin_init, pthread_spin_init, NULL, (LK_S, int p), (s, p))                           \
    X(spin_destroy, pthread_spin_destroy, NULL, (LK_S), (s))                               \
    X(cond_wait, pthread_cond_wait, "GLIBC_2.3.2", (LK_C, LK_M), (c, m))                   \
    X(cond_timedwait, pthread_cond_timedwait, "GLIBC_2.3.2", (LK_C, LK_M, LK_AT), (c, m, at)) \
    X(cond_clockwait, pthread_cond_clockwait, NULL, (LK_C, LK_M, clockid_t k, LK_AT), (c, m, k, at)) \
    X(cond_signal, pthread_cond_signal, "GLIBC_2.3.2", (LK_C), (c))                        \
    X(cond_broadcast, pthread_cond_broadcast, "GLIBC_2.3.2", (LK_C), (c))

typedef struct lk_real_fns {
#define X(field, fn, version, params, args) typeof(&fn) field;
    LK_FNS(X)
#undef X
} lk_real_fns;
/* Never NULL: until resolved every field is a first-call trampoline
 * (lock_real.c) that resolves the whole table and passes the call on, so
 * a fast path ends in one indirect jump through its field, with no test;
 * mp_locks_init resolves eagerly at start-up. The fields are only ever
 * replaced whole (aligned pointer stores, and every value a field takes is
 * a function that does the job). */
extern lk_real_fns lk_real MP_HIDDEN;
/* Resolves the whole table; returns it, or (while this thread is inside
 * dlsym already) a table of stand-ins. */
const lk_real_fns *lk_resolve(void) MP_HIDDEN;
/* Sets the whole table at once (an attach: preload/attach.c). */
void lk_real_install(const lk_real_fns *t) MP_HIDDEN;
/* The real function behind an interposer: LK_REAL(mutex_lock)(m). */
#define LK_REAL(field) (lk_real.field)

#endif
