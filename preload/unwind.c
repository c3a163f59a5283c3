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
 * without unwind info) by writing a byte of it into a pipe it keeps open
 * for the life of the process (libunwind issue #291). A program that
 * closes every descriptor it did not open (daemons, ssh) and then opens
 * its own files gets those numbers back, and libunwind then reads from,
 * writes into or closes the program's files. So the pipe2() libunwind
 * makes for us is moved to the high descriptors the shim keeps its own in
 * (mp_fd_park): a program that closes them gets a new pipe from libunwind
 * (it notices), and one would have to open nearly its whole descriptor
 * limit before it could be given those numbers back.
 */
#define UNW_LOCAL_ONLY
#include "shim.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <link.h>

static uintptr_t shim_start, shim_end;   /* our own text, to skip */
static MP_TLS int in_unwinder;   /* inside unw_backtrace, called by us */

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

/* Inlined into its callers: every frame between unw_backtrace and the
 * application is one more step of the walk, on every sample. */
static inline __attribute__((always_inline)) int unwind_into(uint64_t *frames, int max)
{
    void *ips[MP_MAX_DEPTH + 16];
    int want = max + 16 > (int)(sizeof(ips) / sizeof(ips[0])) ? (int)(sizeof(ips) / sizeof(ips[0]))
                                                               : max + 16;
    in_unwinder++;
    int n = unw_backtrace(ips, want);
    in_unwinder--;
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
    in_unwinder++;   /* libunwind initialises itself here (its pipe too) */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_GLOBAL);
    in_unwinder--;
    /* Warm the caches now, outside any hook, as libbacktrace advises. */
    uint64_t frames[8];
    mp_guard++;
    unwind_into(frames, 8);
    mp_guard--;
}

uint32_t mp_capture_stack(void)
{
    uint64_t frames[MP_MAX_DEPTH];
    int depth = mp_cfg.depth;
    if (depth > MP_MAX_DEPTH)
        depth = MP_MAX_DEPTH;
    mp_guard++;
    int n = unwind_into(frames, depth);
    uint32_t gen = atomic_load_explicit(&mp_module_generation, memory_order_relaxed);
    uint32_t id = n > 0 ? mp_stack_intern(frames, (uint32_t)n, gen) : MP_OVERFLOW_STACK;
    mp_guard--;
    if (n <= 0)
        MP_COUNT(unwind_failures);
    return id;
}

/* See the top of this file. Only the pipes libunwind makes while it
 * unwinds for us move; the program's own calls are passed through. */
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
    }
    return rc;
}
