/* A dlopen'd plugin of leak_dlopen that leaks in leak_in_plugin. */
#include <stdlib.h>

#include "support/testprog.h"

__attribute__((noinline)) void leak_in_plugin(tp_tally *t, size_t bytes)
{
    uint64_t seed = 5;
    while (t->bytes < bytes) {
        /* No tp_ helpers here: the plugin links nothing of the program. */
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        size_t s = 16 + seed % 32768;
        volatile char *p = malloc(s);
        if (!p)
            abort();
        p[0] = 1;
        p[s - 1] = 1;
        t->bytes += s;
        t->count++;
    }
}
