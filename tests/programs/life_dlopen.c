/*
 * life_dlopen DIR ROUNDS - dlopen/dlclose loop over DIR/liblife_plug_a.so
 * and DIR/liblife_plug_b.so alternately; each round the loaded library
 * leaks 2 blocks (a: 128 bytes, b: 256 bytes) from its own code and is then
 * unloaded, so the live heap is full of stacks into unloaded libraries,
 * often mapped at the same address. Prints the expected totals.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int rounds = atoi(argv[2]);
    long a = 0, b = 0;
    for (int r = 0; r < rounds; r++) {
        int is_a = r % 2 == 0;
        char path[4096];
        snprintf(path, sizeof(path), "%s/liblife_plug_%s.so", argv[1], is_a ? "a" : "b");
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 2;
        }
        void (*leak)(int) = (void (*)(int))dlsym(h, is_a ? "plug_a_leak" : "plug_b_leak");
        if (!leak)
            return 2;
        leak(2);
        if (is_a)
            a += 2 * 128;
        else
            b += 2 * 256;
        if (dlclose(h) != 0) {
            fprintf(stderr, "dlclose: %s\n", dlerror());
            return 2;
        }
    }
    printf("plug_a_leak bytes=%ld\nplug_b_leak bytes=%ld\n", a, b);
    return 0;
}
