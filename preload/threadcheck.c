/*
 * threadcheck.c - a program that counts its own threads finds its own.
 *
 * Sandboxes check that the process is single-threaded before they
 * sandbox it: Chromium's zygote (fstatat(proc_fd, "self/task/"), st_nlink
 * must be 3: ".", ".." and one thread), Firefox's content processes
 * (stat("/proc/self/task")), and others list the directory. A collector
 * thread that runs from the start (a schedule, a signal, dormant or
 * attached: collector.c) made them find two, and the zygote aborted the
 * browser. So the calls that look at a task directory of this process
 * (a path whose last component is "task" after "self" or our pid, from
 * any directory descriptor) first let collector.c make its thread a
 * transient one and join it (mp_collector_unschedule), then do the real
 * call. Anything else passes straight through: the check is a few
 * compares on the path's tail.
 *
 * What is not caught: open() and getdents of the directory, and a
 * process that counts its threads by other means (the Threads line of
 * /proc/self/status). The real functions are resolved at start-up
 * (mp_threadcheck_install): later, a signal handler or a fork child
 * would call dlsym.
 */
#include "shim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Whether path names a task directory of this process (see the top). */
static bool names_own_tasks(const char *path)
{
    if (!path)
        return false;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n < 4 || memcmp(path + n - 4, "task", 4) != 0)
        return false;
    n -= 4;
    if (n == 0 || path[n - 1] != '/')
        return false;   /* "task" alone, or "xtask" */
    size_t end = --n;   /* path[end] is the '/' before "task" */
    while (n > 0 && path[n - 1] != '/')
        n--;
    const char *comp = path + n;
    size_t len = end - n;
    if (len == 4 && memcmp(comp, "self", 4) == 0)
        return true;
    char pid[16];
    int plen = snprintf(pid, sizeof(pid), "%d", (int)mp_pid);
    return plen > 0 && (size_t)plen == len && memcmp(comp, pid, len) == 0;
}

/* Before the real call: an application thread about to look. Guarded, so
 * that a signal handler's allocation meanwhile passes through instead of
 * asking for the collector collector.c is stopping. */
static void before_looking(const char *path)
{
    if (mp_guard != 0 || !names_own_tasks(path) ||
        atomic_load_explicit(&mp_state, memory_order_relaxed) == MP_STATE_OFF)
        return;
    mp_guard++;
    mp_collector_unschedule();
    mp_guard--;
}

/*
 * The interposers: one line each in the table, with its result type and
 * failure value, its parameters (the path is always p) and the arguments
 * that pass them on. The old
 * __xstat family is what binaries built against glibc before 2.33 call.
 */
#define TC_AT int dirfd
#define TC_ST struct stat *st
#define TC_ST64 struct stat64 *st
#define TC_FNS(X)                                                                          \
    X(int, -1, stat, (const char *p, TC_ST), (p, st))                                      \
    X(int, -1, stat64, (const char *p, TC_ST64), (p, st))                                  \
    X(int, -1, lstat, (const char *p, TC_ST), (p, st))                                     \
    X(int, -1, lstat64, (const char *p, TC_ST64), (p, st))                                 \
    X(int, -1, fstatat, (TC_AT, const char *p, TC_ST, int fl), (dirfd, p, st, fl))         \
    X(int, -1, fstatat64, (TC_AT, const char *p, TC_ST64, int fl), (dirfd, p, st, fl))     \
    X(int, -1, statx, (TC_AT, const char *p, int fl, unsigned mask, struct statx *st),     \
      (dirfd, p, fl, mask, st))                                                            \
    X(int, -1, __xstat, (int v, const char *p, TC_ST), (v, p, st))                         \
    X(int, -1, __xstat64, (int v, const char *p, TC_ST64), (v, p, st))                     \
    X(int, -1, __lxstat, (int v, const char *p, TC_ST), (v, p, st))                        \
    X(int, -1, __lxstat64, (int v, const char *p, TC_ST64), (v, p, st))                    \
    X(int, -1, __fxstatat, (int v, TC_AT, const char *p, TC_ST, int fl),                   \
      (v, dirfd, p, st, fl))                                                               \
    X(int, -1, __fxstatat64, (int v, TC_AT, const char *p, TC_ST64, int fl),               \
      (v, dirfd, p, st, fl))                                                               \
    X(DIR *, NULL, opendir, (const char *p), (p))

#define X(ret, fail, fn, params, args) static void *_Atomic real_##fn;
TC_FNS(X)
#undef X

void mp_threadcheck_install(void)
{
#define X(ret, fail, fn, params, args) mp_next_symbol(&real_##fn, #fn);
    TC_FNS(X)
#undef X
}

/* A function this libc lacks (the __xstat family on a musl-like one):
 * fails as the kernel would for an unknown call. */
#define X(ret, fail, fn, params, args)                                                     \
    ret fn params                                                                          \
    {                                                                                      \
        before_looking(p);                                                                 \
        ret(*real) params = (ret(*) params)mp_next_symbol(&real_##fn, #fn);                \
        if (!real) {                                                                       \
            errno = ENOSYS;                                                                \
            return fail;                                                                   \
        }                                                                                  \
        return real args;                                                                  \
    }
TC_FNS(X)
#undef X
