/*
 * lock_real.c - finding the real pthread lock functions behind our hooks
 * (the table lk_real, lockstate.h).
 *
 * Resolved with dlvsym/dlsym(RTLD_NEXT), all at once: on first use, or by
 * mp_locks_init at start-up. dlsym may itself allocate or take a lock, so
 * it runs under the guard, and a hook reached from inside it gets a
 * stand-in.
 *
 * "On first use" without a test on the fast paths: the table starts out
 * holding a trampoline per function (static initialisation, so it is in
 * place before any code of ours or any constructor runs), which resolves
 * the table and passes its call on. A hook's fast path is then one
 * indirect jump through its field, whatever the state: before
 * constructors, while another thread resolves (both store the same
 * values), in a fork child (the table is inherited, resolved or not).
 */
#include "lockstate.h"

#include <dlfcn.h>

static _Atomic int lk_complete;   /* every field of lk_real is resolved */
static MP_TLS int lk_resolving;

/*
 * Stand-in when a real function cannot be had: only while this thread is
 * already inside dlsym (which would recurse) or if libc lacks the symbol.
 * Like mutrace during bootstrap it reports success: the process is still
 * single-threaded then, and failing a lock makes C++ throw. Every hook
 * returns int and x86-64 callers clean up their own arguments, so one
 * argument-less function stands in for all of them.
 */
static int lk_stub(void)
{
    return 0;
}

static const lk_real_fns lk_stubs = {
#define X(field, fn, version, params, args) .field = (void *)lk_stub,
    LK_FNS(X)
#undef X
};

/* The first-call trampolines: resolve, then the real call (or, inside
 * dlsym, the stand-in). */
#define X(field, fn, version, params, args) \
    static int lk_first_##field params { return lk_resolve()->field args; }
LK_FNS(X)
#undef X

lk_real_fns lk_real = {
#define X(field, fn, version, params, args) .field = lk_first_##field,
    LK_FNS(X)
#undef X
};

static void *lk_next(const char *name, const char *version)
{
    void *p = version ? dlvsym(RTLD_NEXT, name, version) : NULL;
    if (!p)
        p = dlsym(RTLD_NEXT, name);
    return p ? p : (void *)lk_stub;
}

/* One whole field at a time, never a torn or intermediate value: a hook on
 * another thread may jump through it meanwhile. */
#define LK_SET(field, value) \
    __atomic_store_n(&lk_real.field, (typeof(lk_real.field))(value), __ATOMIC_RELAXED)

MP_NOINLINE const lk_real_fns *lk_resolve(void)
{
    if (atomic_load_explicit(&lk_complete, memory_order_acquire))
        return &lk_real;   /* mp_locks_init after a hook resolved the table */
    if (lk_resolving)
        return &lk_stubs;
    lk_resolving = 1;
    mp_guard++;   /* dlsym may calloc or take a loader lock: pass those through */
#define X(field, fn, version, params, args) LK_SET(field, lk_next(#fn, version));
    LK_FNS(X)
#undef X
    mp_guard--;
    lk_resolving = 0;
    atomic_store_explicit(&lk_complete, 1, memory_order_release);
    return &lk_real;
}

/* `memprof attach`: the table is what the program's GOT slots held
 * (attach.c); RTLD_NEXT means nothing for a library dlopen'd that late.
 * Functions the process lacks get the stand-in. */
void lk_real_install(const lk_real_fns *t)
{
#define X(field, fn, version, params, args) LK_SET(field, t->field ? t->field : lk_stubs.field);
    LK_FNS(X)
#undef X
    atomic_store_explicit(&lk_complete, 1, memory_order_release);
}
