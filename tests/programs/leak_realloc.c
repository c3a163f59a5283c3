/*
 * Planted leak: buffers grown by realloc in leak_realloc_growth. Every
 * intermediate block is freed by realloc itself; only the final sizes leak.
 */
#include <stdlib.h>

#include "testprog.h"

TP_CULPRIT static void leak_realloc_growth(tp_tally *t, size_t bytes)
{
    uint64_t seed = 3;
    while (t->bytes < bytes) {
        char *buf = NULL;
        size_t size = 0;
        /* Grow in uneven steps, as a string builder or vector would. */
        int steps = 1 + (int)(tp_rand(&seed) % 12);
        for (int i = 0; i < steps; i++) {
            size += tp_mixed_size(&seed) / 4 + 1;
            buf = realloc(buf, size);
            if (!buf)
                abort();
            tp_touch(buf, size);
        }
        t->bytes += size;
        t->count++;
    }
}

TP_PLANTED_MAIN(leak_realloc_growth)
