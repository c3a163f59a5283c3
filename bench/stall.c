/*
 * bench/stall.c - how long can one allocation stall? Used by
 * scripts/bench-stall.
 *
 *   stall SECONDS [LIVE]
 *
 * One thread frees and allocates in a loop over a live set of LIVE objects
 * (default 100000, mixed sizes 16 B..4 KiB), timing every iteration (one
 * free + one malloc) with clock_gettime(CLOCK_MONOTONIC). Run it under the
 * shim with MEMPROF_INTERVAL=1 and snapshots are written every second while
 * it runs. Prints one JSON line: iteration count, percentiles and maximum of
 * the iteration time in ns, how many iterations took over 100 us and 1 ms,
 * and the ten worst iterations with their offset from the start (seconds),
 * plus the CLOCK_REALTIME start so that they can be matched to snapshot
 * files' modification times, and the longest iteration in every 10 ms slot
 * of the run (in ns), so that stalls inside and outside the windows in
 * which snapshots were written can be told apart.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SUB 64
#define NBUCKETS (SUB + 58 * SUB)

static uint64_t hist[NBUCKETS];

static inline unsigned bucket_of(uint64_t d)
{
    if (d < SUB)
        return (unsigned)d;
    unsigned e = 63u - (unsigned)__builtin_clzll(d); /* >= 6 */
    unsigned sub = (unsigned)(d >> (e - 6)) & (SUB - 1);
    return SUB + (e - 6) * SUB + sub;
}

static inline uint64_t bucket_hi(unsigned b) /* upper bound of a bucket */
{
    if (b < SUB)
        return b;
    unsigned e = (b - SUB) / SUB + 6, sub = (b - SUB) % SUB;
    return ((uint64_t)(SUB + sub + 1) << (e - 6)) - 1;
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

struct worst {
    uint64_t ns, at;
};

static uint64_t pct(uint64_t total, double q)
{
    uint64_t want = (uint64_t)(q * (double)total), seen = 0;
    for (unsigned b = 0; b < NBUCKETS; b++) {
        seen += hist[b];
        if (seen > want)
            return bucket_hi(b);
    }
    return 0;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 5.0;
    long live = argc > 2 ? atol(argv[2]) : 100000;
    if (live < 1)
        live = 1;
    void **slot = calloc((size_t)live, sizeof *slot);
    if (!slot)
        return 1;
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (long i = 0; i < live; i++)
        slot[i] = malloc(16 + (xorshift(&s) & 255));

    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    struct worst w[10] = {{0, 0}};
    size_t nslots = (size_t)(secs * 100) + 2;
    uint64_t *slotmax = calloc(nslots, sizeof *slotmax);
    if (!slotmax)
        return 1;
    uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9);
    uint64_t n = 0, over100us = 0, over1ms = 0, maxd = 0, t0 = start;
    while (t0 < end) {
        uint64_t r = xorshift(&s);
        long idx = (long)((r >> 20) % (uint64_t)live);
        size_t sz = (r & 7) ? 16 + ((r >> 8) & 255) : 256 + ((r >> 8) & 4095);
        free(slot[idx]);
        char *p = malloc(sz);
        if (p)
            p[0] = (char)r;
        slot[idx] = p;
        uint64_t t1 = now_ns(), d = t1 - t0;
        hist[bucket_of(d)]++;
        n++;
        if (d > 100000)
            over100us++;
        if (d > 1000000)
            over1ms++;
        if (d > maxd)
            maxd = d;
        size_t sl = (size_t)((t0 - start) / 10000000u);
        if (sl < nslots && d > slotmax[sl])
            slotmax[sl] = d;
        if (d > w[9].ns) { /* keep the ten worst, sorted descending */
            int j = 9;
            while (j > 0 && w[j - 1].ns < d) {
                w[j] = w[j - 1];
                j--;
            }
            w[j].ns = d;
            w[j].at = t0 - start;
        }
        t0 = t1;
    }
    printf("{\"iterations\": %llu, \"p50_ns\": %llu, \"p99_ns\": %llu, \"p999_ns\": %llu, "
           "\"p9999_ns\": %llu, \"max_ns\": %llu, \"over_100us\": %llu, \"over_1ms\": %llu, "
           "\"start_realtime\": %lld.%09ld, \"worst\": [",
           (unsigned long long)n, (unsigned long long)pct(n, 0.5), (unsigned long long)pct(n, 0.99),
           (unsigned long long)pct(n, 0.999), (unsigned long long)pct(n, 0.9999),
           (unsigned long long)maxd, (unsigned long long)over100us, (unsigned long long)over1ms,
           (long long)rt.tv_sec, rt.tv_nsec);
    for (int j = 0; j < 10 && w[j].ns; j++)
        printf("%s[%.6f, %llu]", j ? ", " : "", (double)w[j].at / 1e9, (unsigned long long)w[j].ns);
    printf("], \"slot_max_ns\": [");
    for (size_t j = 0; j < nslots; j++)
        printf("%s%llu", j ? ", " : "", (unsigned long long)slotmax[j]);
    printf("]}\n");
    free(slotmax);
    for (long i = 0; i < live; i++)
        free(slot[i]);
    free(slot);
    return 0;
}
