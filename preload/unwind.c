/*
 * unwind.c - capturing the call stack of a sampled event.
 *
 * Only sampled events unwind, so the cost is amortised over MEMPROF_SAMPLE
 * bytes. libunwind's unw_backtrace walks the stack with its cached DWARF
 * unwind info; it may itself call malloc or dl_iterate_phdr, so the caller
 * holds the reentrancy guard. Frames inside libmemprof.so are dropped so the
 * innermost recorded frame is the return address into the code that called
 * the allocator or the lock.
 *
 * libunwind checks that memory is readable (for frames it has to guess,
 * without unwind info, and through signal frames) by writing a byte of it
 * into a pipe it keeps open for the life of the process (libunwind issue
 * #291), in the program's descriptor table, where the program sees it
 * (/proc/self/fd: subprocess libraries, daemons, test suites) and may
 * close it or be given its numbers back. The shim holds no descriptor
 * the program can see outside a snapshot write (SPEC), so that pipe
 * exists only while libunwind unwinds for us:
 *   - the pipe2() libunwind makes for us (its open_pipe) is moved to the
 *     high descriptors (mp_fd_park), away from the numbers the program is
 *     given, and its numbers are noted here;
 *   - as soon as unw_backtrace returns, both are closed. libunwind keeps
 *     the numbers; the next time it validates, read() fails with EBADF,
 *     and it closes them (already closed: nothing happens) and makes a
 *     new pipe, which we move and close again;
 *   - so libunwind must never find one of those numbers holding a file of
 *     the program's (it would read from it, then close it): before each
 *     walk they are checked to be free, and a walk that would meet the
 *     program's file is not made (the fast walk's frames, or an unknown
 *     stack, instead);
 *   - libunwind's pipe is one for the process, so its walks for us take
 *     one at a time (unwind_lock): one thread must not close the pipe
 *     another is validating with. The fast walk needs libunwind only for
 *     frames it cannot do, so this costs little;
 *   - a fork child closes a copy a walk of another thread had open.
 * A program that uses libunwind itself keeps its own pipe: only pipes made
 * while libunwind works for us are ours to close.
 */
#define UNW_LOCAL_ONLY
#include "unwind_fast.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <link.h>
#include <string.h>

static uintptr_t shim_start, shim_end;   /* our own text, to skip */
static MP_TLS int in_unwinder;   /* inside unw_backtrace, called by us */
static mp_spinlock unwind_lock;  /* libunwind walks for us: one at a time */
static int lu_pipe[2] = {-1, -1};   /* the numbers of libunwind's pipe, made for us */
static _Atomic int lu_pipe_open;    /* ... and they are open now */
static bool check_mode;          /* MEMPROF_UNWIND_CHECK=1 (debugging) */
static bool fast_ok;             /* the rule cache is there */
static _Atomic int check_mode_verbose;

static int find_shim(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t probe = (uintptr_t)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (probe >= start && probe < start + ph->p_memsz) {
            shim_start = start;
            shim_end = start + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

static bool fd_free(int fd)
{
    return fd < 0 || (fcntl(fd, F_GETFD) < 0 && errno == EBADF);
}

/* libunwind's pipe, if it made one for us: closed (see the top). */
static void close_libunwind_pipe(void)
{
    if (!atomic_load(&lu_pipe_open))
        return;
    close(lu_pipe[0]);
    close(lu_pipe[1]);
    atomic_store(&lu_pipe_open, 0);
}

/* Inlined into its callers: every frame between unw_backtrace and the
 * application is one more step of the walk. ips is the thread's buffer.
 * 0 frames when libunwind's pipe numbers are the program's now. */
static inline __attribute__((always_inline)) int unwind_into(void **ips, uint64_t *frames, int max)
{
    /* A frozen fork child (shim.h): libunwind's locks and its
     * dl_iterate_phdr may be held by a thread of the parent forever. */
    if (mp_modules_frozen())
        return 0;
    int want = max + 16, n = 0, saved = errno;
    mp_spin_lock(&unwind_lock);
    if (fd_free(lu_pipe[0]) && fd_free(lu_pipe[1])) {
        in_unwinder++;
        n = unw_backtrace(ips, want);
        in_unwinder--;
        close_libunwind_pipe();
    }
    mp_spin_unlock(&unwind_lock);
    errno = saved;
    int out = 0;
    for (int i = 0; i < n && out < max; i++) {
        uintptr_t ip = (uintptr_t)ips[i];
        if (out == 0 && ip >= shim_start && ip < shim_end)
            continue;   /* still inside the shim */
        frames[out++] = ip;
    }
    return out;
}

void mp_unwind_prepare(void)
{
    dl_iterate_phdr(find_shim, (void *)(uintptr_t)&mp_unwind_prepare);
    mp_uwthread_prepare();
    const char *check = getenv("MEMPROF_UNWIND_CHECK");
    check_mode = check && check[0] == '1' && !check[1];
    if (check && *check && !check_mode && !(check[0] == '0' && !check[1]))
        mp_warn("invalid MEMPROF_UNWIND_CHECK=%.40s (expected 0 or 1), off", check);
    fast_ok = mp_uwtable_init() == 0;
    mp_spin_lock(&unwind_lock);
    in_unwinder++;   /* libunwind initialises itself here (its pipe too) */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_GLOBAL);
    in_unwinder--;
    close_libunwind_pipe();
    mp_spin_unlock(&unwind_lock);
    /* Warm the caches now, outside any hook, as libbacktrace advises. */
    mp_guard++;
    mp_uwthread *t = mp_uwthread_get();
    if (t)
        unwind_into(t->ips, t->frames, 8);
    mp_guard--;
}

/* The stack's headroom below sp that libunwind needs (it keeps a cursor
 * and DWARF state of several KiB on the stack), and that the fast walk
 * needs. With less, the fast walk's frames are kept, or none at all. */
#define LIBUNWIND_HEADROOM (16u << 10)
#define FAST_HEADROOM 2048u

/* MEMPROF_UNWIND_CHECK=1: libunwind's stack next to the fast one. */
static MP_NOINLINE void check_against_libunwind(mp_uwthread *t, const uint64_t *frames, int n,
                                                int depth)
{
    int m = unwind_into(t->ips, t->check, depth);
    if (m != n || memcmp(t->check, frames, (size_t)n * sizeof(uint64_t)) != 0) {
        MP_COUNT(unwind_mismatches);
        if (check_mode_verbose++ < 3) {
            mp_warn("unwind check: fast %d frames, libunwind %d", n, m);
            for (int i = 0; i < n || i < m; i++)
                mp_warn("  %2d %#lx %#lx", i, i < n ? (unsigned long)frames[i] : 0ul,
                        i < m ? (unsigned long)t->check[i] : 0ul);
        }
    }
}

/* MEMPROF_UNWIND_CHECK=1: a remembered walk's stack differs from the walk. */
static MP_NOINLINE void memo_mismatch(uint32_t memo, uint32_t id)
{
    MP_COUNT(unwind_mismatches);
    if (check_mode_verbose++ < 3)
        mp_warn("unwind check: remembered walk gave stack %u, the walk %u", memo, id);
}

/* The id of the stack the fast walk just produced: the last one's when
 * it is the same stack (a loop allocating from one place), which saves
 * hashing and looking it up. */
static inline uint32_t fast_stack_id(mp_uwthread *t, int n)
{
    const mp_uwwalk *s = &t->walk[t->cur], *o = &t->walk[t->cur ^ 1];
    const uint64_t *frames = s->pc + s->first;
    if (t->last_id && o->gen == s->gen && o->out == n && s->out == n &&
        memcmp(o->pc + o->first, frames, (size_t)n * sizeof(uint64_t)) == 0)
        return t->last_id;
    uint32_t id = mp_stack_intern(frames, (uint32_t)n, s->gen);
    t->last_id = id;
    return id;
}

static MP_NOINLINE uint32_t libunwind_stack_id(mp_uwthread *t, int n)
{
    t->last_id = 0;
    if (n <= 0) {
        MP_COUNT(unwind_failures);
        return MP_OVERFLOW_STACK;
    }
    uint32_t gen = atomic_load_explicit(&mp_module_generation, memory_order_relaxed);
    return mp_stack_intern(t->frames, (uint32_t)n, gen);
}

/* The current stack's id; MP_OVERFLOW_STACK (counted) when it has no
 * frames, or there is no room to unwind. */
static MP_NOINLINE uint32_t capture_into(mp_uwthread *t, const mp_uwregs *regs, int depth,
                                         bool tried)
{
    uintptr_t lo, hi;
    int known = mp_uwthread_bounds(t, regs->sp, &lo, &hi);
    if (MP_UNLIKELY(known <= 0))   /* a coroutine's stack, or unknown bounds */
        return libunwind_stack_id(t, known == 0 ? unwind_into(t->ips, t->frames, depth) : 0);
    if (regs->sp - lo < FAST_HEADROOM)
        return libunwind_stack_id(t, 0);
    if (MP_UNLIKELY(!fast_ok)) {   /* no rule cache */
        bool room = regs->sp - lo >= LIBUNWIND_HEADROOM;
        return libunwind_stack_id(t, room ? unwind_into(t->ips, t->frames, depth) : 0);
    }
    uint32_t gen = atomic_load_explicit(&mp_module_generation, memory_order_relaxed);
    int status = MP_UWS_SAME;
    uint32_t memo = 0;
    int n = tried ? -1 : mp_uwfast_same(t, regs, hi, depth, gen);
    if (n < 0) {
        memo = tried ? 0 : mp_uwmemo_find(t, regs, hi, gen, depth);
        if (memo && MP_LIKELY(!check_mode))
            return memo;
        n = mp_uwfast_walk(t, regs, hi, depth, gen, shim_start, shim_end, &status);
    }
    const mp_uwwalk *w = &t->walk[t->cur];
    if (MP_UNLIKELY(status == MP_UWS_OTHER)) {
        /* libunwind, if there is room for it; else the frames found so far */
        if (regs->sp - lo >= LIBUNWIND_HEADROOM && !mp_modules_frozen())
            return libunwind_stack_id(t, unwind_into(t->ips, t->frames, depth));
        memcpy(t->frames, w->pc + w->first, (size_t)n * sizeof(uint64_t));
        return libunwind_stack_id(t, n);
    }
    if (MP_UNLIKELY(check_mode) && regs->sp - lo >= LIBUNWIND_HEADROOM && !mp_modules_frozen())
        check_against_libunwind(t, w->pc + w->first, n, depth);
    if (n <= 0)
        return libunwind_stack_id(t, 0);
    if (status == MP_UWS_SAME && t->last_id && n == w->out)
        return t->last_id;
    uint32_t id = fast_stack_id(t, n);
    if (status != MP_UWS_SAME)
        mp_uwmemo_put(t, id, depth);
    if (MP_UNLIKELY(memo != 0) && memo != id)   /* check mode: the memo was wrong */
        memo_mismatch(memo, id);
    return id;
}

/* On the thread's own stack with room to spare, the id of a walk done
 * before: a remembered one (a loop allocating from one place, most
 * samples of exact mode, or from a few) or the last one again (a walk
 * the memo has no room for); else 0, for capture_into (*tried: both were
 * looked for). The memo first: its words to check are one list (fewer
 * instructions a frame than the walk's arrays), and the last walk is
 * not the last stack when a memo answered in between. */
static inline uint32_t same_stack_id(mp_uwthread *t, const mp_uwregs *regs, int depth,
                                     bool *tried)
{
    *tried = fast_ok && !check_mode && regs->sp >= t->lo + FAST_HEADROOM && regs->sp < t->hi;
    if (!*tried)
        return 0;
    uint32_t gen = atomic_load_explicit(&mp_module_generation, memory_order_relaxed);
    uint32_t id = mp_uwmemo_find(t, regs, t->hi, gen, depth);
    if (id || !t->last_id)
        return id;
    int n = mp_uwfast_same(t, regs, t->hi, depth, gen);
    return n > 0 && n == t->walk[t->cur].out ? t->last_id : 0;
}

/* Not inlined: the registers it captures describe its own frame, whose
 * rule unwind_table.c finds like any other. */
MP_NOINLINE uint32_t mp_capture_stack(void)
{
    mp_uwregs regs;
    __asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"
                     : "=r"(regs.pc), "=r"(regs.sp), "=r"(regs.bp));
    int depth = mp_cfg.depth;
    if (depth > MP_MAX_DEPTH)
        depth = MP_MAX_DEPTH;
    mp_guard++;
    mp_uwthread *t = mp_uwthread_get();
    bool tried = false;
    uint32_t id = t ? same_stack_id(t, &regs, depth, &tried) : 0;
    if (!id)
        id = t ? capture_into(t, &regs, depth, tried) : MP_OVERFLOW_STACK;
    mp_guard--;
    if (!t)
        MP_COUNT(unwind_failures);
    return id;
}

void mp_unwind_after_fork_child(void)
{
    atomic_store(&unwind_lock.v, 0);   /* its holder is not in the child */
    close_libunwind_pipe();            /* a copy of the pipe it had open */
    mp_uwtable_after_fork_child();
    mp_uwthread_after_fork_child();
}

/* See the top of this file. Only the pipes libunwind makes while it
 * unwinds for us move (and are noted, to be closed when it returns); the
 * program's own calls are passed through. */
int pipe2(int fds[2], int flags)
{
    static void *_Atomic next;
    int (*real_pipe2)(int[2], int) = (int (*)(int[2], int))mp_next_symbol(&next, "pipe2");
    if (!real_pipe2) {
        errno = ENOSYS;
        return -1;
    }
    int rc = real_pipe2(fds, flags);
    if (rc == 0 && in_unwinder && (flags & O_CLOEXEC)) {
        fds[0] = mp_fd_park(fds[0]);
        fds[1] = mp_fd_park(fds[1]);
        lu_pipe[0] = fds[0];
        lu_pipe[1] = fds[1];
        atomic_store(&lu_pipe_open, 1);
    }
    return rc;
}
