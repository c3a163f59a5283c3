/*
 * Planted leak inside a dlopen'd library: leak_dlopen PLUGIN.so loads the
 * plugin after the OLD snapshot and calls its leak_in_plugin.
 * leak_dlopen PLUGIN.so CYCLES first loads and unloads it CYCLES times
 * (a server reloading its plugins): more loads than the shim's module
 * table holds.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "testprog.h"

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: leak_dlopen /path/to/libplugin.so [CYCLES]\n");
        return 2;
    }
    tp_tally t = {0, 0};
    tp_baseline();
    tp_snapshot();
    for (long i = 0, n = argc == 3 ? atol(argv[2]) : 0; i < n; i++) {
        void *old = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!old || !dlsym(old, "leak_in_plugin")) {
            fprintf(stderr, "leak_dlopen: %s\n", dlerror());
            return 2;
        }
        dlclose(old);
    }
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
