/*
 * test_emit_fork.c - a thread's first event, while ring.c makes the key
 * whose destructor retires rings (its lock held around pthread_key_create).
 *
 * Two moments the shim meets in real programs, made certain here by a
 * pthread_key_create of the test's own that ring.c calls instead of libc's:
 *   - a signal handler on the same thread records an event (a malloc in
 *     the handler) while the thread is inside that call: the handler must
 *     return, and both events must reach the collector;
 *   - another thread forks meanwhile: the child, after the shim's fork
 *     handler (mp_rings_after_fork_child), must be able to record.
 * And the shared ring for late events (a thread's TLS destructors after
 * ours), made by the first such event: another thread forks while it is
 * being made (the test's mmap, which shmem.c calls, waits for the fork);
 * the child's own late events must still arrive.
 * Each runs in a process of its own under alarm(): a hang is a failure.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "shim.h"

enum { MODE_NONE, MODE_NESTED, MODE_FORK, MODE_LATE_FORK };
static _Atomic int mode;
static _Atomic int first_call_taken;
static _Atomic int in_create;      /* MODE_FORK: the creator is inside */
static _Atomic int fork_done;      /* MODE_FORK: the fork has happened */
static _Atomic int handler_done;

static void nap(void)
{
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

/* ring.c's call lands here; its first one does what the mode says. */
int pthread_key_create(pthread_key_t *key, void (*destructor)(void *))
{
    static int (*real)(pthread_key_t *, void (*)(void *));
    if (!real)
        real = (int (*)(pthread_key_t *, void (*)(void *)))dlsym(RTLD_NEXT,
                                                                "pthread_key_create");
    /* Only ring.c's (a hook records: mp_in_hook), not a sanitizer's. */
    if (mp_in_hook > 0 && !atomic_exchange(&first_call_taken, 1)) {
        if (atomic_load(&mode) == MODE_NESTED) {
            raise(SIGUSR1);
        } else if (atomic_load(&mode) == MODE_FORK) {
            atomic_store(&in_create, 1);
            while (!atomic_load(&fork_done))
                nap();
        }
    }
    return real(key, destructor);
}

/* shmem.c's mmap lands here; in MODE_LATE_FORK the first one made while
 * a late event is pushed waits for the fork. */
static _Atomic int in_late_push;
static _Atomic int late_mmap_taken;

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (atomic_load(&mode) == MODE_LATE_FORK && atomic_load(&in_late_push) &&
        !atomic_exchange(&late_mmap_taken, 1)) {
        atomic_store(&in_create, 1);
        while (!atomic_load(&fork_done))
            nap();
    }
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static mp_event event(uint64_t addr)
{
    mp_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = 1;
    ev.wait.addr = addr;
    return ev;
}

/* As a hook records: inside mp_hook_enter/leave. */
static bool record(uint64_t addr)
{
    mp_event ev = event(addr);
    mp_hook_enter();
    bool ok = mp_emit(&ev);
    mp_hook_leave();
    return ok;
}

static void count_event(const mp_event *ev, void *ctx)
{
    (void)ev;
    (*(int *)ctx)++;
}

static int drained(void)
{
    int n = 0;
    while (mp_rings_drain(count_event, &n) > 0)
        ;
    return n;
}

static void on_usr1(int sig)
{
    (void)sig;
    record(2);
    atomic_store(&handler_done, 1);
}

/* Exit status 0 when all is well; 2-4 say which check failed. */
static int nested_child(void)
{
    alarm(10);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    atomic_store(&mode, MODE_NESTED);
    bool ok = record(1);
    if (!ok || !atomic_load(&handler_done))
        return 2;
    int n = drained();
    return n == 2 ? 0 : 3;
}

static void *first_event(void *arg)
{
    (void)arg;
    record(1);
    return NULL;
}

/* The parent's side once it forked child g while thread t waits inside:
 * t goes on, and the child's exit status is the case's. */
static int let_fork_finish(pthread_t t, pid_t g)
{
    atomic_store(&fork_done, 1);
    pthread_join(t, NULL);
    int st = 0;
    if (g < 0 || waitpid(g, &st, 0) != g)
        return 4;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 5;
}

static int fork_child(void)
{
    alarm(20);
    atomic_store(&mode, MODE_FORK);
    pthread_t t;
    if (pthread_create(&t, NULL, first_event, NULL) != 0)
        return 2;
    while (!atomic_load(&in_create))
        nap();
    pid_t g = fork();
    if (g == 0) {
        mp_rings_after_fork_child();   /* what lifecycle.c's fork handler does */
        alarm(5);
        _exit(record(7) && drained() == 1 ? 0 : 3);
    }
    return let_fork_finish(t, g);
}

/* A thread's last event, from a TLS destructor that runs after ring.c's
 * (its key is newer): it goes to the shared late ring. */
static pthread_key_t late_key;

static void late_event(void *arg)
{
    (void)arg;
    atomic_store(&in_late_push, 1);
    record(3);
    atomic_store(&in_late_push, 0);
}

static void *ends_late(void *arg)
{
    (void)arg;
    record(1);   /* its ring, and ring.c's key, first */
    pthread_setspecific(late_key, (void *)1);
    return NULL;
}

static int late_fork_child(void)
{
    alarm(20);
    atomic_store(&mode, MODE_LATE_FORK);
    pthread_t t;
    record(0);   /* ring.c's key now, so that it is older than late_key */
    if (pthread_key_create(&late_key, late_event) != 0 ||
        pthread_create(&t, NULL, ends_late, NULL) != 0)
        return 2;
    while (!atomic_load(&in_create))
        nap();
    pid_t g = fork();
    if (g == 0) {
        mp_rings_after_fork_child();
        alarm(5);
        drained();   /* what the parent's threads left */
        pthread_t u;
        if (pthread_create(&u, NULL, ends_late, NULL) != 0 || pthread_join(u, NULL) != 0)
            _exit(4);
        _exit(drained() == 2 ? 0 : 3);   /* its ring's event and its late one */
    }
    return let_fork_finish(t, g);
}

static void run(const char *what, int (*fn)(void))
{
    pid_t p = fork();
    if (p == 0)
        _exit(fn());
    int st = 0;
    CHECK(p > 0 && waitpid(p, &st, 0) == p, "%s: no child", what);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child %s %d", what,
          WIFEXITED(st) ? "exited with" : "killed by signal",
          WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

int main(void)
{
    run("signal handler during the key's creation", nested_child);
    run("fork during the key's creation", fork_child);
    run("fork during the late ring's creation", late_fork_child);
    CHECK_DONE();
}
