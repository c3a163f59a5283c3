/*
 * test_heaptime.c - the collector's peak, series, lifetimes and sizes
 * (preload/heap_peak.c, heap_series.c, heap_life.c, heap_sizes.c), fed
 * through mp_heap_fold as the collector feeds it:
 *   - the high-water mark is exact at every event; the live set by stack
 *     is the peak's when the heap turns down more than 1/64 above the last
 *     copy, and otherwise stays within 1/64 below the mark;
 *   - a series fast-forwarded through ten hours of collector passes stays
 *     within MP_SERIES_MAX points;
 *   - lifetimes land in their log4 buckets, temporary under 16 ticks;
 *   - sizes land in their log2 buckets, exact with unit weights;
 *   - the blocks' clock (preload/tick.c) is CLOCK_MONOTONIC's to within
 *     20 us, never goes back, and is the TSC's once measured where the
 *     kernel's clocksource is the TSC.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "shim.h"

static void sample(uint32_t stack, uint64_t bytes)
{
    mp_event ev = {.type = MP_EV_SAMPLE,
                   .heap = {.stack = stack, .ticks = mp_tick(), .bytes = bytes,
                            .count_fx = MP_COUNT_ONE}};
    mp_heap_fold(&ev);
}

static void release(uint32_t stack, uint64_t bytes, uint32_t lifetime)
{
    mp_event ev = {.type = MP_EV_FREE,
                   .heap = {.stack = stack, .ticks = lifetime, .bytes = bytes,
                            .count_fx = MP_COUNT_ONE}};
    mp_heap_fold(&ev);
}

static uint64_t site_bytes(const mp_peak_site *s, size_t n, uint32_t stack)
{
    for (size_t i = 0; i < n; i++)
        if (s[i].stack == stack)
            return s[i].live_bytes;
    return 0;
}

static void check_peak(uint32_t a, uint32_t b)
{
    mp_peak p;
    const mp_peak_site *sites;
    size_t n;
    for (int i = 0; i < 100; i++)
        sample(a, 1000);
    mp_heap_peak_export(&p, &sites, &n);   /* still at the high: copied now */
    CHECK(p.bytes == 100000 && p.sites_bytes == 100000, "peak %lu, sites %lu",
          (unsigned long)p.bytes, (unsigned long)p.sites_bytes);
    CHECK(n == 1 && site_bytes(sites, n, a) == 100000, "one site of 100000 bytes, got %zu", n);
    CHECK(p.time_ns > 0 && p.time_ns <= mp_realtime_ns(), "peak time %lu", (unsigned long)p.time_ns);

    for (int i = 0; i < 50; i++)
        release(a, 1000, 2);
    for (int i = 0; i < 51; i++)
        sample(b, 1000);   /* 101000: a new high, by less than 1/64 */
    release(b, 1000, 2);
    mp_heap_peak_export(&p, &sites, &n);
    CHECK(p.bytes == 101000, "the mark is exact: %lu", (unsigned long)p.bytes);
    CHECK(p.sites_bytes == 100000 && site_bytes(sites, n, b) == 0,
          "a rise under 1/64 is not copied: sites %lu", (unsigned long)p.sites_bytes);

    for (int i = 0; i < 100; i++)
        sample(b, 1000);   /* 200000 */
    release(a, 1000, 2);   /* the turn */
    for (int i = 0; i < 10; i++)
        release(b, 1000, 2);
    mp_heap_peak_export(&p, &sites, &n);
    CHECK(p.bytes == 200000 && p.sites_bytes == 200000, "copied at the turn: %lu / %lu",
          (unsigned long)p.bytes, (unsigned long)p.sites_bytes);
    CHECK(site_bytes(sites, n, a) == 50000 && site_bytes(sites, n, b) == 150000,
          "the peak's live set: a %lu b %lu", (unsigned long)site_bytes(sites, n, a),
          (unsigned long)site_bytes(sites, n, b));
}

static void check_lifetimes(uint32_t c)
{
    release(c, 64, 0);                      /* bucket 0, temporary */
    release(c, 64, 3);                      /* bucket 1 [1,4), temporary */
    release(c, 64, MP_TEMPORARY_TICKS - 1); /* bucket 2 [4,16), temporary */
    release(c, 64, MP_TEMPORARY_TICKS);     /* bucket 3 [16,64): not */
    release(c, 64, 1u << 30);               /* the last bucket */
    release(c, 64, MP_LIFETIME_UNKNOWN);    /* not counted */
    mp_lifetime_site l;
    CHECK(mp_heap_life_export(c, &l), "stack %u has lifetimes", c);
    CHECK(l.freed_samples == 5 && l.freed_count == 5, "5 known lifetimes, got %lu",
          (unsigned long)l.freed_samples);
    CHECK(l.temp_count == 3 && l.temp_bytes == 192, "3 temporary, got %lu / %lu bytes",
          (unsigned long)l.temp_count, (unsigned long)l.temp_bytes);
    uint64_t want[MP_LIFE_BUCKETS] = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    for (unsigned k = 0; k < MP_LIFE_BUCKETS; k++)
        CHECK(l.hist[k] == want[k], "bucket %u: %lu, want %lu", k, (unsigned long)l.hist[k],
              (unsigned long)want[k]);
    CHECK(!mp_heap_life_export(c + 1, &l), "a stack with no frees has no record");
}

static void check_sizes(void)
{
    mp_size_bucket b[64];
    size_t n = mp_heap_sizes_export(b);
    uint64_t in_1k = 0, in_64 = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i].log2 == 9)   /* 1000 in [512, 1024) */
            in_1k = b[i].count;
        if (b[i].log2 == 6)
            in_64 = b[i].count;
    }
    CHECK(in_1k == 251 && in_64 == 0, "sizes: %lu in [512,1024), %lu in [64,128)",
          (unsigned long)in_1k, (unsigned long)in_64);
    /* A sample of 10 bytes taken with probability 1/100: weight 1000 / 409600. */
    mp_event ev = {.type = MP_EV_SAMPLE,
                   .heap = {.stack = 1, .bytes = 1000, .count_fx = 100 * MP_COUNT_ONE}};
    mp_heap_sizes_add(&ev);
    n = mp_heap_sizes_export(b);
    CHECK(n >= 2 && b[0].log2 == 3 && b[0].count == 100, "a 10-byte sample of weight 100");
}

static void check_series(void)
{
    mp_series_point out[MP_SERIES_MAX + 1];
    uint64_t t = 1;
    size_t most = 0;
    for (uint64_t pass = 0; pass < 3600000; pass++, t += 10000000) {   /* 10 h of 10 ms */
        mp_heap_series_note(t);
        if (pass % 100000 == 0) {
            size_t n = mp_heap_series_export(out);
            most = n > most ? n : most;
        }
    }
    size_t n = mp_heap_series_export(out);
    CHECK(most <= MP_SERIES_MAX + 1 && n <= MP_SERIES_MAX + 1 && n > MP_SERIES_MAX / 2,
          "bounded series: %zu points at the end, %zu at most", n, most);
    for (size_t i = 1; i < n; i++)
        CHECK(out[i].t_ns >= out[i - 1].t_ns, "point %zu goes back in time", i);
    CHECK(out[n - 1].rss_bytes > 0, "the last point has an RSS");
    CHECK(out[n - 1].heap_bytes == mp_heap_agg_live_total(), "the last point is the heap now");
}

/* Sandwiched between two mp_now_ns reads (a preemption only widens the
 * sandwich), for 80 ms: over the measurement (16 ms) and after it. */
static void check_clock(void)
{
    const uint64_t tol = 20000;
    uint64_t start = mp_now_ns(), last = 0, bad = 0, back = 0, reads = 0;
    for (;;) {
        uint64_t a = mp_now_ns(), t = mp_tick_ns(), b = mp_now_ns();
        reads++;
        if (t + tol < a || t > b + tol)
            bad++;
        if (t < last)
            back++;
        last = t;
        if (b - start > 80000000u)
            break;
    }
    CHECK(bad == 0, "%lu of %lu reads outside CLOCK_MONOTONIC +- 20 us", (unsigned long)bad,
          (unsigned long)reads);
    CHECK(back == 0, "%lu of %lu reads went back", (unsigned long)back, (unsigned long)reads);
    char src[64] = "";
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (f) {
        if (!fgets(src, sizeof(src), f))
            src[0] = 0;
        fclose(f);
    }
    if (strcmp(src, "tsc\n") == 0)
        CHECK(atomic_load(&mp_tick_tsc) == 1, "the kernel keeps time with the TSC, the ticks not");
    else
        printf("clocksource %s: ticks stay mp_now_ns\n", src[0] ? src : "unknown");
}

int main(void)
{
    CHECK(mp_stacktab_init() == 0 && mp_heap_fold_init() == 0, "tables reserve their memory");
    uint64_t fa[2] = {0x1000, 0x2000}, fb[2] = {0x1000, 0x3000}, fc[2] = {0x4000, 0x5000};
    uint32_t a = mp_stack_intern(fa, 2, 1), b = mp_stack_intern(fb, 2, 1),
             c = mp_stack_intern(fc, 2, 1);
    CHECK(a != b && b != c, "three stacks");
    check_peak(a, b);
    check_lifetimes(c);
    check_sizes();
    check_series();
    check_clock();
    CHECK_DONE();
}
