/*
 * bench/workloads.c - synthetic workloads for scripts/bench.
 *
 *   workloads churn     N   two threads, N malloc/free pairs each, mixed small
 *                           sizes (16 B..4 KiB, mostly < 256 B), live set of
 *                           1024 slots per thread (~200 KiB)
 *   workloads deep      N   N allocations made 32..47 frames deep (recursion
 *                           through eight distinct functions), freed soon after
 *   workloads leak      N   two churning threads (N pairs each); thread 0 calls
 *                           steady_leak() every 256 iterations, which leaks
 *                           48 bytes: the only memory still live at exit
 *   workloads locks     N   two threads, each locks its own private mutex N
 *                           times (uncontended)
 *   workloads contended N   four threads, N iterations each of hot_worker():
 *                           one shared mutex, short critical section
 *   workloads alloc_churn N one thread, N malloc/free pairs of 16..1039 B
 *                           over a 64-slot window (the peers' churn)
 *   workloads deep30    N   N allocations made exactly 30 frames deep, all
 *                           from the same stack, freed soon after (the
 *                           peers' deep stacks)
 *   workloads leak_slow N   one thread churning N pairs over 1024 slots;
 *                           every 1024th iteration slow_leak() leaks 64 B
 *                           (the peers' steady leak under churn)
 *   workloads shortcs   N   two threads, N iterations each of short_cs_worker():
 *                           four lock/unlock pairs of a private mutex, one of
 *                           a shared mutex around ~4 multiplies, ~40
 *                           multiplies outside
 *   workloads quiet     N   one mutex contended once (a thread holds it
 *                           20 ms while main waits), then N uncontended
 *                           lock/unlock pairs on it: the path of a lock a
 *                           profiler knows as contended when nobody waits
 *                           (for callgrind, which serialises threads: the
 *                           other lock workloads then never contend)
 *
 * Every workload prints one checksum line so the work cannot be optimised
 * away; the harness discards it. Built by bench/Makefile (gcc -O2 -g).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline, used))

static long n_iter;

static inline uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Mixed small sizes: 7/8 of requests 16..271 B, 1/8 of them 256..4351 B. */
static inline size_t pick_size(uint64_t r)
{
    if ((r & 7) != 0)
        return 16 + ((r >> 8) & 255);
    return 256 + ((r >> 8) & 4095);
}

/* ---- churn and leak ---------------------------------------------------- */

#define SLOTS 1024

struct leak_node {
    struct leak_node *next;
    char pad[40];
};
static struct leak_node *leaked; /* reachable, never freed: grows forever */
static unsigned long leak_count;

NOINLINE void steady_leak(void)
{
    struct leak_node *n = malloc(sizeof *n); /* 48 bytes */
    if (!n)
        return;
    memset(n->pad, 0x5a, sizeof n->pad);
    n->next = leaked;
    leaked = n;
    leak_count++;
}

struct churn_arg {
    int id;
    void (*leak)(void);   /* called every leak_mask + 1 iterations, or none */
    unsigned long leak_mask;
    unsigned long sum;
};

static NOINLINE void churn_loop(struct churn_arg *a)
{
    void *slot[SLOTS] = {0};
    uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)(a->id + 1) * 0xbf58476d1ce4e5b9ull;
    unsigned long sum = 0;
    for (long i = 0; i < n_iter; i++) {
        uint64_t r = xorshift(&s);
        unsigned idx = (unsigned)(r >> 40) & (SLOTS - 1);
        free(slot[idx]);
        size_t sz = pick_size(r);
        char *p = malloc(sz);
        if (p) {
            p[0] = (char)i;
            p[sz - 1] = (char)r;
            sum += (uintptr_t)p & 0xff;
        }
        slot[idx] = p;
        if (a->leak && (i & a->leak_mask) == 0)
            a->leak();
    }
    for (int i = 0; i < SLOTS; i++)
        free(slot[i]);
    a->sum = sum;
}

static void *churn_thread(void *arg)
{
    churn_loop(arg);
    return NULL;
}

static int run_churn(int leaks)
{
    pthread_t t[2];
    struct churn_arg a[2] = {{0, leaks ? steady_leak : NULL, 255, 0}, {1, NULL, 0, 0}};
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, churn_thread, &a[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("churn %lu %lu leaked %lu\n", a[0].sum, a[1].sum, leak_count);
    return 0;
}

/* ---- deep stacks ------------------------------------------------------- */

/* Eight distinct functions call each other in a cycle, so a stack 32..47
 * frames deep is made of many different return addresses. The call is not
 * in tail position (the result is used), so every frame stays on the stack. */
typedef unsigned long (*deep_fn)(int depth, uint64_t *s, void **ring);
static deep_fn deep_tab[8];

static NOINLINE unsigned long deep_leaf(uint64_t *s, void **ring)
{
    unsigned long sum = 0;
    for (int k = 0; k < 4; k++) {
        uint64_t r = xorshift(s);
        unsigned idx = (unsigned)(r >> 40) & 63;
        free(ring[idx]);
        size_t sz = pick_size(r);
        char *p = malloc(sz);
        if (p)
            p[0] = (char)r;
        ring[idx] = p;
        sum += (uintptr_t)p & 0xff;
    }
    return sum;
}

#define DEEP_FN(n)                                                         \
    static NOINLINE unsigned long deep_##n(int depth, uint64_t *s, void **ring) \
    {                                                                      \
        if (depth <= 0)                                                    \
            return deep_leaf(s, ring);                                     \
        unsigned long v = deep_tab[(n + 1 + (depth & 1)) & 7](depth - 1, s, ring); \
        __asm__ volatile("" : "+r"(v));                                     \
        return v + (unsigned long)n;                                       \
    }
DEEP_FN(0) DEEP_FN(1) DEEP_FN(2) DEEP_FN(3) DEEP_FN(4) DEEP_FN(5) DEEP_FN(6) DEEP_FN(7)

static int run_deep(void)
{
    deep_fn tab[8] = {deep_0, deep_1, deep_2, deep_3, deep_4, deep_5, deep_6, deep_7};
    memcpy(deep_tab, tab, sizeof tab);
    void *ring[64] = {0};
    uint64_t s = 0x2545f4914f6cdd1dull;
    unsigned long sum = 0;
    /* each descent makes 4 allocations at the leaf */
    for (long i = 0; i < n_iter / 4; i++)
        sum += deep_tab[i & 7](32 + (int)(i & 15), &s, ring);
    for (int i = 0; i < 64; i++)
        free(ring[i]);
    printf("deep %lu\n", sum);
    return 0;
}

/* ---- the peers' set: alloc_churn, deep30, leak_slow --------------------- */

static NOINLINE int run_alloc_churn(void)
{
    void *slot[64] = {0};
    uint64_t s = 0x853c49e6748fea9bull;
    unsigned long sum = 0;
    for (long i = 0; i < n_iter; i++) {
        uint64_t r = xorshift(&s);
        unsigned idx = (unsigned)(r >> 40) & 63;
        free(slot[idx]);
        size_t sz = 16 + ((r >> 8) & 1023);
        char *p = malloc(sz);
        if (p)
            p[0] = (char)i;
        slot[idx] = p;
        sum += (uintptr_t)p & 0xff;
    }
    for (int i = 0; i < 64; i++)
        free(slot[i]);
    printf("alloc_churn %lu\n", sum);
    return 0;
}

/* Two functions calling each other, 30 frames down to the leaf, which
 * makes 8 allocations: every allocation has the same 30-frame stack. */
static NOINLINE unsigned long deep30_b(int depth, uint64_t *s, void **ring);

static NOINLINE unsigned long deep30_a(int depth, uint64_t *s, void **ring)
{
    if (depth <= 0) {
        unsigned long sum = 0;
        for (int k = 0; k < 8; k++) {
            uint64_t r = xorshift(s);
            unsigned idx = (unsigned)(r >> 40) & 63;
            free(ring[idx]);
            char *p = malloc(pick_size(r));
            if (p)
                p[0] = (char)r;
            ring[idx] = p;
            sum += (uintptr_t)p & 0xff;
        }
        return sum;
    }
    unsigned long v = deep30_b(depth - 1, s, ring);
    __asm__ volatile("" : "+r"(v));
    return v + 1;
}

static NOINLINE unsigned long deep30_b(int depth, uint64_t *s, void **ring)
{
    unsigned long v = deep30_a(depth - 1, s, ring);
    __asm__ volatile("" : "+r"(v));
    return v + 2;
}

static int run_deep30(void)
{
    void *ring[64] = {0};
    uint64_t s = 0x2545f4914f6cdd1dull;
    unsigned long sum = 0;
    /* 29 levels of deep30_a/b under main and run_deep30: the leaf's malloc
     * is 31 frames above libc's start-up frames */
    for (long i = 0; i < n_iter / 8; i++)
        sum += deep30_a(27, &s, ring);
    for (int i = 0; i < 64; i++)
        free(ring[i]);
    printf("deep30 %lu\n", sum);
    return 0;
}

static struct leak_node *slow_leaked;

NOINLINE void slow_leak(void)
{
    struct leak_node *n = malloc(64);
    if (!n)
        return;
    n->next = slow_leaked;
    slow_leaked = n;
    leak_count++;
}

/* The churn loop on one thread, leaking through slow_leak(). */
static int run_leak_slow(void)
{
    struct churn_arg a = {0, slow_leak, 1023, 0};
    churn_loop(&a);
    printf("leak_slow %lu leaked %lu\n", a.sum, leak_count);
    return 0;
}

/* ---- locks ------------------------------------------------------------- */

struct lock_arg {
    pthread_mutex_t mu;
    unsigned long counter;
    char pad[64];
};

static NOINLINE void private_worker(struct lock_arg *a)
{
    for (long i = 0; i < n_iter; i++) {
        pthread_mutex_lock(&a->mu);
        a->counter += (unsigned long)i ^ (a->counter >> 3);
        pthread_mutex_unlock(&a->mu);
    }
}

static void *private_thread(void *arg)
{
    private_worker(arg);
    return NULL;
}

static int run_locks(void)
{
    static struct lock_arg a[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        pthread_mutex_init(&a[i].mu, NULL);
        pthread_create(&t[i], NULL, private_thread, &a[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("locks %lu %lu\n", a[0].counter, a[1].counter);
    return 0;
}

static pthread_mutex_t hot_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long hot_counter;

static NOINLINE void spin(volatile unsigned long *c, int n)
{
    for (int i = 0; i < n; i++)
        *c = *c * 2654435761u + 1;
}

NOINLINE void hot_worker(void)
{
    pthread_mutex_lock(&hot_lock);
    spin(&hot_counter, 100);
    pthread_mutex_unlock(&hot_lock);
}

static void *contended_thread(void *arg)
{
    (void)arg;
    volatile unsigned long local = 0;
    for (long i = 0; i < n_iter; i++) {
        hot_worker();
        spin(&local, 100);
    }
    return NULL;
}

static int run_contended(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, contended_thread, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("contended %lu\n", hot_counter);
    return 0;
}

/* The most common lock in servers (issue 10): a shared mutex around a
 * short critical section (a stats counter, a slab lock), taken by a few
 * threads with a little work in between, beside private mutexes. */
static pthread_mutex_t short_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long short_counter;

NOINLINE void short_cs_worker(struct lock_arg *a)
{
    volatile unsigned long local = 0;
    for (long i = 0; i < n_iter; i++) {
        for (int k = 0; k < 4; k++) {
            pthread_mutex_lock(&a->mu);
            a->counter += (unsigned long)i ^ (a->counter >> 3);
            pthread_mutex_unlock(&a->mu);
        }
        pthread_mutex_lock(&short_lock);
        spin(&short_counter, 4);
        pthread_mutex_unlock(&short_lock);
        spin(&local, 40);
    }
}

static void *short_cs_thread(void *arg)
{
    short_cs_worker(arg);
    return NULL;
}

static int run_shortcs(void)
{
    static struct lock_arg a[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        pthread_mutex_init(&a[i].mu, NULL);
        pthread_create(&t[i], NULL, short_cs_thread, &a[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("shortcs %lu\n", short_counter);
    return 0;
}

static pthread_mutex_t quiet_lock = PTHREAD_MUTEX_INITIALIZER;

static void *quiet_holder(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&quiet_lock);
    struct timespec d = {0, 20 * 1000 * 1000};
    nanosleep(&d, NULL);
    pthread_mutex_unlock(&quiet_lock);
    return NULL;
}

static int run_quiet(void)
{
    pthread_t t;
    pthread_create(&t, NULL, quiet_holder, NULL);
    struct timespec d = {0, 5 * 1000 * 1000};
    nanosleep(&d, NULL);
    pthread_mutex_lock(&quiet_lock);   /* waits for the holder: contended once */
    pthread_mutex_unlock(&quiet_lock);
    pthread_join(t, NULL);
    unsigned long counter = 0;
    for (long i = 0; i < n_iter; i++) {
        pthread_mutex_lock(&quiet_lock);
        counter += (unsigned long)i ^ (counter >> 3);
        pthread_mutex_unlock(&quiet_lock);
    }
    printf("quiet %lu\n", counter);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s churn|deep|leak|alloc_churn|deep30|leak_slow|locks|contended|shortcs|quiet N\n",
                argv[0]);
        return 1;
    }
    n_iter = atol(argv[2]);
    const char *w = argv[1];
    if (!strcmp(w, "churn"))
        return run_churn(0);
    if (!strcmp(w, "leak"))
        return run_churn(1);
    if (!strcmp(w, "deep"))
        return run_deep();
    if (!strcmp(w, "alloc_churn"))
        return run_alloc_churn();
    if (!strcmp(w, "deep30"))
        return run_deep30();
    if (!strcmp(w, "leak_slow"))
        return run_leak_slow();
    if (!strcmp(w, "locks"))
        return run_locks();
    if (!strcmp(w, "contended"))
        return run_contended();
    if (!strcmp(w, "shortcs"))
        return run_shortcs();
    if (!strcmp(w, "quiet"))
        return run_quiet();
    fprintf(stderr, "%s: unknown workload %s\n", argv[0], w);
    return 1;
}
