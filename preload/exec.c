/*
 * exec.c - the exec family interposers: a profiled image that replaces
 * itself writes its last snapshot first (trigger "exec"), as it would at
 * exit; the image started by the exec begins afresh under the same pid,
 * and its files take the next free <seq> (snapfile.c never replaces one).
 *
 * Only the process that owns the shim's state writes, and only where that
 * is safe; every other case goes straight to the real call:
 *   - a vfork child (or any clone sharing our memory under another pid):
 *     the pid the kernel gives (not a cache) is compared with mp_pid before
 *     anything is written; a write there would corrupt the parent. glibc's
 *     posix_spawn, system and popen exec through glibc-internal calls that
 *     never reach us;
 *   - not recording: dormant and never enabled, inert (AT_SECURE, start-up
 *     failed), finished, attached (got.c patches no exec slot);
 *   - the calling thread is inside the shim (a signal handler that
 *     interrupted a hook or a snapshot: their locks are this thread's);
 *   - the image recorded nothing (no sample, no contention): a shell's fork
 *     child between fork and exec would write thousands of empty files;
 *   - the exec will plainly fail (no such file, not an executable regular
 *     file, found nowhere on PATH): programs that search PATH themselves
 *     (Python's os.execvp) call execve once per directory.
 *
 * A fork child of a multi-threaded parent (a worker of a threaded master,
 * the shim's own collector thread counts) writes it like any process: the
 * snapshot takes no lock another thread of the parent could have held at
 * the fork (lifecycle.c's finish says which calls it makes; the module
 * scan, which would take the loader's list lock, uses the table the
 * parent rescanned just before the fork: modules.c).
 *
 * The snapshot is the exit path's (lifecycle.c): the state goes to
 * FINISHED (other threads stop recording, so nothing is folded while the
 * file is built), the collector is stopped (bounded), the rings drained
 * here, the file written through mp_write_snapshot (serialized with any
 * other writer, bounded). It runs on a stack of its own: exec may be called
 * on a small thread stack or a signal handler's alternate stack. If the
 * exec fails the state is restored and the collector re-armed; the calling
 * thread's errno and signal mask are what the real call left.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

extern char **environ;

#define EXEC_STACK_BYTES (256u << 10)   /* the snapshot's stack (snapshot.c needs ~20 KiB) */

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[], int);

/* The real functions, resolved at start-up (mp_exec_install): later, a
 * fork child or a signal handler would call dlsym. */
static void *_Atomic next_execve, *_Atomic next_execv, *_Atomic next_execvp,
    *_Atomic next_execvpe, *_Atomic next_fexecve, *_Atomic next_execveat;

void mp_exec_install(void)
{
    mp_next_symbol(&next_execve, "execve");
    mp_next_symbol(&next_execv, "execv");
    mp_next_symbol(&next_execvp, "execvp");
    mp_next_symbol(&next_execvpe, "execvpe");
    mp_next_symbol(&next_fexecve, "fexecve");
    mp_next_symbol(&next_execveat, "execveat");
}

/* ---- will the exec likely succeed? ---- */

static bool runnable_at(int dirfd, const char *path, int flags)
{
    struct stat st;
    return path && *path && mp_fstatat(dirfd, path, &st, flags & AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(st.st_mode) && faccessat(dirfd, path, X_OK, AT_EACCESS) == 0;
}

static bool runnable(const char *path)
{
    return runnable_at(AT_FDCWD, path, 0);
}

static bool runnable_fd(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* execvp's search: a name with a slash as is, else each PATH entry (glibc's
 * default when PATH is unset; an empty entry is the current directory). */
static bool runnable_on_path(const char *file)
{
    if (!file || !*file)
        return false;
    if (strchr(file, '/'))
        return runnable(file);
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    size_t flen = strlen(file);
    char buf[PATH_MAX];
    for (const char *p = path;; p++) {
        const char *end = strchrnul(p, ':');
        size_t dlen = (size_t)(end - p);
        if (dlen + 1 + flen < sizeof(buf)) {
            memcpy(buf, p, dlen);
            buf[dlen] = '/';
            memcpy(buf + dlen + 1, file, flen + 1);
            if (runnable(dlen ? buf : file))
                return true;
        }
        if (!*end)
            return false;
        p = end;
    }
}

/* ---- the snapshot ---- */

static void write_last_snapshot(void)
{
    lk_flush_pending();
    mp_guard++;
    mp_collector_stop();
    mp_collector_drain_now();
    mp_write_snapshot(MP_TRIGGER_EXEC, NULL, 0);
    mp_guard--;
}

/* Runs write_last_snapshot on a stack of its own; false: no memory. The
 * mask that swapcontext saves and the return restores is the caller's. */
static bool on_own_stack(void)
{
    typedef struct { ucontext_t back, there; } contexts;
    size_t head = (sizeof(contexts) + 63) & ~(size_t)63;
    char *mem = mp_pages(head + EXEC_STACK_BYTES);
    if (!mem)
        return false;
    contexts *c = (contexts *)mem;
    bool ok = getcontext(&c->there) == 0;
    if (ok) {
        c->there.uc_stack.ss_sp = mem + head;
        c->there.uc_stack.ss_size = EXEC_STACK_BYTES;
        c->there.uc_link = &c->back;
        makecontext(&c->there, write_last_snapshot, 0);
        ok = swapcontext(&c->back, &c->there) == 0;
    }
    mp_pages_free(mem, head + EXEC_STACK_BYTES);
    return ok;
}

/* What is about to be exec'd, for the check that it plainly cannot be. */
typedef struct exec_target {
    enum { BY_PATH, BY_SEARCH, BY_FD, BY_AT } how;
    int fd;                /* BY_FD, BY_AT */
    const char *path;      /* BY_PATH, BY_SEARCH, BY_AT */
    int flags;             /* BY_AT */
} exec_target;

static bool likely_runs(const exec_target *t)
{
    switch (t->how) {
    case BY_PATH: return runnable(t->path);
    case BY_SEARCH: return runnable_on_path(t->path);
    case BY_FD: return runnable_fd(t->fd);
    case BY_AT:
        return (t->flags & AT_EMPTY_PATH) && t->path && !*t->path
                   ? runnable_fd(t->fd)
                   : runnable_at(t->fd, t->path, t->flags);
    }
    return false;
}

/* Whether this image writes a snapshot before exec'ing t (see the top). */
static bool wanted(const exec_target *t)
{
    /* First, and nothing written before it: a vfork child shares our memory. */
    if ((pid_t)syscall(SYS_getpid) != mp_pid)
        return false;
    if (!mp_profiling(atomic_load(&mp_state)) || !atomic_load(&mp_recorded) || mp_guard != 0 ||
        mp_in_hook != 0 ||
        (MP_STAT_TOTAL(samples) == 0 && MP_STAT_TOTAL(lock_contentions) == 0))
        return false;
    return likely_runs(t);
}

/* Before the real exec: the state to restore if it fails, or -1 when no
 * snapshot was taken (nothing to undo). errno is left as it was. */
static int exec_prepare(const exec_target *t)
{
    int err = errno;
    int state = -1;
    if (wanted(t)) {
        state = atomic_load(&mp_state);
        /* Exit, detach or another exec may have got there first. */
        if (mp_profiling(state) &&
            atomic_compare_exchange_strong(&mp_state, &state, MP_STATE_FINISHED))
            on_own_stack();
        else
            state = -1;
    }
    errno = err;
    return state;
}

/* After a failed exec: profiling goes on as before (a later snapshot takes
 * a higher seq). errno stays the real call's. */
static int exec_failed(int state, int rc)
{
    if (state < 0)
        return rc;
    int err = errno;
    mp_guard++;
    int finished = MP_STATE_FINISHED;
    atomic_compare_exchange_strong(&mp_state, &finished, state);
    if (mp_collector_start() != 0)
        mp_warn("cannot restart the collector thread after a failed exec");
    mp_guard--;
    errno = err;
    return rc;
}

static void *real(void *_Atomic *slot, const char *name)
{
    void *fn = mp_next_symbol(slot, name);
    if (!fn)
        errno = ENOSYS;
    return fn;
}

/* The calls that name a file: the real one in slot, after the snapshot.
 * with_env: it takes envp (which may be NULL: Linux reads it as empty). */
static int run_named(void *_Atomic *slot, const char *name, int how, const char *file,
                     char *const argv[], bool with_env, char *const envp[])
{
    void *fn = real(slot, name);
    if (!fn)
        return -1;
    int state = exec_prepare(&(exec_target){.how = how, .path = file});
    int rc = with_env ? ((execve_fn)fn)(file, argv, envp) : ((execv_fn)fn)(file, argv);
    return exec_failed(state, rc);
}

static int run_execve(const char *path, char *const argv[], char *const envp[])
{
    return run_named(&next_execve, "execve", BY_PATH, path, argv, true, envp);
}

static int run_execvpe(const char *file, char *const argv[], char *const envp[])
{
    return run_named(&next_execvpe, "execvpe", BY_SEARCH, file, argv, true, envp);
}

/* ---- the interposers ---- */

int execve(const char *path, char *const argv[], char *const envp[])
{
    return run_execve(path, argv, envp);
}

int execv(const char *path, char *const argv[])
{
    return run_named(&next_execv, "execv", BY_PATH, path, argv, false, NULL);
}

int execvp(const char *file, char *const argv[])
{
    return run_named(&next_execvp, "execvp", BY_SEARCH, file, argv, false, NULL);
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
    return run_execvpe(file, argv, envp);
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
    fexecve_fn fn = (fexecve_fn)real(&next_fexecve, "fexecve");
    if (!fn)
        return -1;
    int state = exec_prepare(&(exec_target){.how = BY_FD, .fd = fd});
    return exec_failed(state, fn(fd, argv, envp));
}

/* glibc 2.34+; with an older libc, the system call itself. */
int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    execveat_fn fn = (execveat_fn)mp_next_symbol(&next_execveat, "execveat");
    int state = exec_prepare(&(exec_target){.how = BY_AT, .fd = dirfd, .path = path,
                                            .flags = flags});
    int rc = fn ? fn(dirfd, path, argv, envp, flags)
                : (int)syscall(SYS_execveat, dirfd, path, argv, envp, flags);
    return exec_failed(state, rc);
}

/* ---- the list forms ----
 * They collect their arguments into an array on the caller's stack, as
 * glibc's do, and go where glibc's go: execl and execle to execve, execlp
 * to execvpe, with environ unless given. */

/* Arguments from first to the terminating NULL, that NULL left out. */
static size_t count_args(const char *first, va_list ap)
{
    size_t n = 0;
    for (const char *a = first; a && n < INT_MAX; a = va_arg(ap, const char *))
        n++;
    return n;
}

/* Fills argv[0 .. n] (NULL last); returns the envp that follows the NULL
 * when envp_follows, else environ. */
static char *const *fill_args(char **argv, size_t n, const char *first, va_list ap,
                              bool envp_follows)
{
    argv[0] = (char *)first;
    for (size_t i = 1; i <= n; i++)
        argv[i] = va_arg(ap, char *);   /* argv[n]: the terminating NULL */
    return envp_follows ? va_arg(ap, char *const *) : environ;
}

#define ARGS_TO_ARRAY(arg, envp_follows, argv, envp)                 \
    va_list ap;                                                      \
    va_start(ap, arg);                                               \
    size_t n_args = count_args(arg, ap);                             \
    va_end(ap);                                                      \
    if (n_args >= INT_MAX) {                                         \
        errno = E2BIG;                                               \
        return -1;                                                   \
    }                                                                \
    char *argv[n_args + 1];                                          \
    va_start(ap, arg);                                               \
    char *const *envp = fill_args(argv, n_args, arg, ap, envp_follows); \
    va_end(ap)

int execl(const char *path, const char *arg, ...)
{
    ARGS_TO_ARRAY(arg, false, argv, envp);
    return run_execve(path, argv, envp);
}

int execle(const char *path, const char *arg, ...)
{
    ARGS_TO_ARRAY(arg, true, argv, envp);
    return run_execve(path, argv, envp);
}

int execlp(const char *file, const char *arg, ...)
{
    ARGS_TO_ARRAY(arg, false, argv, envp);
    return run_execvpe(file, argv, envp);
}
