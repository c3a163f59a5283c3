/* Planted leak: posix_memalign and aligned_alloc in leak_aligned. */
#include <stdlib.h>

#include "testprog.h"

TP_CULPRIT static void leak_aligned(tp_tally *t, size_t bytes)
{
    static const size_t aligns[] = {32, 64, 256, 4096};
    uint64_t seed = 4;
    while (t->bytes < bytes) {
        size_t align = aligns[tp_rand(&seed) % 4];
        /* aligned_alloc wants a multiple of the alignment. */
        size_t s = (tp_mixed_size(&seed) + align - 1) / align * align;
        void *p;
        if (t->count % 2 == 0) {
            if (posix_memalign(&p, align, s) != 0)
                abort();
        } else {
            p = aligned_alloc(align, s);
            if (!p)
                abort();
        }
        if ((uintptr_t)p % align != 0)
            abort();
        tp_touch(p, s);
        t->bytes += s;
        t->count++;
    }
}

TP_PLANTED_MAIN(leak_aligned)
