/*
 * sampler.c - which allocations are sampled, and what each sample stands for.
 *
 * Allocated bytes are treated as a Poisson process with one point every R
 * bytes on average (R = MEMPROF_SAMPLE). A thread keeps the bytes left until
 * its next point in a TLS countdown; the interposer subtracts each size and
 * comes here only when the countdown reaches zero, so an unsampled
 * allocation costs one decrement and one branch.
 *
 * An allocation of s bytes contains at least one point with probability
 * p = 1 - exp(-s/R). Each sample is weighted by 1/p objects and s/p bytes
 * (Horvitz-Thompson), which is unbiased per allocation, hence also for call
 * sites that allocate mixed sizes (unlike per-site average-size correction).
 * After a sample the countdown is redrawn from scratch: the process is
 * memoryless, so this is exact, and one allocation yields at most one sample.
 */
#include "shim.h"

#include <math.h>
#include <time.h>
#include <unistd.h>

MP_TLS int64_t mp_sample_countdown;
static MP_TLS uint64_t rng_state;

static uint64_t xorshift64s(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

int64_t mp_draw_interval(uint64_t *rng, uint64_t mean)
{
    if (mean <= 1)
        return 0;  /* exact mode: every allocation is a sample */
    /* u in (0, 1]: 53 random bits, never 0, so log(u) is finite. */
    double u = ((xorshift64s(rng) >> 11) + 1) * (1.0 / 9007199254740992.0);
    double next = -log(u) * (double)mean;
    if (next >= 4e18)
        next = 4e18;
    return (int64_t)next + 1;
}

double mp_sample_probability(double size, double mean)
{
    if (mean <= 1)
        return 1.0;
    return -expm1(-size / mean);  /* 1 - e^(-s/R), accurate for small s/R */
}

mp_weights mp_weights_for(size_t size, uint64_t mean)
{
    mp_weights w;
    if (mean <= 1) {
        w.bytes = size;
        w.count_fx = MP_COUNT_ONE;
        return w;
    }
    double s = size ? (double)size : 1.0;
    double p = mp_sample_probability(s, (double)mean);
    w.bytes = (uint64_t)llround((double)size / p);
    w.count_fx = (uint64_t)llround(MP_COUNT_ONE / p);
    return w;
}

static void seed_thread(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
                    (uint64_t)(uintptr_t)&rng_state * 0x9E3779B97F4A7C15ULL ^
                    (uint64_t)getpid() * 0xBF58476D1CE4E5B9ULL;
    rng_state = seed ? seed : 0x853c49e6748fea9bULL;
}

/*
 * A fork child inherits its thread's generator and countdown, so children
 * forked from one point (a pre-forking server's workers) would sample
 * exactly the same allocations: each estimate stays unbiased, but their
 * errors are one error repeated, and a total over the workers is as noisy
 * as a single worker's (three workers reported identical byte counts per
 * site). The child draws its own: a new seed (its pid is in it) and a new
 * countdown, which by the exponential's lack of memory leaves the
 * sampling unbiased. An unarmed thread stays unarmed (its first
 * allocation seeds it).
 */
void mp_sampler_after_fork_child(void)
{
    if (rng_state == 0 || mp_cfg.sample_bytes <= 1)
        return;
    seed_thread();
    mp_sample_countdown = mp_draw_interval(&rng_state, mp_cfg.sample_bytes);
}

/* mp_sampler_fire (shim.h) off exact mode. */
mp_weights mp_sampler_draw(size_t size)
{
    if (MP_UNLIKELY(rng_state == 0)) {
        /* First allocation of this thread: the countdown was never armed.
         * Arm it; this allocation is a sample only if the first point
         * falls inside it. A zero count weight tells the caller "none". */
        seed_thread();
        mp_sample_countdown = mp_draw_interval(&rng_state, mp_cfg.sample_bytes) - (int64_t)size;
        if (mp_sample_countdown > 0)
            return (mp_weights){0, 0};
    }
    mp_sample_countdown = mp_draw_interval(&rng_state, mp_cfg.sample_bytes);
    return mp_weights_for(size, mp_cfg.sample_bytes);
}
