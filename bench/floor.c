/*
 * floor.c - the thinnest LD_PRELOAD interposer there can be: malloc, free,
 * calloc, realloc, pthread_mutex_lock and pthread_mutex_unlock, each a tail
 * call to the real function and nothing else. scripts/bench runs it as the
 * "floor" tool: what any preloaded profiler pays before it records a
 * thing (an extra PLT jump and an indirect one per call), so that
 * memprof's own cost is its ratio over this one, not over the plain run.
 * Not a profiler, never installed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static int (*real_lock)(pthread_mutex_t *);
static int (*real_unlock)(pthread_mutex_t *);

__attribute__((constructor)) static void floor_init(void)
{
    real_lock = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_lock");
    real_unlock = (int (*)(pthread_mutex_t *))dlsym(RTLD_NEXT, "pthread_mutex_unlock");
}

void *malloc(size_t n) { return __libc_malloc(n); }
void free(void *p) { __libc_free(p); }
void *calloc(size_t k, size_t n) { return __libc_calloc(k, n); }
void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }

/* Locks taken before the constructor ran (none in bench/workloads) would
 * find no pointer: resolve then. */
int pthread_mutex_lock(pthread_mutex_t *m)
{
    if (__builtin_expect(real_lock == NULL, 0))
        floor_init();
    return real_lock(m);
}

int pthread_mutex_unlock(pthread_mutex_t *m)
{
    if (__builtin_expect(real_unlock == NULL, 0))
        floor_init();
    return real_unlock(m);
}
