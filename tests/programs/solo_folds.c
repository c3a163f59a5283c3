/*
 * solo_folds - one thread, N malloc/free pairs of 16..1039 B over 64
 * slots (the peers' churn), then one line
 *     WAKES voluntary=<V> pairs=<N>
 * with the process's voluntary context switches (getrusage: every thread,
 * the shim's collector included, which is alive when it is read). Under
 * the tests' protocol (MEMPROF_SIGNAL set) the collector thread runs from
 * the start; at MEMPROF_SAMPLE=1 every pair is two events. A collector
 * that had them pushed to it would sleep and wake again about once per
 * half ring (2048 events); folded by the thread itself while the
 * collector sleeps (ring.c, collector_away), it wakes only for the heap
 * series' points.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "testprog.h"

static TP_CULPRIT void *churn_slots(long pairs)
{
    void *slot[64] = {0};
    uint64_t s = 0x853c49e6748fea9bull;
    for (long i = 0; i < pairs; i++) {
        uint64_t r = tp_rand(&s);
        unsigned idx = (unsigned)(r >> 40) & 63;
        free(slot[idx]);
        size_t size = 16 + ((r >> 8) & 1023);
        slot[idx] = malloc(size);
        if (slot[idx])
            tp_touch(slot[idx], size);
    }
    for (int i = 0; i < 64; i++)
        free(slot[i]);
    return slot[0];
}

int main(int argc, char **argv)
{
    long pairs = argc > 1 ? atol(argv[1]) : 1000000;
    churn_slots(pairs);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        perror("getrusage");
        return 1;
    }
    printf("WAKES voluntary=%ld pairs=%ld\n", ru.ru_nvcsw, pairs);
    return 0;
}
