/* liblife_deep.so - opened with RTLD_DEEPBIND by life_deepbind: its own
 * malloc and free bind to libc's directly, bypassing the shim. */
#include <stdlib.h>
#include <string.h>

void *deep_alloc(size_t n)
{
    char *p = malloc(n);
    if (p)
        memset(p, 'd', n);
    return p;
}

void deep_free(void *p)
{
    free(p);
}

char *deep_dup(const char *s)
{
    return strdup(s);
}
