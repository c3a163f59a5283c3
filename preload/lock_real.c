/*
 * lock_real.c - finding the real pthread lock functions behind our hooks.
 *
 * Resolved with dlvsym/dlsym(RTLD_NEXT) on first use, or all at once by
 * mp_locks_init at start-up. dlsym may itself allocate or take a lock, so
 * it runs under the guard, and a hook reached from inside it gets a stub.
 */
#include "lockstate.h"

#include <dlfcn.h>

static const char *const lk_names[LK_NFNS] = {
#define X(id, name, ver) name,
    LK_FNS(X)
#undef X
};
static const char *const lk_versions[LK_NFNS] = {
#define X(id, name, ver) ver,
    LK_FNS(X)
#undef X
};

void *_Atomic lk_fn[LK_NFNS];
static MP_TLS int lk_resolving;

/*
 * Stand-in when a real function cannot be had: only while this thread is
 * already inside dlsym (which would recurse) or if libc lacks the symbol.
 * Like mutrace during bootstrap it reports success: the process is still
 * single-threaded then, and failing a lock makes C++ throw. Every hook's
 * signature returns int and x86-64 callers clean up their own arguments.
 */
static int lk_stub(void)
{
    return 0;
}

MP_NOINLINE void *lk_resolve(int i)
{
    if (lk_resolving)
        return (void *)lk_stub;
    lk_resolving = 1;
    mp_guard++;   /* dlsym may calloc or take a loader lock: pass those through */
    void *p = lk_versions[i] ? dlvsym(RTLD_NEXT, lk_names[i], lk_versions[i]) : NULL;
    if (!p)
        p = dlsym(RTLD_NEXT, lk_names[i]);
    mp_guard--;
    lk_resolving = 0;
    if (!p)
        p = (void *)lk_stub;
    atomic_store_explicit(&lk_fn[i], p, memory_order_release);
    return p;
}

#define X(id, name, ver)                                                                   \
    static MP_NOINLINE void *lk_resolve_##id(void)                                         \
    {                                                                                      \
        return lk_resolve(LK_##id);                                                        \
    }
LK_FNS(X)
#undef X

const lk_resolver lk_resolvers[LK_NFNS] = {
#define X(id, name, ver) [LK_##id] = lk_resolve_##id,
    LK_FNS(X)
#undef X
};

void mp_locks_init(void)
{
    for (int i = 0; i < LK_NFNS; i++)
        lk_real(i);
}
