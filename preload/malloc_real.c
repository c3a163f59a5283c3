/*
 * malloc_real.c - the real allocator behind the malloc family interposers
 * (malloc_hooks.c): a table of the next definitions, filled by dlsym.
 *
 * dlsym may allocate (dlerror state); those nested calls see the table
 * still empty and are served by the bootstrap arena. The table is filled in
 * a local copy and published at once so no call sees half of it.
 */
#include "shim.h"

#include <dlfcn.h>

static void *first_malloc(size_t size);
static void first_free(void *p);

/* malloc and free start at stubs that resolve the table, so their hooks
 * never test for NULL (see malloc_hooks.c). */
mp_real_fns mp_real = {.malloc = first_malloc, .free = first_free};

static void *first_malloc(size_t size)
{
    mp_resolve_malloc();
    if (mp_real.malloc != first_malloc)
        return mp_real.malloc(size);
    return mp_boot_alloc(size, 16);   /* called from inside dlsym */
}

static void first_free(void *p)
{
    mp_resolve_malloc();
    if (mp_real.free != first_free)
        mp_real.free(p);
    /* else: inside dlsym, before free is known; leaking beats crashing */
}

void mp_resolve_malloc(void)
{
    static _Atomic int resolving;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&resolving, &expected, 1))
        return;
    mp_real_fns r = {
        .malloc = dlsym(RTLD_NEXT, "malloc"),
        .calloc = dlsym(RTLD_NEXT, "calloc"),
        .realloc = dlsym(RTLD_NEXT, "realloc"),
        .free = dlsym(RTLD_NEXT, "free"),
        .posix_memalign = dlsym(RTLD_NEXT, "posix_memalign"),
        .aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc"),
        .memalign = dlsym(RTLD_NEXT, "memalign"),
        .valloc = dlsym(RTLD_NEXT, "valloc"),
        .pvalloc = dlsym(RTLD_NEXT, "pvalloc"),
        .reallocarray = dlsym(RTLD_NEXT, "reallocarray"),
        .free_sized = dlsym(RTLD_NEXT, "free_sized"),
        .free_aligned_sized = dlsym(RTLD_NEXT, "free_aligned_sized"),
        .usable_size = dlsym(RTLD_NEXT, "malloc_usable_size"),
    };
    if (!r.malloc || !r.free)
        return;   /* no allocator after us: stay on the bootstrap arena */
    mp_real = r;
}
