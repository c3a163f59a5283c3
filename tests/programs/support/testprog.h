/*
 * testprog.h - shared workload and snapshot protocol of the planted-leak
 * test programs (every .c and .cpp file in tests/programs). Linked into each.
 *
 * Protocol, followed by tests/e2e/common.sh: the program runs under the shim
 * with MEMPROF_SIGNAL=USR2 MEMPROF_INTERVAL=0 MEMPROF_OUT=<dir>. It does its
 * baseline work, calls tp_snapshot() (the OLD snapshot), plants its leak,
 * prints one line
 *     LEAK bytes=<N> count=<M>
 * with the exact bytes and objects it leaked, and exits: the exit snapshot
 * (highest seq) is NEW.
 */
#ifndef TESTPROG_H
#define TESTPROG_H

#include <stddef.h>
#include <stdint.h>

#define MiB ((size_t)1 << 20)

/*
 * Leak volume for the sampled accuracy check: the relative standard
 * deviation of a Horvitz-Thompson byte estimate is at most
 * sqrt(mean / bytes), 5.6% at the default 512 KiB (25% is only 4.5 sigma),
 * so the e2e tests sample at 256 KiB (SAMPLED_RATE in tests/e2e/common.sh):
 * sqrt(0.25 / 160) = 4.0%, 25% is over 6 sigma (tests/e2e/sampling_sigma.py).
 */
#define TP_LEAK_BYTES (160 * MiB)

/* Culprits must stay real frames that call the allocator themselves. */
#define TP_CULPRIT __attribute__((noinline, used))

/* What was leaked, accumulated by the culprit. */
typedef struct tp_tally {
    size_t bytes;
    size_t count;
} tp_tally;

/* Deterministic xorshift64* so runs are reproducible. */
uint64_t tp_rand(uint64_t *state);
/*
 * A size drawn log-uniformly from [16 B, 64 KiB]: mixed sizes exercise both
 * the small-block regime (p ~ size/mean) and blocks that are nearly always
 * sampled, without reaching malloc's mmap threshold.
 */
size_t tp_mixed_size(uint64_t *state);

/* Writes to the block so the compiler cannot drop the allocation. */
void tp_touch(void *p, size_t size);

/*
 * Allocates and frees `bytes` in mixed sizes, keeping a bounded window of
 * blocks alive; net zero. Runs in the function named `churn`.
 */
void churn(size_t bytes, uint64_t seed);

/* Baseline: churn plus long-lived state that stays live across snapshots. */
void tp_baseline(void);

/*
 * Raises MEMPROF_SIGNAL's SIGUSR2 and waits (10 ms polls, 10 s at most)
 * until a new *.mprof file appears in $MEMPROF_OUT. Exits 3 with a message
 * on timeout, 2 when MEMPROF_OUT is unset (not run under the test protocol).
 */
void tp_snapshot(void);

/* Prints the LEAK line (stdout, flushed). */
void tp_report(const tp_tally *t);

/*
 * The body of a culprit that mallocs blocks of tp_mixed_size(SEEDP) bytes,
 * touched and never freed, until the tally TALLY (a tp_tally *) holds
 * LIMIT bytes. A macro, not a function: the culprit must be the frame that
 * calls malloc. Needs <stdlib.h>.
 */
#define TP_LEAK_MIXED(tally, limit, seedp)    \
    do {                                      \
        while ((tally)->bytes < (limit)) {    \
            size_t tp_s_ = tp_mixed_size(seedp); \
            void *tp_p_ = malloc(tp_s_);      \
            if (!tp_p_)                       \
                abort();                      \
            tp_touch(tp_p_, tp_s_);           \
            (tally)->bytes += tp_s_;          \
            (tally)->count++;                 \
        }                                     \
    } while (0)

/*
 * main() of a planted-leak program: the baseline, the OLD snapshot,
 * LEAK(&tally, TP_LEAK_BYTES), 128 MiB of churn, the LEAK line. A macro:
 * main itself must call the culprit (tests name main as its caller).
 */
#define TP_PLANTED_MAIN(leak)                 \
    int main(void)                            \
    {                                         \
        tp_tally tp_t_ = {0, 0};              \
        tp_baseline();                        \
        tp_snapshot();                        \
        leak(&tp_t_, TP_LEAK_BYTES);          \
        churn(128 * MiB, 3);                  \
        tp_report(&tp_t_);                    \
        return 0;                             \
    }

#endif
