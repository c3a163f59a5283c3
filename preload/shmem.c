/*
 * shmem.c - the shim's own memory. Everything the shim keeps lives in pages
 * it maps itself, so the host's heap never contains shim data (it would
 * show up in the profile, and calling malloc from inside malloc recurses).
 */
#include "shim.h"

#include <sys/mman.h>

void *mp_pages(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void mp_pages_free(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes);
}

void *mp_reserve(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}
