/*
 * Planted leak inside a dlopen'd library: leak_dlopen PLUGIN.so loads the
 * plugin after the OLD snapshot and calls its leak_in_plugin.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "testprog.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: leak_dlopen /path/to/libplugin.so\n");
        return 2;
    }
    tp_tally t = {0, 0};
    tp_baseline();
    tp_snapshot();
    /* Loaded after OLD: the module appears only in NEW's module map. */
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "leak_dlopen: %s\n", dlerror());
        return 2;
    }
    void (*leak)(tp_tally *, size_t) = (void (*)(tp_tally *, size_t))dlsym(h, "leak_in_plugin");
    if (!leak) {
        fprintf(stderr, "leak_dlopen: %s\n", dlerror());
        return 2;
    }
    leak(&t, TP_LEAK_BYTES);
    churn(128 * MiB, 3);
    tp_report(&t);
    return 0;
}
