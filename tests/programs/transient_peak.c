/*
 * A large transient peak, allocated after OLD and freed before NEW, beside a
 * smaller real leak in leak_under_peak: the peak's site must net to zero and
 * the leak must still rank first; and the peak itself (report --what peak)
 * must rank transient_peak first, with the bytes of the PEAK line
 * (printed before the LEAK line: the bytes and blocks it held at once).
 */
#include <stdio.h>
#include <stdlib.h>

#include "testprog.h"

#define PEAK_BYTES (512 * MiB)
#define PEAK_BLOCKS 4096

static void *peak[PEAK_BLOCKS];
static size_t peak_bytes;

TP_CULPRIT static void transient_peak(size_t bytes)
{
    uint64_t seed = 6;
    size_t per_block = bytes / PEAK_BLOCKS;
    for (int i = 0; i < PEAK_BLOCKS; i++) {
        /* 64 KiB .. 192 KiB: some blocks come from mmap, some from the heap. */
        size_t s = per_block / 2 + tp_rand(&seed) % per_block;
        peak[i] = malloc(s);
        if (!peak[i])
            abort();
        peak_bytes += s;
        tp_touch(peak[i], s);
    }
}

static void release_peak(void)
{
    for (int i = 0; i < PEAK_BLOCKS; i++)
        free(peak[i]);
}

TP_CULPRIT static void leak_under_peak(tp_tally *t, size_t bytes)
{
    uint64_t seed = 7;
    TP_LEAK_MIXED(t, bytes, &seed);
}

int main(void)
{
    tp_tally t = {0, 0};
    tp_baseline();
    tp_snapshot();
    transient_peak(PEAK_BYTES);
    leak_under_peak(&t, TP_LEAK_BYTES);
    release_peak();
    churn(64 * MiB, 3);
    printf("PEAK bytes=%zu count=%d\n", peak_bytes, PEAK_BLOCKS);
    tp_report(&t);
    return 0;
}
