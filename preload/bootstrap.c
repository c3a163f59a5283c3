/*
 * bootstrap.c - allocation before the real allocator is known.
 *
 * Resolving the real malloc with dlsym can itself call calloc (for dlerror
 * state), and some libraries allocate from constructors that run before
 * ours. Those few requests are served from a static arena. Each block has a
 * 16-byte header holding its size so realloc can copy it out; free() simply
 * ignores arena blocks (the arena is never reused, it is tiny). Each block
 * pins its address-filter bit, so free() need not test for arena blocks
 * on its fast path: they always reach the slow one.
 */
#include "shim.h"

#include <string.h>

#define BOOT_HEADER 16u

_Alignas(64) unsigned char mp_boot_arena[MP_BOOT_ARENA_SIZE];
static _Atomic size_t boot_used;

void *mp_boot_alloc(size_t size, size_t align)
{
    if (align < BOOT_HEADER)
        align = BOOT_HEADER;
    if (size > MP_BOOT_ARENA_SIZE || (align & (align - 1)))
        return NULL;
    size_t old = atomic_load(&boot_used), start, end;
    do {
        start = (old + BOOT_HEADER + align - 1) & ~(align - 1);
        end = start + ((size + 15) & ~(size_t)15);
        if (end > MP_BOOT_ARENA_SIZE)
            return NULL;
    } while (!atomic_compare_exchange_weak(&boot_used, &old, end));
    memcpy(mp_boot_arena + start - sizeof(size_t), &size, sizeof(size_t));
    mp_addrset_pin(mp_boot_arena + start);
    return mp_boot_arena + start;   /* static storage: already zeroed */
}

size_t mp_boot_size(const void *p)
{
    size_t size;
    memcpy(&size, (const unsigned char *)p - sizeof(size_t), sizeof(size_t));
    return size;
}
