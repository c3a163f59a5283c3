/*
 * A temporary-allocation hot spot: handle_request allocates a scratch
 * buffer and frees it at once, a million times (heaptrack's and memray's
 * "temporary" allocations, freed before the next one). Beside it,
 * fill_cache allocates many more bytes that live for milliseconds (never
 * temporary), and the baseline churn frees its blocks a few allocations
 * later. `report --what temporary` must rank handle_request first with
 * the count of the TEMPORARY line, and fill_cache's frees must all be seen
 * and none be temporary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "testprog.h"

#define REQUESTS 1000000
#define CACHE_ROUNDS 20
#define CACHE_BLOCKS 64

TP_CULPRIT static void handle_request(uint64_t *seed)
{
    size_t s = 256 + tp_rand(seed) % 512;
    char *scratch = malloc(s);
    if (!scratch)
        abort();
    tp_touch(scratch, s);
    free(scratch);
}

TP_CULPRIT static void fill_cache(void **cache)
{
    for (int i = 0; i < CACHE_BLOCKS; i++) {
        cache[i] = malloc(64 * 1024);
        if (!cache[i])
            abort();
        tp_touch(cache[i], 64 * 1024);
    }
}

static void hold_cache(void)
{
    void *cache[CACHE_BLOCKS];
    for (int r = 0; r < CACHE_ROUNDS; r++) {
        fill_cache(cache);
        /* 3 ms: well past the 1.05 ms temporary threshold. */
        nanosleep(&(struct timespec){0, 3000000}, NULL);
        for (int i = 0; i < CACHE_BLOCKS; i++)
            free(cache[i]);
    }
}

int main(void)
{
    uint64_t seed = 12;
    tp_baseline();
    hold_cache();
    for (int i = 0; i < REQUESTS; i++)
        handle_request(&seed);
    printf("TEMPORARY count=%d\n", REQUESTS);
    tp_tally t = {0, 0};
    tp_report(&t);
    return 0;
}
