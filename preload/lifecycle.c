/*
 * lifecycle.c - the shim at fork and exit: the fork handlers (each part of
 * the shim resets itself in the child through its one after-fork entry
 * point), the final snapshot (our destructor, or the exit calls that skip
 * destructors: _exit, _Exit, quick_exit), the main thread's pthread_exit,
 * unshare, which needs the process single-threaded for a moment, the
 * children made without the fork handlers (clone, _Fork), and
 * pthread_create: the collector thread starts with the program's first
 * thread (collector.c says what happens before).
 */
#include "shim.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- fork ---- */

static void atfork_prepare(void)
{
    mp_guard++;
    /* Locked: the child must not inherit the table mid-update. */
    mp_modules_before_fork(mp_profiling(atomic_load(&mp_state)));
}

static void atfork_parent(void)
{
    mp_modules_unlock();
    mp_guard--;
}

/* The child keeps the stack table (shared history) and nothing else: it
 * reports only what it allocates itself, under its own pid and seq. */
static void atfork_child(void)
{
    mp_modules_after_fork_child();
    mp_unwind_after_fork_child();
    if (mp_profiling(atomic_load(&mp_state))) {
        mp_state_own_process(mp_realtime_ns());
        mp_dormant_restart();
        mp_stats_reset();
        mp_sampler_after_fork_child();
        mp_rings_after_fork_child();
        mp_addrset_clear();
        mp_heap_fold_reset();
        mp_locks_after_fork_child();
        mp_snapshot_reset_seq();
        mp_collector_after_fork_child();
    }
    mp_guard--;
}

/*
 * Children made without the fork handlers: glibc's clone() without
 * CLONE_VM (Chromium's sandbox makes its namespaced zygote so) and
 * _Fork(). The child is a copy of this process taken at any moment,
 * without the collector thread, and with whatever shim locks other
 * threads held then; nothing of the shim there can be trusted, so it is
 * made inert before the child runs a line of its own: every interposer
 * passes straight through and it writes no snapshot (mp_state
 * FINISHED). A clone that shares our memory (CLONE_VM: a thread, or a
 * vfork-like child that execs) is left alone: a store there would be the
 * parent's.
 */
typedef struct clone_start {
    int (*fn)(void *);
    void *arg;
} clone_start;

static int inert_child_start(void *p)
{
    clone_start start = *(clone_start *)p;
    atomic_store(&mp_state, MP_STATE_FINISHED);
    return start.fn(start.arg);
}

int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
    static void *_Atomic next;
    va_list ap;
    va_start(ap, arg);
    pid_t *ptid = va_arg(ap, pid_t *);
    void *tls = va_arg(ap, void *);
    pid_t *ctid = va_arg(ap, pid_t *);
    va_end(ap);
    int (*real_clone)(int (*)(void *), void *, int, void *, ...) =
        (int (*)(int (*)(void *), void *, int, void *, ...))mp_next_symbol(&next, "clone");
    if (!real_clone) {
        errno = ENOSYS;
        return -1;
    }
    if (flags & CLONE_VM)
        return real_clone(fn, stack, flags, arg, ptid, tls, ctid);
    /* Without CLONE_VM the child has its own copy of this frame. */
    clone_start start = {fn, arg};
    return real_clone(inert_child_start, stack, flags, &start, ptid, tls, ctid);
}

pid_t _Fork(void)
{
    static void *_Atomic next;
    pid_t (*real_fork)(void) = (pid_t(*)(void))mp_next_symbol(&next, "_Fork");
    if (!real_fork) {
        errno = ENOSYS;
        return -1;
    }
    pid_t pid = real_fork();
    if (pid == 0)
        atomic_store(&mp_state, MP_STATE_FINISHED);
    return pid;
}

/* The real exit calls, resolved at start-up: resolving one at exit would
 * be dlsym in a fork child of a threaded parent, which may be anywhere
 * when the fork comes (dlerror's state, the allocator). */
static void *_Atomic next_exit, *_Atomic next_Exit, *_Atomic next_quick_exit;

void mp_lifecycle_resolve(void)
{
    mp_next_symbol(&next_exit, "_exit");
    mp_next_symbol(&next_Exit, "_Exit");
    mp_next_symbol(&next_quick_exit, "quick_exit");
}

void mp_lifecycle_install(void)
{
    mp_lifecycle_resolve();
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* ---- exit ---- */

/* Final snapshot. Runs once, in the process that owns the state: a vfork
 * child calling _exit shares our memory but is not us. A fork child of a
 * multi-threaded parent (a worker's _exit(127) after a failed exec) writes
 * it too: nothing on this path takes a lock another thread of the parent
 * could have held at the fork. The shim's own locks are reset by the fork
 * handlers (atfork_child); the module scan, which would take the loader's
 * list lock, uses the table inherited instead (modules.c); the real exit
 * calls were resolved at start-up; the rest is system calls, snprintf
 * into our buffers (no stdio lock, no allocation) and the shim's own
 * memory (mmap). A write that fails names its error with mp_strerror
 * (os.c), not strerror, whose message catalogue lock fork does not reset. */
static void finish(void)
{
    static _Atomic int done;
    int state = atomic_load(&mp_state);
    if (!mp_profiling(state) || !atomic_load(&mp_recorded) || getpid() != mp_pid)
        return;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&done, &expected, 1))
        return;
    lk_flush_pending();
    mp_guard++;
    mp_collector_stop();
    atomic_store(&mp_state, MP_STATE_FINISHED);
    mp_collector_drain_now();
    mp_write_snapshot(MP_TRIGGER_EXIT, NULL, 0);
    mp_guard--;
}

__attribute__((destructor)) static void mp_destructor(void)
{
    finish();
}

static _Noreturn void real_exit(void *_Atomic *slot, const char *name, int status)
{
    void (*fn)(int) = (void (*)(int))mp_next_symbol(slot, name);
    if (fn)
        fn(status);
    for (;;)
        syscall(SYS_exit_group, status);
}

void _exit(int status)
{
    finish();
    real_exit(&next_exit, "_exit", status);
}

void _Exit(int status)
{
    finish();
    real_exit(&next_Exit, "_Exit", status);
}

/* The kernel refuses a new user namespace to a process with more than one
 * thread, and the collector is one: it steps aside for the call. */
int unshare(int flags)
{
    static void *_Atomic next;
    int (*real_unshare)(int) = (int (*)(int))mp_next_symbol(&next, "unshare");
    if (!real_unshare) {
        errno = ENOSYS;
        return -1;
    }
    bool step_aside = (flags & CLONE_NEWUSER) && mp_profiling(atomic_load(&mp_state)) &&
                      getpid() == mp_pid && atomic_load(&mp_collector_running);
    if (step_aside)
        mp_collector_stop();
    int rc = real_unshare(flags);
    int err = errno;
    /* The joined collector can linger in the thread group for a moment
     * after its join returns; a program that really is multi-threaded
     * still gets EINVAL, 50 ms later. */
    for (int i = 0; step_aside && rc != 0 && err == EINVAL && i < 50; i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        rc = real_unshare(flags);
        err = errno;
    }
    if (step_aside && mp_collector_start() != 0)
        mp_warn("cannot restart the collector thread after unshare");
    errno = err;
    return rc;
}

/* quick_exit skips the destructors, so the exit snapshot is taken here. */
void quick_exit(int status)
{
    finish();
    real_exit(&next_quick_exit, "quick_exit", status);
}

/* The main thread leaving with pthread_exit leaves the process to its other
 * threads; glibc ends it when the last is gone, the collector being out of
 * its count (collector.c, which also makes a leaving collector go first). */
void pthread_exit(void *retval)
{
    if (getpid() == (pid_t)syscall(SYS_gettid))
        mp_collector_note_main_exit();
    static void *_Atomic next;
    void (*fn)(void *) = (void (*)(void *))mp_next_symbol(&next, "pthread_exit");
    if (fn)
        fn(retval);
    for (;;)
        syscall(SYS_exit, 0);
}

/* The program's first thread starts the collector's (before the program's,
 * so that the new thread's events have a consumer). Threads the shim
 * creates itself pass through: the collector is marked running first. */
int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *),
                   void *arg)
{
    static void *_Atomic next;
    int (*real_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *) =
        (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))mp_next_symbol(
            &next, "pthread_create");
    if (!real_create)
        return EAGAIN;
    if (atomic_load(&mp_state) == MP_STATE_READY && mp_guard == 0 && getpid() == mp_pid) {
        mp_guard++;
        mp_collector_note_thread();
        mp_guard--;
    }
    return real_create(thread, attr, start, arg);
}
