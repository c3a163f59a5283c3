/*
 * unwind_fast.c - the fast stack walk and each thread's unwind state.
 *
 * The walk starts from the registers its caller captured and applies the
 * compact rules of unwind_table.c frame by frame: CFA from SP or BP, the
 * return address at CFA-8, BP reloaded from its slot when the frame saved
 * it. It reads nothing but the thread's own stack, and every read is
 * checked against the stack's bounds first, so a stack whose return
 * addresses or frame pointers were overwritten ends the walk (counted by
 * the caller) instead of faulting. A return address outside every module
 * (JIT code, garbage) ends the stack there; a frame the rules cannot
 * describe (a signal frame, a CFA expression, no FDE) hands the stack to
 * libunwind (unwind.c).
 *
 * Each thread's state (its stack bounds and the frame buffers, which do not
 * belong on a stack that may be a signal handler's 8 KiB alternate stack)
 * lives in a block from shmem.c claimed on the thread's first sample and
 * released by a thread-exit destructor for the next new thread: a claim is
 * one CAS, safe where a signal handler could re-enter.
 */
#include "shim.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_stack_end;

enum { BLOCK_FREE = 0, BLOCK_OWNED = 1 };

typedef struct uw_block {
    mp_uwthread t;
    struct uw_block *next;
    _Atomic int state;
} uw_block;

static uw_block *_Atomic registry;
static pthread_key_t exit_key;
static _Atomic int exit_key_state;   /* 0 none, 1 creating, 2 ready */
static MP_TLS uw_block *mine;

static void release_block(void *arg)
{
    uw_block *b = arg;
    if (mine == b)
        mine = NULL;
    if (b)
        atomic_store_explicit(&b->state, BLOCK_FREE, memory_order_release);
}

static void ensure_exit_key(void)
{
    int expected = 0;
    if (atomic_load(&exit_key_state) == 2)
        return;
    if (atomic_compare_exchange_strong(&exit_key_state, &expected, 1))
        atomic_store(&exit_key_state, pthread_key_create(&exit_key, release_block) == 0 ? 2 : 0);
}

/* The thread stack's bounds: the main thread's ends at __libc_stack_end
 * and reaches down by its rlimit; another thread's is its pthread stack. */
static void find_bounds(mp_uwthread *t)
{
    if (syscall(SYS_gettid) == getpid()) {
        struct rlimit rl;
        uintptr_t size = 256u << 20;
        if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur < size)
            size = rl.rlim_cur;
        t->hi = (uintptr_t)__libc_stack_end;
        t->lo = t->hi > size ? t->hi - size : 0;
        return;
    }
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        t->lo = (uintptr_t)addr;
        t->hi = (uintptr_t)addr + size;
    }
    pthread_attr_destroy(&attr);
}

static MP_NOINLINE mp_uwthread *claim(void)
{
    uw_block *b;
    for (b = atomic_load(&registry); b; b = b->next) {
        int expected = BLOCK_FREE;
        if (atomic_compare_exchange_strong(&b->state, &expected, BLOCK_OWNED))
            break;
    }
    if (!b) {
        b = mp_pages(sizeof(uw_block));
        if (!b)
            return NULL;
        atomic_store(&b->state, BLOCK_OWNED);
        b->next = atomic_load(&registry);
        while (!atomic_compare_exchange_weak(&registry, &b->next, b))
            ;
    }
    b->t.lo = b->t.hi = 0;
    find_bounds(&b->t);
    mine = b;
    ensure_exit_key();
    if (atomic_load(&exit_key_state) == 2)
        pthread_setspecific(exit_key, b);
    return &b->t;
}

mp_uwthread *mp_uwthread_get(void)
{
    return MP_LIKELY(mine != NULL) ? &mine->t : claim();
}

/* The bounds of the stack sp is on: the thread's, or the alternate signal
 * stack's; false when it is neither (a coroutine's: unknown bounds). */
bool mp_uwthread_bounds(const mp_uwthread *t, uintptr_t sp, uintptr_t *lo, uintptr_t *hi)
{
    if (MP_LIKELY(sp >= t->lo && sp < t->hi)) {
        *lo = t->lo;
        *hi = t->hi;
        return true;
    }
    stack_t ss;
    if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK)) {
        *lo = (uintptr_t)ss.ss_sp;
        *hi = (uintptr_t)ss.ss_sp + ss.ss_size;
        return sp >= *lo && sp < *hi;
    }
    return false;
}

static inline bool readable(uintptr_t a, uintptr_t sp, uintptr_t hi)
{
    return a >= sp && a <= hi - 8 && (a & 7) == 0;
}

static inline mp_uwrule rule_for(uintptr_t pc, bool first, uint32_t gen)
{
    mp_uwrule r = mp_uwtable_cached(pc, gen);
    if (MP_UNLIKELY((r & MP_UW_KIND_MASK) == MP_UW_NONE))
        r = mp_uwtable_slow(pc, first ? pc : pc - 1, gen);
    return r;
}

int mp_uwfast_walk(const mp_uwregs *regs, uintptr_t hi, uint64_t *frames, int max, uint32_t gen,
                   uintptr_t skip_lo, uintptr_t skip_hi, int *status)
{
    uintptr_t pc = regs->pc, sp = regs->sp, bp = regs->bp;
    int n = 0;
    *status = MP_UWS_END;
    for (int step = 0; step < max + 32; step++) {
        bool in_shim = pc >= skip_lo && pc < skip_hi;
        if (n > 0 || !in_shim)
            frames[n++] = pc;
        if (n == max)
            return n;
        mp_uwrule r = rule_for(pc, step == 0, gen);
        switch (r & MP_UW_KIND_MASK) {
        case MP_UW_NONE:    /* in no module: JIT code or garbage ends it */
            return n;
        case MP_UW_OTHER:
            *status = MP_UWS_OTHER;
            return n;
        case MP_UW_END:
            return n;
        }
        uintptr_t cfa = ((r & MP_UW_CFA_BP) ? bp : sp) + ((r >> MP_UW_OFF_SHIFT) & MP_UW_OFF_MASK);
        if (!readable(cfa - 8, sp, hi)) {
            *status = MP_UWS_BAD;
            return n;
        }
        if (r & MP_UW_BP_SAVED) {
            uintptr_t slot = cfa - 8 * ((r >> MP_UW_BPOFF_SHIFT) & MP_UW_BPOFF_MASK);
            if (!readable(slot, sp, hi)) {
                *status = MP_UWS_BAD;
                return n;
            }
            bp = *(const uintptr_t *)slot;
        }
        pc = *(const uintptr_t *)(cfa - 8);
        sp = cfa;
        if (pc == 0)
            return n;
    }
    return n;
}
