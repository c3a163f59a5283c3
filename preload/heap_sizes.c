/*
 * heap_sizes.c - the process's allocations by size, in log2 buckets,
 * estimated from the samples like everything else: a sample's size is its
 * byte weight over its count weight (s/p over 1/p), exact at
 * MEMPROF_SAMPLE=1 and within rounding of the fixed-point count otherwise,
 * which cannot move a size across a power of two except at its edge.
 */
#include "shim.h"

#include <string.h>

typedef struct bucket {
    uint64_t samples, count_fx, bytes;
} bucket;

static bucket buckets[64];

void mp_heap_sizes_reset(void)
{
    memset(buckets, 0, sizeof(buckets));
}

void mp_heap_sizes_add(const mp_event *ev)
{
    if (ev->heap.count_fx == 0)
        return;
    /* size = bytes / (count_fx / MP_COUNT_ONE), rounded; a weight of one
     * object (every exact-mode sample) needs no division, and 64 bits
     * hold the numerator of any block under 2^52 bytes. */
    uint64_t bytes = ev->heap.bytes, fx = ev->heap.count_fx, size;
    if (fx == MP_COUNT_ONE)
        size = bytes;
    else if (bytes < (UINT64_MAX >> 13))
        size = (bytes * MP_COUNT_ONE + fx / 2) / fx;
    else
        size = (uint64_t)(((unsigned __int128)bytes * MP_COUNT_ONE + fx / 2) / fx);
    unsigned k = size > 1 ? 63u - (unsigned)__builtin_clzll(size) : 0;
    buckets[k].samples++;
    buckets[k].count_fx += ev->heap.count_fx;
    buckets[k].bytes += ev->heap.bytes;
}

size_t mp_heap_sizes_export(mp_size_bucket *out)
{
    size_t n = 0;
    for (unsigned k = 0; k < 64; k++) {
        if (!buckets[k].samples)
            continue;
        out[n++] = (mp_size_bucket){.log2 = k,
                                    .samples = buckets[k].samples,
                                    .count = (buckets[k].count_fx + MP_COUNT_ONE / 2) / MP_COUNT_ONE,
                                    .bytes = buckets[k].bytes};
    }
    return n;
}
