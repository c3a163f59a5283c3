/*
 * test_ring.c - the per-thread SPSC event ring under stress.
 *
 * Single-threaded, the ring must hold a fixed capacity, refuse a push only
 * when full and give events back in order across many wrap-arounds. Then
 * several producer threads, each with its own ring (as every application
 * thread has in the shim), push millions of numbered events while one
 * consumer thread (the collector's role) drains all rings and checks that
 * every event arrives exactly once, in order, and intact. A producer that
 * finds its ring full checks that it really was full. Last, a lone
 * producer with no collector thread folds its own events in batches
 * through mp_emit while another thread drains now and then (snapshots,
 * a collector starting): every event is folded once, in order.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "shim.h"

#define PRODUCERS 4
#define EVENTS_PER_PRODUCER 2000000ull

static size_t capacity;

/* Every field derives from (producer, seq) so a torn or mixed-up copy shows. */
static mp_event make_event(uint32_t producer, uint64_t seq)
{
    mp_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = (uint16_t)(1 + seq % 6);
    ev.kind = (uint16_t)producer;
    ev.gen = producer * 7919u;
    ev.wait.addr = ((uint64_t)producer << 56) | seq;
    ev.wait.stack = (uint32_t)seq;
    ev.wait.seq = ~(uint32_t)seq;
    ev.wait.wait_ns = seq * 0x9e3779b97f4a7c15ull;
    return ev;
}

static int same_event(const mp_event *x, const mp_event *y)
{
    return memcmp(x, y, sizeof(*x)) == 0;
}

static void single_thread(void)
{
    mp_ring *r = mp_ring_new();
    CHECK(r != NULL, "mp_ring_new failed");
    if (!r)
        return;
    mp_event ev, got;
    CHECK(!mp_ring_pop(r, &got), "pop from a new ring succeeded");
    /* Fill: the capacity is whatever fits before the first refusal. */
    uint64_t n = 0;
    while (n < (1u << 24)) {
        ev = make_event(0, n);
        if (!mp_ring_push(r, &ev))
            break;
        n++;
    }
    capacity = n;
    CHECK(capacity > 0 && capacity < (1u << 24), "ring capacity %zu", capacity);
    ev = make_event(0, n);
    CHECK(!mp_ring_push(r, &ev), "push into a full ring succeeded");
    /* One pop makes room for exactly one push. */
    CHECK(mp_ring_pop(r, &got), "pop from a full ring failed");
    mp_event first = make_event(0, 0);
    CHECK(same_event(&got, &first), "first pop is not the first push");
    CHECK(mp_ring_push(r, &ev), "push after a pop failed");
    mp_event extra = make_event(0, n + 1);
    CHECK(!mp_ring_push(r, &extra), "ring holds more than its capacity");
    for (uint64_t i = 1; i <= n; i++) {
        mp_event want = make_event(0, i);
        if (!mp_ring_pop(r, &got) || !same_event(&got, &want)) {
            CHECK(0, "drain: event %llu missing or wrong", (unsigned long long)i);
            break;
        }
    }
    CHECK(!mp_ring_pop(r, &got), "ring not empty after draining");
    /* Wrap around many times with varying fill levels. */
    uint64_t pushed = 0, popped = 0;
    for (int round = 0; round < 200; round++) {
        size_t burst = (size_t)(round * 7919) % capacity + 1;
        for (size_t i = 0; i < burst; i++) {
            ev = make_event(0, pushed);
            if (!mp_ring_push(r, &ev))
                break;
            pushed++;
        }
        size_t take = (size_t)(round * 104729) % (capacity + 1);
        for (size_t i = 0; i < take && mp_ring_pop(r, &got); i++) {
            mp_event want = make_event(0, popped++);
            if (!same_event(&got, &want)) {
                CHECK(0, "wrap-around: event %llu wrong", (unsigned long long)popped - 1);
                return;
            }
        }
    }
    while (mp_ring_pop(r, &got)) {
        mp_event want = make_event(0, popped++);
        CHECK(same_event(&got, &want), "wrap-around drain: event %llu wrong",
              (unsigned long long)popped - 1);
    }
    CHECK(popped == pushed, "wrap-around: %llu pushed, %llu popped", (unsigned long long)pushed,
          (unsigned long long)popped);
}

typedef struct lane {
    mp_ring *ring;
    uint32_t id;
    _Atomic uint64_t consumed;  /* published by the consumer after each batch */
    uint64_t fulls;             /* pushes refused */
    uint64_t false_fulls;       /* pushes refused although there was room */
} lane;

static lane lanes[PRODUCERS];
static _Atomic int consumer_errors;

static void *producer(void *arg)
{
    lane *l = arg;
    for (uint64_t seq = 0; seq < EVENTS_PER_PRODUCER; seq++) {
        mp_event ev = make_event(l->id, seq);
        for (;;) {
            /* Read before pushing: the consumer can only add room since. */
            uint64_t consumed = atomic_load_explicit(&l->consumed, memory_order_acquire);
            if (mp_ring_push(l->ring, &ev))
                break;
            l->fulls++;
            if (seq - consumed < capacity)
                l->false_fulls++;
            sched_yield();
        }
    }
    return NULL;
}

/* What the consumer thread knows of one lane while it consumes it. */
typedef struct lane_check {
    int i;
    uint64_t *next;
} lane_check;

static void check_one(const mp_event *got, void *ctx)
{
    lane_check *c = ctx;
    uint64_t *next = &c->next[c->i];
    mp_event want = make_event(lanes[c->i].id, *next);
    if (!same_event(got, &want)) {
        if (atomic_fetch_add(&consumer_errors, 1) < 5)
            fprintf(stderr, "ring %d: event %llu lost, duplicated or torn (got a=%#llx)\n", c->i,
                    (unsigned long long)*next, (unsigned long long)got->wait.addr);
        /* Resynchronise on what arrived so one error is one report. */
        *next = got->wait.addr & ((1ull << 56) - 1);
    }
    ++*next;
}

static void *consumer(void *arg)
{
    (void)arg;
    uint64_t next[PRODUCERS] = {0};
    uint64_t total = 0, goal = PRODUCERS * EVENTS_PER_PRODUCER;
    mp_event got;
    while (total < goal) {
        for (int i = 0; i < PRODUCERS; i++) {
            /* Drain in bounded batches, like the collector's periodic
             * pass, events checked where they lie (mp_ring_consume); the
             * count is published after the batch, so a producer refused
             * a push then may still see a stale count: only a refusal
             * with room by that count is a false full. */
            lane_check c = {i, next};
            total += mp_ring_consume(lanes[i].ring, check_one, &c, 1000);
            atomic_store_explicit(&lanes[i].consumed, next[i], memory_order_release);
        }
        /* Now and then fall behind so producers hit full rings. */
        if ((total / 4096) % 64 == 0) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
    }
    for (int i = 0; i < PRODUCERS; i++) {
        if (mp_ring_pop(lanes[i].ring, &got))
            atomic_fetch_add(&consumer_errors, 1);  /* more than was pushed */
        if (next[i] != EVENTS_PER_PRODUCER)
            atomic_fetch_add(&consumer_errors, 1);
    }
    return NULL;
}

static void multi_thread(void)
{
    pthread_t prod[PRODUCERS], cons;
    for (int i = 0; i < PRODUCERS; i++) {
        lanes[i].ring = mp_ring_new();
        lanes[i].id = (uint32_t)i + 1;
        CHECK(lanes[i].ring != NULL, "mp_ring_new failed");
        if (!lanes[i].ring)
            return;
    }
    CHECK(pthread_create(&cons, NULL, consumer, NULL) == 0, "pthread_create");
    for (int i = 0; i < PRODUCERS; i++)
        CHECK(pthread_create(&prod[i], NULL, producer, &lanes[i]) == 0, "pthread_create");
    uint64_t fulls = 0;
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_join(prod[i], NULL);
        fulls += lanes[i].fulls;
        CHECK(lanes[i].false_fulls == 0, "ring %d refused %llu pushes while it had room", i,
              (unsigned long long)lanes[i].false_fulls);
    }
    pthread_join(cons, NULL);
    CHECK(atomic_load(&consumer_errors) == 0,
          "%d events lost, duplicated, reordered or torn", atomic_load(&consumer_errors));
    /* Otherwise the full-ring path was not exercised and proves nothing. */
    CHECK(fulls > 0, "no producer ever found its ring full");
    printf("%d producers x %llu events, capacity %zu, %llu full-ring refusals\n", PRODUCERS,
           (unsigned long long)EVENTS_PER_PRODUCER, capacity, (unsigned long long)fulls);
}

/* ---- a lone producer folding its own events (ring.c: no_collector) ---- */

#define LONE_EVENTS 3000000ull
static uint64_t lone_next;          /* under the rings' consumer lock */
static _Atomic int lone_errors, lone_done;

static void lone_fold(const mp_event *ev, void *ctx)
{
    (void)ctx;
    if (ev->type != MP_EV_SAMPLE || ev->heap.bytes != lone_next) {
        if (atomic_fetch_add(&lone_errors, 1) < 5)
            fprintf(stderr, "lone producer: event %llu folded as %llu\n",
                    (unsigned long long)lone_next, (unsigned long long)ev->heap.bytes);
        lone_next = ev->heap.bytes;
    }
    lone_next++;
}

static void lone_no_collector(bool full)
{
    if (full)
        mp_rings_drain(lone_fold, NULL);
}

static void *lone_producer(void *arg)
{
    (void)arg;
    for (uint64_t seq = 0; seq < LONE_EVENTS; seq++) {
        mp_event ev = {.type = MP_EV_SAMPLE, .heap = {.stack = 1, .bytes = seq}};
        if (!mp_emit(&ev))
            atomic_fetch_add(&lone_errors, 1);
    }
    atomic_store(&lone_done, 1);
    return NULL;
}

static void *lone_drainer(void *arg)
{
    (void)arg;
    while (!atomic_load(&lone_done)) {
        mp_rings_drain(lone_fold, NULL);
        struct timespec t = {0, 200000};
        nanosleep(&t, NULL);
    }
    return NULL;
}

static void lone_producer_folds(void)
{
    atomic_store(&mp_ring_fold, lone_fold);
    atomic_store(&mp_ring_no_collector, lone_no_collector);
    pthread_t p, d;
    CHECK(pthread_create(&d, NULL, lone_drainer, NULL) == 0, "pthread_create");
    CHECK(pthread_create(&p, NULL, lone_producer, NULL) == 0, "pthread_create");
    pthread_join(p, NULL);
    pthread_join(d, NULL);
    mp_rings_drain(lone_fold, NULL);
    CHECK(atomic_load(&lone_errors) == 0 && lone_next == LONE_EVENTS,
          "lone producer: %d errors, %llu of %llu events folded", atomic_load(&lone_errors),
          (unsigned long long)lone_next, (unsigned long long)LONE_EVENTS);
}

int main(void)
{
    single_thread();
    if (capacity)
        multi_thread();
    lone_producer_folds();
    CHECK_DONE();
}
