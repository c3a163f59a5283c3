/* Planted leak: plain malloc of mixed sizes in leak_plain_malloc. */
#include <stdlib.h>

#include "testprog.h"

TP_CULPRIT static void leak_plain_malloc(tp_tally *t, size_t bytes)
{
    uint64_t seed = 1;
    while (t->bytes < bytes) {
        size_t s = tp_mixed_size(&seed);
        void *p = malloc(s);
        if (!p)
            abort();
        tp_touch(p, s);
        t->bytes += s;
        t->count++;
    }
}

int main(void)
{
    tp_tally t = {0, 0};
    tp_baseline();
    tp_snapshot();
    leak_plain_malloc(&t, TP_LEAK_BYTES);
    churn(128 * MiB, 3);
    tp_report(&t);
    return 0;
}
