/*
 * malloc_hooks.c - the malloc family interposers.
 *
 * The fast path of every allocation is: subtract the size from the
 * thread's sample countdown and call the real allocator (for malloc, as a
 * tail call). Everything else
 * (sampling, stack capture, bookkeeping) is out of line in track_new().
 * The fast path of free is one load from the address filter (which also
 * catches bootstrap blocks: their bits are pinned).
 *
 * Blocks are never given headers: what the application gets is exactly
 * what the real allocator returned, so malloc_usable_size, foreign frees
 * and allocator-specific behaviour are untouched.
 */
#include "shim.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* True once the real function is known; resolves it on first use. Until
 * then (dlsym itself allocates) callers fall back to the bootstrap arena.
 * malloc and free, the hottest two, skip even this test: their table
 * entries start out pointing at resolving stubs (malloc_real.c). */
#define HAVE_REAL(fn) (MP_LIKELY(mp_real.fn != NULL) || (mp_resolve_malloc(), mp_real.fn != NULL))

/* ---- out-of-line bookkeeping ---- */

/* From values, not from a block just built in memory: see addrset.c's
 * block_copy. */
static inline bool emit_heap_of(uint16_t type, uint32_t stack, uint32_t ticks, mp_weights w)
{
    mp_event ev = {.type = type,
                   .heap = {.stack = stack, .ticks = ticks, .bytes = w.bytes,
                            .count_fx = w.count_fx}};
    return mp_emit(&ev);
}

static bool emit_heap(uint16_t type, const mp_block *b, uint32_t ticks)
{
    return emit_heap_of(type, b->stack, ticks, b->w);
}

static bool emit_sample(const mp_block *b)
{
    return emit_heap(MP_EV_SAMPLE, b, b->born);
}

/* A free seen as it happens: the block's lifetime goes with it. A tick
 * or two before the birth is no lifetime of 78 hours: another CPU's TSC a
 * little behind (tick.c), or a birth read by the clock tick.c measured
 * against, just before it took over. */
#define FREE_EARLY_TICKS 16u

static void emit_free(const mp_block *b)
{
    uint32_t age = mp_tick() - b->born;
    if (MP_UNLIKELY(age >= (uint32_t)-FREE_EARLY_TICKS))
        age = 0;
    emit_heap(MP_EV_FREE, b, age);
}

/* A sample taken back or a free we missed: when it died is unknown. */
static void emit_untimed_free(const mp_block *b)
{
    emit_heap(MP_EV_FREE, b, MP_LIFETIME_UNKNOWN);
}



/*
 * A sample taken in a signal handler that interrupted the shim on this
 * thread: no unwinding (the interrupted code may be inside the unwinder),
 * so it is charged to the "unknown stack", which keeps totals exact. The
 * event and the address set protect themselves against nesting.
 */
MP_NOINLINE static void track_nested(void *p, size_t size)
{
    mp_weights w = mp_sampler_fire(size);
    if (!p || w.count_fx == 0)
        return;
    mp_block b = {.addr = (uint64_t)(uintptr_t)p, .stack = MP_OVERFLOW_STACK, .born = mp_tick(),
                  .w = w};
    MP_COUNT(samples);
    mp_block stale;
    if (!emit_sample(&b))
        return;
    int rc = mp_addrset_insert(&b, &stale);
    if (rc == 1)
        emit_untimed_free(&stale);
    else if (rc < 0)
        emit_untimed_free(&b);
}

/* Called when the countdown ran out: maybe take a sample of block p. */
MP_NOINLINE static void *track_new(void *p, size_t size)
{
    /* Nested first: between mp_hook_enter's (or leave's) two marks the
     * guard is clear while mp_in_hook is not. */
    if (MP_UNLIKELY(mp_nested())) {
        track_nested(p, size);
        return p;
    }
    if (!mp_active()) {
        /* Dormant: re-armed as if sampled, so that its allocations cost
         * the fast path's one branch until `memprof enable`, and the
         * first sample after it is drawn like any other. Not ready,
         * finished, or the collector: don't spend the countdown on
         * allocations that can never be samples. */
        if (atomic_load_explicit(&mp_state, memory_order_relaxed) == MP_STATE_DORMANT &&
            mp_guard == 0)
            mp_sampler_fire(size);
        else
            mp_sample_countdown += (int64_t)size;
        return p;
    }
    mp_weights w = mp_sampler_fire(size);
    if (!p || w.count_fx == 0)
        return p;
    mp_hook_enter();
    uint32_t stack = mp_capture_stack(), born = mp_tick();
    MP_COUNT(samples);
    if (emit_heap_of(MP_EV_SAMPLE, stack, born, w)) {
        mp_block b = {.addr = (uint64_t)(uintptr_t)p, .stack = stack, .born = born, .w = w};
        mp_block stale;
        int rc = mp_addrset_insert(&b, &stale);
        if (rc == 1)
            emit_untimed_free(&stale);   /* its free bypassed us */
        else if (rc < 0)
            emit_untimed_free(&b);       /* untrackable: keep totals honest */
    }
    mp_hook_leave();
    return p;
}

/*
 * The guard is held from the removal until the event is pushed: a signal
 * handler that frees on this thread must not push into the ring while we
 * are half-way through a push (the ring has a single producer: us).
 */
/*
 * Frees are untracked even on guarded threads: glibc frees other threads'
 * TLS blocks (allocated through our malloc, so possibly sampled) from
 * whichever thread happens to reap them, the collector included. Missing
 * one would leave a stale entry and a false leak. Removal never unwinds,
 * and the address set and the rings protect themselves against nesting.
 */
static inline bool may_untrack(void)
{
    return mp_profiling(atomic_load_explicit(&mp_state, memory_order_relaxed));
}

MP_NOINLINE static void untrack_and_emit(void *p)
{
    mp_block b;
    if (!may_untrack())
        return;
    mp_hook_enter();
    if (mp_addrset_remove(p, &b)) {
        MP_COUNT(sampled_frees);
        emit_free(&b);
    }
    mp_hook_leave();
}

/* Charges size to the thread's countdown; true when a sample is due. */
static inline bool countdown_expired(size_t size)
{
    return MP_UNLIKELY((mp_sample_countdown -= (int64_t)size) <= 0);
}

static inline void *account(void *p, size_t size)
{
    return countdown_expired(size) ? track_new(p, size) : p;
}

static inline void forget(void *p)
{
    if (MP_UNLIKELY(mp_addrset_maybe(p)))
        untrack_and_emit(p);
}

/* ---- the interposers ---- */

/* Charged before the call, so that the common case is a subtraction and a
 * tail call: no stack frame, and the real malloc returns straight to the
 * application. */
MP_NOINLINE static void *malloc_then_track(size_t size)
{
    return track_new(mp_real.malloc(size), size);
}

/* The subtraction is made on the TLS word itself, its flags taken by the
 * branch: compilers load, subtract, store and test (three instructions
 * more on the hottest path of all). */
void *malloc(size_t size)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __asm__ goto("movq mp_sample_countdown@gottpoff(%%rip), %%rax\n\t"
                 "subq %0, %%fs:(%%rax)\n\t"
                 "jle %l[expired]"
                 : : "r"(size) : "rax", "cc", "memory" : expired);
    return mp_real.malloc(size);
expired:
    return malloc_then_track(size);
#else
    if (countdown_expired(size))
        return malloc_then_track(size);
    return mp_real.malloc(size);
#endif
}

void *calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (!HAVE_REAL(calloc))
        return mp_boot_alloc(total, 16);   /* static arena: already zero */
    return account(mp_real.calloc(n, size), total);
}

/* A filter hit: a sampled block, a bootstrap block (their bits are
 * pinned), or a false positive. */
MP_NOINLINE static void free_slow(void *p)
{
    if (mp_boot_owns(p))
        return;
    untrack_and_emit(p);
    mp_real.free(p);
}

/* One filter load and a tail call. free(NULL) needs no test: a filter hit
 * on it costs one failed lookup. */
void free(void *p)
{
    if (MP_UNLIKELY(mp_addrset_maybe(p)))
        return free_slow(p);
    mp_real.free(p);
}

static void *realloc_from_boot(void *p, size_t size)
{
    void *q = malloc(size);
    if (q) {
        size_t old = mp_boot_size(p);
        memcpy(q, p, old < size ? old : size);
    }
    return q;
}

MP_NOINLINE static void *realloc_tracked(void *p, size_t size)
{
    mp_block old, stale;
    bool active = may_untrack();
    mp_hook_enter();
    bool tracked = active && mp_addrset_remove(p, &old);
    void *q = mp_real.realloc(p, size);
    if (tracked) {
        if (!q && size != 0) {
            mp_addrset_insert(&old, &stale);   /* failed: p is still live */
        } else {
            MP_COUNT(sampled_frees);
            emit_free(&old);
        }
    }
    mp_hook_leave();
    return q ? account(q, size) : q;
}

/*
 * glibc semantics, which we must not change: realloc(NULL, n) is malloc(n);
 * realloc(p, 0) frees p and returns NULL; on failure p stays valid. The old
 * block leaves the sampled set *before* the real call (after it, another
 * thread may already own that address) and goes back in if the call fails.
 */
static void *realloc_impl(void *p, size_t size)
{
    if (!p)
        return malloc(size);
    if (MP_UNLIKELY(mp_boot_owns(p)))
        return realloc_from_boot(p, size);
    if (!HAVE_REAL(realloc))
        return NULL;
    if (MP_LIKELY(!mp_addrset_maybe(p))) {
        void *q = mp_real.realloc(p, size);
        return q ? account(q, size) : q;
    }
    return realloc_tracked(p, size);
}

void *realloc(void *p, size_t size)
{
    return realloc_impl(p, size);
}

void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc_impl(p, total);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    if (!HAVE_REAL(posix_memalign)) {
        *out = mp_boot_alloc(size, align);
        return *out ? 0 : ENOMEM;
    }
    int rc = mp_real.posix_memalign(out, align, size);
    if (rc == 0)
        *out = account(*out, size);
    return rc;
}

void *aligned_alloc(size_t align, size_t size)
{
    if (!HAVE_REAL(aligned_alloc))
        return mp_boot_alloc(size, align);
    return account(mp_real.aligned_alloc(align, size), size);
}

void *memalign(size_t align, size_t size)
{
    if (!HAVE_REAL(memalign))
        return mp_boot_alloc(size, align);
    return account(mp_real.memalign(align, size), size);
}

void *valloc(size_t size)
{
    if (!HAVE_REAL(valloc))
        return mp_boot_alloc(size, 4096);
    return account(mp_real.valloc(size), size);
}

void *pvalloc(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t rounded = size ? (size + page - 1) & ~(page - 1) : page;
    if (!HAVE_REAL(pvalloc))
        return mp_boot_alloc(rounded, page);
    return account(mp_real.pvalloc(size), rounded);
}

/* C23; glibc 2.36 lacks them, newer programs may call them. */
void free_sized(void *p, size_t size)
{
    if (!p || mp_boot_owns(p))
        return;
    forget(p);
    if (mp_real.free_sized)
        mp_real.free_sized(p, size);
    else if (mp_real.free)
        mp_real.free(p);
}

void free_aligned_sized(void *p, size_t align, size_t size)
{
    if (!p || mp_boot_owns(p))
        return;
    forget(p);
    if (mp_real.free_aligned_sized)
        mp_real.free_aligned_sized(p, align, size);
    else if (mp_real.free)
        mp_real.free(p);
}

size_t malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    if (mp_boot_owns(p))
        return mp_boot_size(p);
    return HAVE_REAL(usable_size) ? mp_real.usable_size(p) : 0;
}
