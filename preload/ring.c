/*
 * ring.c - per-thread single-producer/single-consumer event rings.
 *
 * Each application thread that produces events owns one ring; the collector
 * thread is the only consumer of all of them. Rings live in a lock-free,
 * append-only registry and are recycled rather than freed: when a thread
 * exits, its ring is marked DEAD, the collector drains what is left in it
 * and only then marks it FREE for the next new thread. So events of exited
 * threads are never lost, and thread churn does not grow memory.
 *
 * Events emitted after a thread's ring was retired (by TLS destructors that
 * run after ours), or by a signal handler that interrupted a push, go to one
 * shared "late" ring guarded by a spinlock that is only ever tried, never
 * waited on, so a signal handler cannot deadlock.
 *
 * A full ring makes the producer wait for the collector (counted as a
 * stall). It waits as long as the collector makes progress, because a
 * dropped free would later read as a leak; only if the collector shows no
 * sign of life for STALL_LIMIT_NS (stuck writing to a dead NFS mount, say)
 * is the event dropped (counted). The collector never waits on the
 * application, so the application can be slowed but never deadlocked, and
 * never silently loses data.
 *
 * The collector sleeps until woken (doorbell.c): a producer wakes it when
 * its ring passes half full (once per crossing, so a busy thread rings
 * about once per RING_SLOTS / 2 events and an idle one never), when it
 * stalls on a full ring, and when a thread exits leaving events behind.
 * Events of a quiet thread wait in its ring until then or until the next
 * snapshot, which drains every ring first.
 */
#include "shim.h"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#define RING_SLOTS 4096u                /* power of two */
#define STALL_LIMIT_NS 1000000000ull   /* collector silent this long: give up */

enum { RING_FREE = 0, RING_OWNED = 1, RING_DEAD = 2 };

/*
 * The producer keeps the tail it last read (tail_seen) and reads the
 * consumer's line again only when that stale view says the ring is half
 * full or full; consumers (mp_ring_consume) read head once per batch and
 * publish tail every TAIL_PUBLISH events. Reading the other side's index
 * on every push and pop moved its cache line between the cores twice per
 * event: with two threads at MEMPROF_SAMPLE=1 (churn) the push was a
 * sixth of each thread's time and the pop half of the collector's.
 */
#define TAIL_PUBLISH 256u

struct mp_ring {
    _Alignas(64) _Atomic uint64_t head;  /* written by the producer */
    uint64_t heap_next;                  /* the producer's: 1 + the position
                                            of its last heap event */
    uint64_t tail_seen;                  /* the producer's: tail, as last read */
    _Alignas(64) _Atomic uint64_t tail;  /* written by the consumer */
    _Alignas(64) _Atomic int state;
    struct mp_ring *next;                /* registry link, immutable once set */
    mp_event slots[RING_SLOTS];
};

static _Atomic(mp_ring *) registry;
static mp_ring *late_ring;
static mp_spinlock late_lock;
static pthread_key_t exit_key;
static _Atomic int exit_key_ready;
static MP_TLS mp_ring *my_ring;
static MP_TLS int my_ring_retired;
static MP_TLS int my_ring_busy;   /* inside a push to my_ring */

/* Bumped by the collector on every pass: proof of progress for stalled
 * producers. */
_Atomic uint64_t mp_collector_heartbeat;
/* Set by the collector while it sleeps after a pass that drained nothing:
 * the next event pushed into an empty ring rings the doorbell. */
_Atomic int mp_collector_dozing;
/* Called on a producer for each event it pushes while no collector runs
 * (collector.c; full: its ring is full). */
void (*_Atomic mp_ring_no_collector)(bool full);
/* What the collector does with each event it drains (collector.c), done
 * by such a producer itself. */
void (*_Atomic mp_ring_fold)(const mp_event *ev, void *ctx);
/* Called by a thread with a ring as it ends (collector.c). */
void (*_Atomic mp_ring_thread_ending)(void);
/* One consumer at a time: the collector, or a producer of a program that
 * has no collector thread (single-threaded) draining a full ring. */
static mp_spinlock consumer_lock;
/* This thread holds consumer_lock, or is about to take it or has just let
 * it go (marked before the lock is taken, cleared after it is released,
 * as the address set's shard locks are): a signal handler that
 * interrupted it and drains (exit() in a handler: the final snapshot)
 * must not wait for it, and does not drain (the interrupted fold finishes
 * after it, if ever). */
static MP_TLS int consuming;

static inline void consume_begin(void)
{
    consuming = 1;
    atomic_signal_fence(memory_order_seq_cst);
}

static inline void consume_end(void)
{
    atomic_signal_fence(memory_order_seq_cst);
    consuming = 0;
}

/*
 * Folding beside a sleeping collector. A program with one producing
 * thread gains nothing from handing each event to the collector on the
 * other core: the trip through the ring (the slot and the head and tail
 * lines crossing between cores, a doorbell every RING_SLOTS / 2 events,
 * the producer stalling on a full ring whenever the collector waits for a
 * CPU) cost leak_slow more wall time than the fold itself (issue 15:
 * exact mode at 0.49 of heaptrack's wall time there, 0.33 on the same
 * loop without a collector thread). So while the collector sleeps
 * (collector_away, between mp_rings_collector_sleeps and _wakes) and the
 * thread is the only one with a ring (owned_rings), it folds its events
 * itself under consumer_lock, a batch at a time (see BESIDE_BATCH), as a
 * program without a collector does. The collector, waking, clears
 * collector_away and then takes consumer_lock once: a fold that began
 * before it saw the flag is finished first, and one that takes the lock
 * after sees the flag and leaves the batch to it. So the
 * aggregates have one writer at a time, and the collector's reads (the
 * series, snapshots, requests) see them whole.
 *
 * The collector must still wake for the series while such folds go on,
 * and doze when they stop: mp_rings_drain counts "some were folded beside
 * it since the last drain" as one event drained, and the first heap event
 * folded since then wakes a dozing collector, as the first one pushed
 * into an empty ring does (push_and_wake).
 */
static _Atomic int owned_rings;      /* rings owned by threads (not the late ring) */
static _Atomic int collector_away;   /* the collector sleeps: folding beside it is allowed */
static uint64_t beside_heap, beside_seen;   /* under consumer_lock */

/* A new ring enters the registry already OWNED by its creator: published
 * as FREE, another thread's acquire_ring could claim it in between and two
 * producers would share one single-producer ring. */
mp_ring *mp_ring_new(void)
{
    mp_ring *r = mp_pages(sizeof(mp_ring));
    if (!r)
        return NULL;
    atomic_store_explicit(&r->state, RING_OWNED, memory_order_relaxed);
    mp_ring *old = atomic_load(&registry);
    do {
        r->next = old;
    } while (!atomic_compare_exchange_weak(&registry, &old, r));
    return r;
}

/*
 * An event is copied into its slot a word at a time, as callers build it
 * (a field or two per 8-byte store). A 16-byte load over two narrower
 * stores just made cannot take its data from the store buffer: it waits
 * for them to reach the cache, and that wait was most of mp_emit's time
 * at MEMPROF_SAMPLE=1. The asm keeps the compiler from making the copy
 * 16 bytes wide again.
 */
typedef uint64_t __attribute__((may_alias)) event_word;

static inline void event_copy(mp_event *to, const mp_event *from)
{
    const event_word *s = (const event_word *)from;
    event_word *d = (event_word *)to;
    uint64_t w0 = s[0], w1 = s[1], w2 = s[2], w3 = s[3];
    __asm__("" : "+r"(w0), "+r"(w1), "+r"(w2), "+r"(w3));
    d[0] = w0;
    d[1] = w1;
    d[2] = w2;
    d[3] = w3;
}

/* The tail, read again (the producer's side). */
static inline uint64_t tail_refresh(mp_ring *r)
{
    return r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
}

/* Pushes ev at position *h (the head before); false when the ring is
 * full. *t is a tail: the ring held at most positions *t to *h - 1, and
 * *fresh says whether *t was read just now (else it is tail_seen, which
 * lags: the ring may hold fewer). */
static inline bool push_at(mp_ring *r, const mp_event *ev, uint64_t *h, uint64_t *t, bool *fresh)
{
    *h = atomic_load_explicit(&r->head, memory_order_relaxed);
    *t = r->tail_seen;
    *fresh = false;
    /* Stale view half full (once per crossing: it grows by one per push)
     * or full: look at the real tail. */
    if (MP_UNLIKELY(*h + 1 - *t >= RING_SLOTS / 2) &&
        (*h + 1 - *t == RING_SLOTS / 2 || *h - *t >= RING_SLOTS)) {
        *t = tail_refresh(r);
        *fresh = true;
        if (*h - *t >= RING_SLOTS)
            return false;
    }
    event_copy(&r->slots[*h & (RING_SLOTS - 1)], ev);
    atomic_store_explicit(&r->head, *h + 1, memory_order_release);
    return true;
}

bool mp_ring_push(mp_ring *r, const mp_event *ev)
{
    uint64_t h, t;
    bool fresh;
    return push_at(r, ev, &h, &t, &fresh);
}

/*
 * The collector is woken when a ring is seen half full, not on every
 * event: at most once per RING_SLOTS / 2 pushes, when the producer reads
 * the real tail (push_at) and finds at least that many events waiting.
 * And by the first heap event since the collector consumed this ring's
 * previous ones while it dozes (nothing came in its last pass), so the
 * heap-over-time series sees a burst begin: the tail is read again for
 * that test, only while the collector dozes. Lock events never wake a
 * dozing collector: nothing needs them before the ring's half-full mark,
 * the thread's exit or the next snapshot (each drains the rings first),
 * and on a lock-bound program the doze wake-ups were most of the
 * collector's own context switches and of the workers' preemptions by it
 * (two cores, issue 10). A heap event behind pending lock events still
 * wakes it: "the ring was empty" would not see it.
 */
static inline bool push_and_wake(mp_ring *r, const mp_event *ev)
{
    uint64_t h, t;
    bool fresh;
    if (!push_at(r, ev, &h, &t, &fresh))
        return false;
    bool wake = fresh && h + 1 - t >= RING_SLOTS / 2;
    if (ev->type < MP_EV_LOCK_WAIT) {
        if (atomic_load_explicit(&mp_collector_dozing, memory_order_relaxed))
            wake |= tail_refresh(r) >= r->heap_next;   /* the first heap event since */
        r->heap_next = h + 1;
    }
    if (MP_UNLIKELY(wake))
        mp_wake_collector();
    return true;
}

/*
 * Consumes up to max events of r in order, calling fn on each where it
 * lies in the ring (the producer cannot reuse a slot before the tail
 * passes it); returns how many. One consumer at a time (consumer_lock,
 * or the unit test's one thread).
 */
size_t mp_ring_consume(mp_ring *r, void (*fn)(const mp_event *ev, void *ctx), void *ctx,
                       size_t max)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t n = 0;
    while (n < max) {
        uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
        if (h == t)
            break;
        if (h - t > max - n)
            h = t + (max - n);
        for (; t != h; t++, n++) {
            fn(&r->slots[t & (RING_SLOTS - 1)], ctx);
            if (MP_UNLIKELY((t + 1) % TAIL_PUBLISH == 0))
                atomic_store_explicit(&r->tail, t + 1, memory_order_release);
        }
        atomic_store_explicit(&r->tail, t, memory_order_release);
    }
    return n;
}

static void copy_event(const mp_event *ev, void *ctx)
{
    *(mp_event *)ctx = *ev;
}

bool mp_ring_pop(mp_ring *r, mp_event *ev)
{
    return mp_ring_consume(r, copy_event, ev, 1) == 1;
}

/* An empty ring is free for the next thread at once (only its owner
 * pushes, so empty stays empty); one with events left is DEAD until the
 * collector, woken for it, has drained it. */
static void retire_ring(void *arg)
{
    mp_ring *r = arg;
    void (*ending)(void) = atomic_load(&mp_ring_thread_ending);
    if (ending)
        ending();
    my_ring = NULL;
    my_ring_retired = 1;
    if (!r)
        return;
    atomic_fetch_sub_explicit(&owned_rings, 1, memory_order_relaxed);
    if (atomic_load_explicit(&r->head, memory_order_relaxed) ==
        atomic_load_explicit(&r->tail, memory_order_acquire)) {
        atomic_store_explicit(&r->state, RING_FREE, memory_order_release);
        return;
    }
    atomic_store_explicit(&r->state, RING_DEAD, memory_order_release);
    mp_wake_collector();
}

/* The key whose destructor retires a thread's ring, made by the first
 * thread to need it. key_lock is only tried: a signal handler that
 * interrupted this very function on its thread (its first event) would
 * wait on itself forever, and a fork child whose parent had another
 * thread in here would inherit it held (the fork handler frees it). A
 * thread that cannot take it in time gets no ring for this event (false). */
static mp_spinlock key_lock;

static bool ensure_exit_key(void)
{
    if (atomic_load(&exit_key_ready))
        return true;
    for (int tries = mp_in_hook > 1 ? 1 : 1000; !mp_spin_trylock(&key_lock); tries--) {
        if (tries <= 1)
            return false;
        sched_yield();   /* another thread is creating it: a moment */
    }
    if (!atomic_load(&exit_key_ready) && pthread_key_create(&exit_key, retire_ring) == 0)
        atomic_store(&exit_key_ready, 1);
    mp_spin_unlock(&key_lock);
    return true;
}

MP_NOINLINE static mp_ring *acquire_ring(void)
{
    if (!ensure_exit_key())
        return NULL;
    mp_ring *r;
    for (r = atomic_load(&registry); r; r = r->next) {
        int expected = RING_FREE;
        if (r != late_ring &&
            atomic_compare_exchange_strong(&r->state, &expected, RING_OWNED))
            break;
    }
    if (!r) {
        r = mp_ring_new();
        if (!r)
            return NULL;
    }
    MP_COUNT(threads_seen);
    atomic_fetch_add_explicit(&owned_rings, 1, memory_order_relaxed);
    my_ring = r;
    if (atomic_load(&exit_key_ready))
        pthread_setspecific(exit_key, r);
    return r;
}

/* Held while the late ring is made (freed in a fork child, like key_lock:
 * a child whose parent was making it would otherwise have none, ever). */
static mp_spinlock late_init_lock;

static bool push_late(const mp_event *ev)
{
    if (!late_ring) {
        if (!mp_spin_trylock(&late_init_lock))
            return false;
        if (!late_ring)
            late_ring = mp_ring_new();
        mp_spin_unlock(&late_init_lock);
        if (!late_ring)
            return false;
    }
    for (int i = 0; i < 1000; i++) {
        if (mp_spin_trylock(&late_lock)) {
            bool ok = push_and_wake(late_ring, ev);
            mp_spin_unlock(&late_lock);
            return ok;
        }
        mp_cpu_relax();
    }
    return false;
}

/*
 * Whether a producer without a collector gives collector.c its look at
 * the time (a snapshot due, a trigger pending): after a sample (a
 * periodic snapshot waits for the next sampled allocation, not for a
 * free), at most every LOOK_TICKS of the samples' own clock, their birth
 * ticks: a clock read per sample was a third of the reads of exact mode.
 * collector.c looks at most every 100 ms anyway.
 */
#define LOOK_TICKS 256u   /* 16.8 ms */
static _Atomic uint32_t last_look;

static inline bool look_due(const mp_event *ev)
{
    if (ev->type == MP_EV_FREE)
        return false;
    if (ev->type != MP_EV_SAMPLE)
        return true;
    uint32_t since = ev->heap.ticks - atomic_load_explicit(&last_look, memory_order_relaxed);
    if (since < LOOK_TICKS)
        return false;
    atomic_store_explicit(&last_look, ev->heap.ticks, memory_order_relaxed);
    return true;
}

/*
 * Folding in batches. Taking consumer_lock is a locked instruction, which
 * waits for the thread's pending stores (the event's, the address set's)
 * to reach the cache: one per event was a sixth of a single-threaded
 * program's time at MEMPROF_SAMPLE=1 (alloc_churn), and most of mp_emit's
 * beside a sleeping collector (leak_slow). So a producer that folds its
 * own events (no collector thread, or one asleep: see collector_away)
 * pushes them into its ring as usual, where slots and indexes stay in
 * this core's cache (nobody else reads them meanwhile), and folds
 * BESIDE_BATCH at a time, one lock per batch. A batch not yet full waits
 * in the ring like any events: every reader of the aggregates (snapshots,
 * requests, the collector's passes, exec, exit) drains the rings first.
 */
#define BESIDE_BATCH 64u   /* power of two; far below RING_SLOTS / 2 */

static inline bool batch_full(uint64_t h)
{
    return ((h + 1) & (BESIDE_BATCH - 1)) == 0;
}

/*
 * An emptied ring's next event goes to its first slot: head and tail both
 * move on to the next multiple of RING_SLOTS (the producer and, holding
 * consumer_lock, the consumer too; both stay monotonic, and heap_next
 * stays behind them: "its heap events were consumed"). A producer that
 * folds its own batches then writes the same BESIDE_BATCH slots (2 KiB)
 * over and over, which stay in its L1, instead of walking all 128 KiB of
 * the ring: at MEMPROF_SAMPLE=1 every other event was a store that missed.
 */
static void restart_empty_ring(mp_ring *r)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (atomic_load_explicit(&r->tail, memory_order_relaxed) != h || (h & (RING_SLOTS - 1)) == 0)
        return;
    uint64_t next = (h | (RING_SLOTS - 1)) + 1;
    atomic_store_explicit(&r->tail, next, memory_order_release);
    atomic_store_explicit(&r->head, next, memory_order_release);
}

/*
 * Folds what r holds here, the producer, if no other consumer holds
 * consumer_lock and, beside a collector, it still sleeps (read under the
 * lock: a collector that has woken since the caller looked has cleared
 * collector_away before taking it, see _wakes); else the events stay for
 * the collector. True when the batch held the first heap event folded
 * beside the collector since its last drain (see mp_rings_drain).
 */
static bool fold_own_ring(mp_ring *r, void (*fold)(const mp_event *, void *), bool beside)
{
    bool first_heap = false;
    consume_begin();
    if (mp_spin_trylock(&consumer_lock)) {
        if (!beside || atomic_load_explicit(&collector_away, memory_order_relaxed)) {
            uint64_t from = atomic_load_explicit(&r->tail, memory_order_relaxed);
            mp_ring_consume(r, fold, NULL, SIZE_MAX);
            restart_empty_ring(r);
            r->tail_seen = atomic_load_explicit(&r->tail, memory_order_relaxed);
            if (beside && r->heap_next > from) {   /* the batch held heap events */
                first_heap = beside_heap == beside_seen;
                beside_heap++;
            }
        }
        mp_spin_unlock(&consumer_lock);
    }
    consume_end();
    return first_heap;
}

/*
 * No collector thread: the producer does its work (collector.c). Not
 * from a signal handler that interrupted the shim (mp_in_hook > 1), which
 * could hold what that work takes. Its events are folded here, a batch
 * at a time (see BESIDE_BATCH), in ring order: what a drain would do,
 * without the trip to another core, which every allocation of a
 * single-threaded program makes at MEMPROF_SAMPLE=1 (a push and a pop
 * were a third of its cost). Another consumer (a collector starting)
 * holding the lock: the batch stays for it.
 */
MP_NOINLINE static bool no_collector(mp_ring *r, const mp_event *ev)
{
    void (*fn)(bool) = atomic_load_explicit(&mp_ring_no_collector, memory_order_relaxed);
    void (*fold)(const mp_event *, void *) =
        atomic_load_explicit(&mp_ring_fold, memory_order_relaxed);
    if (!fn || !fold || mp_in_hook > 1)
        return push_and_wake(r, ev);
    uint64_t h, t;
    bool fresh;
    bool pushed = push_at(r, ev, &h, &t, &fresh);
    if (!pushed || batch_full(h))
        fold_own_ring(r, fold, false);
    if (!pushed) {   /* full, and another consumer holds it: drain, wait */
        fn(true);
        return mp_ring_push(r, ev);
    }
    if (look_due(ev))
        fn(false);
    return true;
}

/* Folds r's events beside the sleeping collector (see collector_away). */
MP_NOINLINE static void fold_beside(mp_ring *r)
{
    void (*fold)(const mp_event *, void *) =
        atomic_load_explicit(&mp_ring_fold, memory_order_relaxed);
    if (fold && mp_in_hook <= 1 && fold_own_ring(r, fold, true) &&
        atomic_load_explicit(&mp_collector_dozing, memory_order_relaxed))
        mp_wake_collector();
}

/* Pushes ev, folding the ring when a batch is full (see BESIDE_BATCH).
 * The first heap event pushed while the collector dozes is folded at
 * once, so that it wakes it as soon as before (the heap-over-time series
 * sees a burst begin). */
static inline bool push_beside(mp_ring *r, const mp_event *ev)
{
    uint64_t h, t;
    bool fresh;
    if (!push_at(r, ev, &h, &t, &fresh))
        return false;
    if (MP_UNLIKELY(fresh && h + 1 - t >= RING_SLOTS / 2))
        mp_wake_collector();   /* batches keep failing: the collector's turn */
    bool heap = ev->type < MP_EV_LOCK_WAIT;
    if (heap)
        r->heap_next = h + 1;
    if (MP_UNLIKELY(batch_full(h)) ||
        (heap && atomic_load_explicit(&mp_collector_dozing, memory_order_relaxed)))
        fold_beside(r);
    return true;
}

static inline bool beside_allowed(void)
{
    return atomic_load_explicit(&collector_away, memory_order_relaxed) &&
           atomic_load_explicit(&owned_rings, memory_order_relaxed) == 1;
}

/* The collector's side of collector_away: it is about to sleep (nothing
 * of the aggregates is read or written until _wakes returns)... */
void mp_rings_collector_sleeps(void)
{
    atomic_store_explicit(&collector_away, 1, memory_order_release);
}

/* ...and it is awake: no fold beside it begins now, and one under way
 * is finished when this returns. */
void mp_rings_collector_wakes(void)
{
    atomic_store_explicit(&collector_away, 0, memory_order_seq_cst);
    consume_begin();
    mp_spin_lock(&consumer_lock);
    mp_spin_unlock(&consumer_lock);
    consume_end();
}

MP_NOINLINE static bool push_stalled(mp_ring *r, const mp_event *ev)
{
    MP_COUNT(events_stalled);
    uint64_t beat = atomic_load(&mp_collector_heartbeat);
    uint64_t since = mp_now_ns();
    struct timespec nap = {0, 50000};
    mp_wake_collector();
    for (unsigned spins = 0;
         atomic_load_explicit(&mp_collector_running, memory_order_relaxed); spins++) {
        if (spins < 256)
            sched_yield();
        else
            nanosleep(&nap, NULL);   /* collector descheduled: stop burning CPU */
        if (mp_ring_push(r, ev))
            return true;
        uint64_t now_beat = atomic_load(&mp_collector_heartbeat);
        if (now_beat != beat) {
            beat = now_beat;
            since = mp_now_ns();
        } else if (mp_now_ns() - since > STALL_LIMIT_NS) {
            break;
        }
    }
    return false;
}

/*
 * A signal handler that interrupts a push on this thread must not push into
 * the same single-producer ring; it uses the shared ring, like events from
 * threads whose own ring is already retired.
 */
bool mp_emit(const mp_event *ev)
{
    mp_ring *r = my_ring;
    bool ok;
    if (MP_UNLIKELY(!r || my_ring_busy)) {
        if (my_ring_retired || my_ring_busy) {
            ok = push_late(ev);
            goto out;
        }
        r = acquire_ring();
        if (!r) {   /* the next event tries again; this one goes where late ones go */
            ok = push_late(ev);
            goto out;
        }
    }
    my_ring_busy = 1;
    atomic_signal_fence(memory_order_seq_cst);   /* a handler must see it */
    if (MP_LIKELY(atomic_load_explicit(&mp_collector_running, memory_order_relaxed)))
        ok = beside_allowed() ? push_beside(r, ev) : push_and_wake(r, ev);
    else
        ok = no_collector(r, ev);
    if (!ok)
        ok = push_stalled(r, ev);
    atomic_signal_fence(memory_order_seq_cst);
    my_ring_busy = 0;
out:
    if (!ok) {
        if (ev->type >= MP_EV_LOCK_WAIT)
            MP_COUNT(lock_events_dropped);
        else
            MP_COUNT(events_dropped);
    }
    return ok;
}

size_t mp_rings_drain(void (*fn)(const mp_event *ev, void *ctx), void *ctx)
{
    size_t n = 0;
    if (consuming)
        return 0;
    consume_begin();
    mp_spin_lock(&consumer_lock);
    for (mp_ring *r = atomic_load(&registry); r; r = r->next) {
        int state = atomic_load_explicit(&r->state, memory_order_acquire);
        if (state == RING_FREE)
            continue;
        n += mp_ring_consume(r, fn, ctx, SIZE_MAX);
        if (state == RING_DEAD)
            atomic_store_explicit(&r->state, RING_FREE, memory_order_release);
    }
    n += beside_heap != beside_seen;   /* folded beside us: see collector_away */
    beside_seen = beside_heap;
    mp_spin_unlock(&consumer_lock);
    consume_end();
    return n;
}

/*
 * In a forked child only the forking thread exists. Every ring holds the
 * parent's events (the child reports only its own allocations) and the
 * rings of vanished threads will never be retired by their owners.
 */
void mp_rings_after_fork_child(void)
{
    for (mp_ring *r = atomic_load(&registry); r; r = r->next) {
        atomic_store(&r->head, 0);
        atomic_store(&r->tail, 0);
        r->tail_seen = 0;
        if (r != my_ring && r != late_ring)
            atomic_store(&r->state, RING_FREE);
    }
    atomic_store(&owned_rings, my_ring ? 1 : 0);
    atomic_store(&collector_away, 0);   /* the parent's collector, asleep: not ours */
    beside_heap = beside_seen = 0;
    atomic_store(&late_lock.v, 0);
    atomic_store(&consumer_lock.v, 0);
    consuming = 0;
    atomic_store(&key_lock.v, 0);
    atomic_store(&late_init_lock.v, 0);
    mp_doorbell_after_fork_child();
}
