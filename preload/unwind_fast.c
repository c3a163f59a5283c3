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
 * A walk reuses the thread's previous one from the first frame they share,
 * and a walk started from the registers of one of the thread's recent
 * walks, whose stack words all still hold, is not done again (the memo,
 * below).
 *
 * Each thread's state (its stack bounds and the frame buffers, which do not
 * belong on a stack that may be a signal handler's 8 KiB alternate stack)
 * lives in a block from shmem.c claimed on the thread's first sample and
 * released by a thread-exit destructor for the next new thread: a claim is
 * one CAS, safe where a signal handler could re-enter.
 */
#include "unwind_fast.h"

#include <dlfcn.h>
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

/*
 * A thread's stack bounds, found on its first sample, which may be taken
 * in a signal handler that interrupted anything at all: so no
 * pthread_getattr_np (it takes the thread's lock and mallocs a cpuset)
 * and no /proc/self/maps. glibc keeps every thread's descriptor (struct
 * pthread, pthread_self()) at the top of its stack block, and in it the
 * block's address, size and guard size as three consecutive words; their
 * offset is found once by looking for the only triple that describes a
 * block holding both the descriptor and the current stack pointer, and
 * checked the same way on every later thread. Reading the descriptor is
 * plain loads from memory the thread owns (its size is glibc's own
 * _thread_db_sizeof_pthread, looked up at start-up).
 */
static size_t pd_size;                /* 0: unknown, no bounds for threads */
static _Atomic size_t pd_offset;      /* 1 + the triple's offset; 0 not found yet */

void mp_uwthread_prepare(void)
{
    const uint32_t *size = dlsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread");
    if (size && *size >= 64 && *size <= 65536)
        pd_size = *size;
}

/* Does the triple at w describe a stack block that holds pd (and sp, when
 * strict: how the offset is told apart from other words the first time)?
 * If so, the bounds go to t. */
static bool block_holds(const uintptr_t *w, uintptr_t pd, uintptr_t sp, bool strict,
                        mp_uwthread *t)
{
    uintptr_t base = w[0], size = w[1], guard = w[2];
    if (size < 4096 || size > ((uintptr_t)1 << 40) || guard >= size || (guard & 4095) != 0)
        return false;
    if (pd < base + guard || pd - base >= size)
        return false;
    if (strict && (sp < base + guard || sp >= pd))
        return false;
    t->lo = base + guard;
    t->hi = pd;   /* above it: the descriptor and static TLS, not the stack */
    return true;
}

static void thread_bounds(mp_uwthread *t, uintptr_t sp)
{
    uintptr_t pd = (uintptr_t)pthread_self();
    if (pd_size < 24 || (pd & 7) != 0)
        return;
    const uintptr_t *w = (const uintptr_t *)pd;
    size_t known = atomic_load_explicit(&pd_offset, memory_order_relaxed);
    if (known) {
        block_holds(w + (known - 1) / 8, pd, sp, false, t);
        return;
    }
    for (size_t off = 0; off + 24 <= pd_size; off += 8) {
        if (block_holds(w + off / 8, pd, sp, true, t)) {
            atomic_store_explicit(&pd_offset, off + 1, memory_order_relaxed);
            return;
        }
    }
}

/* The thread stack's bounds: the main thread's ends at __libc_stack_end
 * and reaches down by its rlimit; another thread's is its stack block
 * (above). Unknown: lo = hi = 0, and its stacks are the unknown stack. */
static void find_bounds(mp_uwthread *t, uintptr_t sp)
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
    thread_bounds(t, sp);
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
    b->t.walk[0].n = b->t.walk[1].n = 0;   /* a dead thread's walks */
    b->t.last_id = 0;
    for (int i = 0; i < MP_UW_MEMO; i++)   /* a dead thread's walks */
        b->t.memo[i].id = 0;
    b->t.memo_pos = 0;
    find_bounds(&b->t, (uintptr_t)__builtin_frame_address(0));
    mine = b;
    ensure_exit_key();
    if (atomic_load(&exit_key_state) == 2)
        pthread_setspecific(exit_key, b);
    return &b->t;
}

/* Only the forking thread lives on in the child: the others' blocks are
 * free for the child's threads. */
void mp_uwthread_after_fork_child(void)
{
    for (uw_block *b = atomic_load(&registry); b; b = b->next)
        if (b != mine)
            atomic_store(&b->state, BLOCK_FREE);
}

mp_uwthread *mp_uwthread_get(void)
{
    return MP_LIKELY(mine != NULL) ? &mine->t : claim();
}

/* The bounds of the stack sp is on: the thread's, or the alternate signal
 * stack's. 0: on neither (a coroutine's stack), -1: the thread's bounds
 * are not known (yet: a first sample on the alternate stack may not find
 * them, a later one does). */
int mp_uwthread_bounds(mp_uwthread *t, uintptr_t sp, uintptr_t *lo, uintptr_t *hi)
{
    if (MP_LIKELY(sp >= t->lo && sp < t->hi)) {
        *lo = t->lo;
        *hi = t->hi;
        return 1;
    }
    stack_t ss;
    if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK)) {
        *lo = (uintptr_t)ss.ss_sp;
        *hi = (uintptr_t)ss.ss_sp + ss.ss_size;
        if (sp >= *lo && sp < *hi)
            return 1;
    }
    if (t->hi == 0) {
        thread_bounds(t, sp);
        if (t->hi == 0)
            return -1;
        return mp_uwthread_bounds(t, sp, lo, hi);
    }
    return 0;
}

static inline mp_uwrule rule_for(uintptr_t pc, bool first, uint32_t gen)
{
    mp_uwrule r = mp_uwtable_cached(pc, gen);
    if (MP_UNLIKELY((r & MP_UW_KIND_MASK) == MP_UW_NONE))
        r = mp_uwtable_slow(pc, first ? pc : pc - 1, gen);
    return r;
}

/*
 * Reusing the previous walk. A walk is a function of the registers it
 * starts from and of the stack words it reads, so once the new walk
 * reaches a frame with the pc, sp (and bp, where the rest used it) of a
 * frame of the previous walk, the rest is the previous walk's provided
 * every word it read above there still holds what it read: the return
 * address below each CFA, and each reloaded BP that a frame further out
 * used (elsewhere BP is any callee-saved value, which changes freely).
 * Those words are listed once, when a walk ends (list_checks), so checking
 * them is one load and compare a word. When a check fails at frame i, no
 * match at or inside i can pass: the next try starts further out, so one
 * walk checks each frame once. Programs allocate from the same outer
 * frames over and over (deep call chains, event loops, thread bodies).
 * Both walks read the same stack, so the words are inside [sp, hi).
 */
/* 0 when every word the walk o read from step j outward still holds;
 * else -(the first step outward from which a match could still pass):
 * any failing step will do, all matches inside it fail too. */
static int verify(const mp_uwwalk *o, int j)
{
    for (int i = j; i + 1 < o->n; i++)   /* the return addresses */
        if (MP_UNLIKELY(*(const uintptr_t *)(o->sp[i + 1] - 8) != o->pc[i + 1]))
            return -(i + 1);
    for (int k = o->chk_at[j]; k < MP_UW_CHECKS; k++)   /* the BPs used */
        if (MP_UNLIKELY(*(const uintptr_t *)o->chk_addr[k] != o->chk_val[k]))
            return -(o->chk_step[k] + 1);
    return 0;
}

static inline bool same_frame(const mp_uwwalk *o, int j, uintptr_t pc, uintptr_t sp, uintptr_t bp)
{
    return o->sp[j] == sp && o->pc[j] == pc && (o->bp[j] == bp || !(o->bpslot[j] & 1));
}

/* Steps j.. of o after the new walk's first step ones, with their
 * checks (the same words, at the same places in the list); the steps, or
 * -(where to try next) as verify() says. */
static int reuse(const mp_uwwalk *o, int j, mp_uwwalk *s, int step, int cap)
{
    int bad = verify(o, j);
    if (bad < 0)
        return bad;
    int n = o->n - j;
    if (step + n > cap)
        return -o->n;
    size_t bytes = (size_t)n * sizeof(uintptr_t);
    __builtin_memcpy(s->pc + step, o->pc + j, bytes);
    __builtin_memcpy(s->sp + step, o->sp + j, bytes);
    __builtin_memcpy(s->bp + step, o->bp + j, bytes);
    __builtin_memcpy(s->bpslot + step, o->bpslot + j, bytes);
    __builtin_memcpy(s->chk_at + step, o->chk_at + j, (size_t)n * sizeof(uint16_t));
    int k = o->chk_at[j], m = MP_UW_CHECKS - k;
    __builtin_memcpy(s->chk_addr + k, o->chk_addr + k, (size_t)m * sizeof(uintptr_t));
    __builtin_memcpy(s->chk_val + k, o->chk_val + k, (size_t)m * sizeof(uintptr_t));
    __builtin_memcpy(s->chk_step + k, o->chk_step + k, (size_t)m * sizeof(uint16_t));
    for (int i = k; i < MP_UW_CHECKS; i++)
        s->chk_step[i] += (uint16_t)(step - j);
    return step + n;
}

/*
 * For a walk that can be reused, over its fresh steps [0, fresh) from the
 * outside in: marks the steps whose walk onward reads BP before reloading
 * it (bit 0 of bpslot said "this frame's CFA is BP-based"), and lists the
 * reloaded BPs the next frame onward uses (the return addresses need no
 * list: each is at sp[i + 1] - 8). The steps from fresh on (copied from
 * the previous walk) are marked and listed already.
 */
static void list_checks(mp_uwwalk *s, int fresh)
{
    int n = s->n;
    int k = fresh < n ? s->chk_at[fresh] : MP_UW_CHECKS;
    uintptr_t used = fresh < n ? s->bpslot[fresh] & 1 : 0;
    for (int i = fresh - 1; i >= 0; i--) {
        uintptr_t own = s->bpslot[i] & 1, slot = s->bpslot[i] & ~(uintptr_t)1;
        if (slot && used && i + 1 < n) {
            k--;
            s->chk_addr[k] = slot;
            s->chk_val[k] = s->bp[i + 1];
            s->chk_step[k] = (uint16_t)i;
        }
        s->chk_at[i] = (uint16_t)k;
        used = slot ? own : (used | own);
        s->bpslot[i] |= used;
    }
}

static const uintptr_t no_frames[1] = {UINTPTR_MAX};

/* The walk proper; returns the steps, *fresh of them walked (the rest
 * copied from the previous walk o). o->sp[o->n] is its sentinel: the
 * search for a frame to reuse costs one compare a step until the new
 * walk's sp reaches the next of o's. */
static inline int new_walk(const mp_uwwalk *o, mp_uwwalk *s, const mp_uwregs *regs, int cap,
                           int *status, int *fresh)
{
    uintptr_t hi = s->hi, lim = hi - 8;
    uint32_t gen = s->gen;
    const uintptr_t *osp = o->gen == gen && o->hi == hi && o->n > 0 ? o->sp : no_frames;
    uintptr_t pc = regs->pc, sp = regs->sp, bp = regs->bp;
    int j = 0, floor = 0;
    uintptr_t next = osp[0];
    for (int step = 0; step < cap; step++) {
        s->pc[step] = pc;
        s->sp[step] = sp;
        s->bp[step] = bp;
        s->bpslot[step] = 0;
        if (MP_UNLIKELY(sp >= next)) {
            while (next < sp)
                next = osp[++j];
            if (next == sp && j >= floor && same_frame(o, j, pc, sp, bp)) {
                int n = reuse(o, j, s, step, cap);
                if (n > 0) {
                    s->bp[step] = bp;
                    *fresh = step;
                    *status = MP_UWS_END;
                    return n;
                }
                floor = -n;
            }
        }
        mp_uwrule r = rule_for(pc, step == 0, gen);
        if (MP_UNLIKELY((r & MP_UW_KIND_MASK) != MP_UW_KIND_FRAME)) {
            *fresh = step + 1;
            switch (r & MP_UW_KIND_MASK) {
            case MP_UW_NONE:    /* in no module: JIT code or garbage ends it */
                *status = MP_UWS_STOP;   /* an end, but not one to reuse */
                break;
            case MP_UW_OTHER:
                *status = MP_UWS_OTHER;
                break;
            default:            /* MP_UW_END */
                *status = MP_UWS_END;
            }
            return step + 1;
        }
        bool cfa_bp = (r & MP_UW_CFA_BP) != 0;
        uintptr_t cfa = (cfa_bp ? bp : sp) + ((r >> MP_UW_OFF_SHIFT) & MP_UW_OFF_MASK);
        uintptr_t slot = 0;
        /* every word read is in [sp, hi) and aligned: else the stack is bad */
        bool ok = cfa - 8 >= sp && cfa - 8 <= lim && !(cfa & 7);
        if (r & MP_UW_BP_SAVED) {
            slot = cfa - 8 * ((r >> MP_UW_BPOFF_SHIFT) & MP_UW_BPOFF_MASK);
            ok = ok && slot >= sp && slot <= lim;
            if (ok)
                bp = *(const uintptr_t *)slot;
        }
        if (MP_UNLIKELY(!ok)) {
            *fresh = step + 1;
            *status = MP_UWS_BAD;
            return step + 1;
        }
        s->bpslot[step] = slot | cfa_bp;
        pc = *(const uintptr_t *)(cfa - 8);
        sp = cfa;
        if (MP_UNLIKELY(pc == 0)) {
            *fresh = step + 1;
            *status = MP_UWS_END;
            return step + 1;
        }
    }
    *fresh = cap;
    *status = MP_UWS_STOP;   /* longer than we keep: truncated */
    return cap;
}

int mp_uwfast_same(mp_uwthread *t, const mp_uwregs *regs, uintptr_t hi, int max, uint32_t gen)
{
    int cap = max + 16 < MP_UW_STEPS ? max + 16 : MP_UW_STEPS;
    mp_uwwalk *o = &t->walk[t->cur];
    if (o->n > 0 && o->gen == gen && o->hi == hi && o->n <= cap &&
        same_frame(o, 0, regs->pc, regs->sp, regs->bp) && verify(o, 0) == 0) {
        o->bp[0] = regs->bp;
        return o->out < max ? o->out : max;
    }
    return -1;
}

int mp_uwfast_walk(mp_uwthread *t, const mp_uwregs *regs, uintptr_t hi, int max, uint32_t gen,
                   uintptr_t skip_lo, uintptr_t skip_hi, int *status)
{
    int cap = max + 16 < MP_UW_STEPS ? max + 16 : MP_UW_STEPS;
    mp_uwwalk *o = &t->walk[t->cur];
    mp_uwwalk *s = &t->walk[t->cur ^ 1];
    s->hi = hi;
    s->gen = gen;
    int fresh;
    int n = new_walk(o, s, regs, cap, status, &fresh);
    bool keep = *status == MP_UWS_END;
    if (*status == MP_UWS_STOP)
        *status = MP_UWS_END;
    s->n = keep ? n : 0;
    if (keep) {
        list_checks(s, fresh);
        s->sp[n] = UINTPTR_MAX;
    }
    t->cur ^= 1;
    int i = 0;
    while (i < n && s->pc[i] >= skip_lo && s->pc[i] < skip_hi)
        i++;
    s->first = i;
    s->out = n - i < max ? n - i : max;
    return s->out;
}

/*
 * Walks remembered. The last walk is reused where a new one meets it, but
 * a thread that allocates from a handful of places at different depths
 * (a recursive parser, an event loop's handlers) meets the last walk only
 * near the bottom of the stack and walks the rest afresh every time. So
 * each walk that ended cleanly is remembered by the stack pointer it
 * started from (its pc too, and its bp where the walk used it), with the
 * stack words its result depends on and the stack id it came to: when a
 * walk starts from the same registers again and every one of those words
 * still holds, it would read the same words and come to the same stack,
 * so the id stands without a walk or a lookup of the stack. The words
 * were read above that same sp, below the same hi: they are still the
 * thread's stack. They are kept in a per-thread arena written round
 * robin; an entry whose words were overwritten since is dropped.
 */
static inline mp_uwmemo *memo_slot(mp_uwthread *t, uintptr_t sp)
{
    return &t->memo[((sp >> 3) * 0x9E3779B97F4A7C15ull) >> (64 - 6)];
}
_Static_assert(MP_UW_MEMO == 64, "memo_slot takes 6 bits");

uint32_t mp_uwmemo_find(mp_uwthread *t, const mp_uwregs *regs, uintptr_t hi, uint32_t gen, int max)
{
    const mp_uwmemo *m = memo_slot(t, regs->sp);
    if (m->id == 0 || m->sp != regs->sp || m->pc != regs->pc || m->hi != hi || m->gen != gen ||
        m->max != max || (m->bp_used && m->bp != regs->bp) ||
        t->memo_pos - m->at > MP_UW_MEMO_WORDS)
        return 0;
    size_t at = m->at % MP_UW_MEMO_WORDS;
    const uintptr_t *addr = t->memo_addr + at, *val = t->memo_val + at;
    for (unsigned k = 0; k < m->nwords; k++)
        if (*(const uintptr_t *)addr[k] != val[k])
            return 0;
    return m->id;
}

void mp_uwmemo_put(mp_uwthread *t, uint32_t id, int max)
{
    const mp_uwwalk *w = &t->walk[t->cur];
    int n = w->n, bps = MP_UW_CHECKS - w->chk_at[0];
    unsigned words = (unsigned)(n - 1 + bps);
    if (id == 0 || n <= 0 || words > MP_UW_MEMO_WORDS / 4)
        return;
    uint64_t pos = t->memo_pos;
    if (pos % MP_UW_MEMO_WORDS + words > MP_UW_MEMO_WORDS)   /* keep it in one piece */
        pos += MP_UW_MEMO_WORDS - pos % MP_UW_MEMO_WORDS;
    size_t at = pos % MP_UW_MEMO_WORDS;
    uintptr_t *addr = t->memo_addr + at, *val = t->memo_val + at;
    for (int i = 0; i + 1 < n; i++) {   /* the return addresses, as verify() reads them */
        addr[i] = w->sp[i + 1] - 8;
        val[i] = w->pc[i + 1];
    }
    __builtin_memcpy(addr + n - 1, w->chk_addr + w->chk_at[0], (size_t)bps * sizeof(uintptr_t));
    __builtin_memcpy(val + n - 1, w->chk_val + w->chk_at[0], (size_t)bps * sizeof(uintptr_t));
    t->memo_pos = pos + words;
    mp_uwmemo *m = memo_slot(t, w->sp[0]);
    *m = (mp_uwmemo){.pc = w->pc[0], .sp = w->sp[0], .bp = w->bp[0], .hi = w->hi, .at = pos,
                     .gen = w->gen, .id = id, .nwords = (uint16_t)words, .max = (uint16_t)max,
                     .bp_used = (w->bpslot[0] & 1) != 0};
}
