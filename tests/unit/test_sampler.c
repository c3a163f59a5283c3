/*
 * test_sampler.c - the sampler's statistics.
 *
 * The shim samples allocations as a Poisson process over allocated bytes:
 * a per-thread countdown is decremented by each size, a sample fires when
 * it reaches <= 0 and is then redrawn with mp_draw_interval. This test
 * drives that same process with the real mp_draw_interval and
 * mp_weights_for over many seeds and checks that the Horvitz-Thompson
 * estimates of bytes and object counts are unbiased, have the variance
 * theory predicts, and stay within tolerance on every seed, for fixed and
 * mixed sizes; and that a mean of 1 is exact.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "shim.h"

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- size streams ---- */
typedef size_t (*size_fn)(uint64_t *rng);
static size_t fixed_8(uint64_t *r) { (void)r; return 8; }
static size_t fixed_1000(uint64_t *r) { (void)r; return 1000; }
static size_t fixed_100k(uint64_t *r) { (void)r; return 100000; }
static size_t fixed_4m(uint64_t *r) { (void)r; return 4u << 20; }
/* Log-uniform 1 B .. 1 MiB. */
static size_t mixed_log(uint64_t *r)
{
    double u = (double)(splitmix(r) >> 11) / 9007199254740992.0;
    return (size_t)exp2(20.0 * u);
}
/* Mostly tiny objects with rare huge ones: a per-site average-size
 * correction would be badly biased here, per-allocation weights are not. */
static size_t mixed_bimodal(uint64_t *r)
{
    return splitmix(r) % 64 == 0 ? (size_t)(2u << 20) : 16 + splitmix(r) % 48;
}

typedef struct stream_case {
    const char *name;
    size_fn size;
    uint64_t mean;
    uint64_t total;    /* bytes allocated per seed */
    /* Many samples of similar weight, so the estimate is close to normal and
     * 200 seeds measure its spread well. Heavy-tailed cases (rare misses of
     * huge blocks, rare hits of tiny ones) are checked for bias only. */
    int near_normal;
} stream_case;

typedef struct estimate {
    double true_bytes, true_count;
    double est_bytes, est_count;
    double var_bytes, var_count;   /* theoretical variance of the estimates */
    double max_w_bytes, max_w_count; /* largest weight any one allocation could get */
    uint64_t samples;
} estimate;

/* One allocation stream through the sampler, as the interposers run it. */
static estimate run_stream(const stream_case *c, uint64_t seed)
{
    estimate e = {0};
    uint64_t size_rng = seed * 31 + 7;
    uint64_t rng = splitmix(&seed) | 1;   /* xorshift state must be non-zero */
    int64_t countdown = mp_draw_interval(&rng, c->mean);
    while (e.true_bytes < (double)c->total) {
        size_t s = c->size(&size_rng);
        e.true_bytes += (double)s;
        e.true_count += 1;
        double p = mp_sample_probability((double)s, (double)c->mean);
        e.var_bytes += (double)s * (double)s * (1 - p) / p;
        e.var_count += (1 - p) / p;
        if ((double)s / p > e.max_w_bytes)
            e.max_w_bytes = (double)s / p;
        if (1 / p > e.max_w_count)
            e.max_w_count = 1 / p;
        countdown -= (int64_t)s;
        if (countdown <= 0) {
            mp_weights w = mp_weights_for(s, c->mean);
            e.est_bytes += (double)w.bytes;
            e.est_count += (double)w.count_fx / MP_COUNT_ONE;
            e.samples++;
            countdown = mp_draw_interval(&rng, c->mean);
        }
    }
    return e;
}

#define SEEDS 200

static void check_case(const stream_case *c)
{
    double sum_b = 0, sum_c = 0, sq_b = 0, sq_c = 0, var_b = 0, var_c = 0, truth_b = 0,
           truth_c = 0;
    int worst = 0;
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        estimate e = run_stream(c, seed * 1000003);
        /* Per seed: within 5 standard deviations, plus the rounding of
         * weights, plus one allocation's weight: an estimate moves in steps
         * of whole samples, so a single rare miss of a block far above the
         * mean (or hit of a tiny one) is a step of many sd, not an error. */
        double tol_b = 5 * sqrt(e.var_bytes) + 0.5 * (double)e.samples + e.max_w_bytes;
        double tol_c = 5 * sqrt(e.var_count) + (double)e.samples / MP_COUNT_ONE + e.max_w_count;
        if (fabs(e.est_bytes - e.true_bytes) > tol_b || fabs(e.est_count - e.true_count) > tol_c)
            worst++;
        double db = e.est_bytes - e.true_bytes, dc = e.est_count - e.true_count;
        sum_b += db;
        sum_c += dc;
        sq_b += db * db;
        sq_c += dc * dc;
        var_b += e.var_bytes;
        var_c += e.var_count;
        truth_b += e.true_bytes;
        truth_c += e.true_count;
    }
    CHECK(worst == 0, "%s: %d of %d seeds off by more than 5 sd", c->name, worst, SEEDS);
    /* Unbiased: the mean error over seeds is within 4 sd of the mean. */
    double bias_b = sum_b / SEEDS, bias_c = sum_c / SEEDS;
    double sdm_b = sqrt(var_b) / SEEDS, sdm_c = sqrt(var_c) / SEEDS;
    CHECK(fabs(bias_b) <= 4 * sdm_b + 1, "%s: byte estimates biased by %.0f (sd of mean %.0f)",
          c->name, bias_b, sdm_b);
    CHECK(fabs(bias_c) <= 4 * sdm_c + 1, "%s: count estimates biased by %.1f (sd of mean %.1f)",
          c->name, bias_c, sdm_c);
    /* The observed spread matches theory: catches a sampler that samples
     * more or less often than its weights assume, or correlated draws. */
    if (c->near_normal) {
        double ratio = sqrt(sq_b / var_b);
        CHECK(ratio > 0.75 && ratio < 1.3, "%s: byte error spread %.2fx the theoretical one",
              c->name, ratio);
    }
    if (c->near_normal) {
        double ratio = sqrt(sq_c / var_c);
        CHECK(ratio > 0.75 && ratio < 1.3, "%s: count error spread %.2fx the theoretical one",
              c->name, ratio);
    }
    printf("%-22s mean rel. error bytes %+.4f%% count %+.4f%%, rel. sd per seed %.2f%%\n",
           c->name, 100 * bias_b / (truth_b / SEEDS), 100 * bias_c / (truth_c / SEEDS),
           100 * sqrt(var_b / SEEDS) / (truth_b / SEEDS));
}

static void check_probability(void)
{
    const double R = 524288;
    double prev = 0;
    for (double s = 1; s < 1e9; s *= 1.7) {
        double p = mp_sample_probability(s, R);
        /* The chance that a Poisson process with one point per R bytes puts
         * at least one point in s bytes. */
        double want = 1 - exp(-s / R);
        CHECK(fabs(p - want) <= 1e-12 + 1e-9 * want, "p(%g) = %.15g, want %.15g", s, p, want);
        CHECK(p > prev || p == 1.0, "p not increasing at size %g", s);
        CHECK(p > 0 && p <= 1, "p(%g) = %g outside (0, 1]", s, p);
        prev = p;
    }
    CHECK(mp_sample_probability(1, 1) == 1.0, "mean 1 must sample with probability 1");
    CHECK(mp_sample_probability(12345, 1) == 1.0, "mean 1 must sample with probability 1");
}

static void check_intervals(void)
{
    /* Exponential with the given mean: mean and tail within tolerance. */
    const uint64_t R = 524288;
    const int N = 1000000;
    uint64_t rng = 0x1234567;
    double sum = 0;
    int above = 0, nonpositive = 0;
    for (int i = 0; i < N; i++) {
        int64_t d = mp_draw_interval(&rng, R);
        if (d <= 0)
            nonpositive++;
        sum += (double)d;
        above += d > (int64_t)R;
    }
    CHECK(nonpositive == 0, "%d intervals <= 0 at mean %llu", nonpositive,
          (unsigned long long)R);
    /* sd of the mean is R/sqrt(N) = 0.1% of R; allow 0.5%. */
    CHECK(fabs(sum / N - (double)R) < 0.005 * (double)R, "mean interval %.0f, want %llu",
          sum / N, (unsigned long long)R);
    /* P(X > R) = 1/e for an exponential; sd of the fraction is 0.05%. */
    CHECK(fabs((double)above / N - exp(-1)) < 0.003, "P(interval > mean) = %.4f, want %.4f",
          (double)above / N, exp(-1));
    /* Mean 1: every allocation of at least one byte must be sampled. */
    for (int i = 0; i < 100000; i++) {
        int64_t d = mp_draw_interval(&rng, 1);
        if (d > 1) {
            CHECK(d <= 1, "mean 1 drew interval %lld: a 1-byte allocation would be skipped",
                  (long long)d);
            break;
        }
    }
}

static void check_exact_mode(void)
{
    /* MEMPROF_SAMPLE=1: each allocation is a sample of weight exactly 1. */
    for (size_t s = 0; s < 5000000; s = s * 3 + 1) {
        mp_weights w = mp_weights_for(s, 1);
        CHECK(w.bytes == s && w.count_fx == MP_COUNT_ONE,
              "mean 1, size %zu: weights %llu bytes, %llu/%d objects", s,
              (unsigned long long)w.bytes, (unsigned long long)w.count_fx, MP_COUNT_ONE);
    }
    stream_case c = {"exact mixed", mixed_log, 1, 64u << 20, 0};
    for (uint64_t seed = 1; seed <= 5; seed++) {
        estimate e = run_stream(&c, seed);
        CHECK(e.est_bytes == e.true_bytes && e.est_count == e.true_count &&
                  e.samples == (uint64_t)e.true_count,
              "mean 1 not exact: %.0f bytes / %.0f objects estimated, %.0f / %.0f true",
              e.est_bytes, e.est_count, e.true_bytes, e.true_count);
    }
}

int main(void)
{
    check_probability();
    check_intervals();
    check_exact_mode();
    const stream_case cases[] = {
        /* Small means keep each stream short while having the same
         * samples-per-stream statistics as large means on large streams. */
        {"fixed 8 B", fixed_8, 4096, 4u << 20, 1},
        {"fixed 1000 B", fixed_1000, 65536, 32u << 20, 1},
        {"fixed 100 kB", fixed_100k, 65536, 32u << 20, 1},
        {"fixed 4 MiB > mean", fixed_4m, 524288, 256u << 20, 0},
        {"mixed 1 B..1 MiB", mixed_log, 524288, 256u << 20, 0},
        {"mixed tiny + 2 MiB", mixed_bimodal, 65536, 64u << 20, 0},
        {"mixed, default mean", mixed_log, MP_DEFAULT_SAMPLE, 1024u << 20, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i]);
    CHECK_DONE();
}
