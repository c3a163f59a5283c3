/*
 * unwind_altstack.c - allocations with little stack left (issue 11 item 6).
 *
 * A SIGUSR1 handler running on an 8 KiB or a 12 KiB alternate signal stack
 * allocates (and leaks: the planted leak, in handler_alloc), and threads
 * with 16, 20 and 24 KiB stacks allocate a few frames deep. All of it runs
 * plainly; under the shim a sampled allocation must not need much more
 * stack than that (tests/e2e/unwind_altstack.sh).
 *
 * Then threads whose very first allocation is made by the same handler,
 * delivered while the thread sits in pthread_getschedparam, which holds
 * the thread's own descriptor lock: the shim must find the new thread's
 * stack bounds without pthread_getattr_np (which takes that lock, and
 * mallocs), or the handler deadlocks.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testprog.h"

#define LEAK_BLOCK (64 * 1024)

static tp_tally tally;
static char stack_8k[8192] __attribute__((aligned(64)));
static char stack_12k[12288] __attribute__((aligned(64)));

TP_CULPRIT static void handler_alloc(void)
{
    void *p = malloc(LEAK_BLOCK);
    tp_touch(p, LEAK_BLOCK);
    tally.bytes += LEAK_BLOCK;
    tally.count++;
}

static _Atomic int handled;

static void on_usr1(int sig)
{
    (void)sig;
    handler_alloc();
    atomic_store(&handled, 1);
}

static void use_altstack(void *base, size_t size)
{
    stack_t ss = {.ss_sp = base, .ss_size = size, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        perror("sigaltstack");
        exit(1);
    }
}

/* A few frames of recursion, then churn: allocations from deep inside a
 * small stack (each level keeps 512 bytes of its own). */
TP_CULPRIT static unsigned small_stack_work(int depth, uint64_t *seed)
{
    volatile char pad[512];
    pad[0] = (char)depth;
    if (depth > 0)
        return small_stack_work(depth - 1, seed) + (unsigned)pad[0];
    unsigned sum = 0;
    for (int i = 0; i < 2000; i++) {
        size_t s = 16 + tp_rand(seed) % 2048;
        char *p = malloc(s);
        tp_touch(p, s);
        sum += (unsigned char)p[0];
        free(p);
    }
    return sum;
}

static void *small_thread(void *arg)
{
    uint64_t seed = 7 + (uintptr_t)arg;
    small_stack_work(4, &seed);
    return NULL;
}

static void run_small_threads(void)
{
    static const size_t sizes[] = {16384, 20480, 24576};
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            pthread_attr_t attr;
            pthread_t t;
            pthread_attr_init(&attr);
            if (pthread_attr_setstacksize(&attr, sizes[i]) != 0 ||
                pthread_create(&t, &attr, small_thread, (void *)i) != 0) {
                fprintf(stderr, "cannot start a thread with a %zu-byte stack\n", sizes[i]);
                exit(1);
            }
            pthread_join(t, NULL);
            pthread_attr_destroy(&attr);
        }
    }
}

/* Nothing but the lock of its own descriptor, over and over, until the
 * handler has run: the handler's malloc is the thread's first. */
static void *schedparam_thread(void *arg)
{
    _Atomic int *started = arg;
    struct sched_param sp;
    int policy;
    atomic_store(started, 1);
    while (!atomic_load(&handled))
        pthread_getschedparam(pthread_self(), &policy, &sp);
    return NULL;
}

static void run_signal_first_threads(void)
{
    for (int i = 0; i < 24; i++) {
        pthread_t t;
        _Atomic int started = 0;
        atomic_store(&handled, 0);
        if (pthread_create(&t, NULL, schedparam_thread, (void *)&started) != 0) {
            fprintf(stderr, "cannot start a thread\n");
            exit(1);
        }
        while (!atomic_load(&started))
            sched_yield();
        pthread_kill(t, SIGUSR1);
        pthread_join(t, NULL);
    }
}

int main(void)
{
    tp_baseline();
    tp_snapshot();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    for (int i = 0; tally.bytes < TP_LEAK_BYTES; i++) {
        if (i % 2)
            use_altstack(stack_8k, sizeof(stack_8k));
        else
            use_altstack(stack_12k, sizeof(stack_12k));
        raise(SIGUSR1);
    }
    run_small_threads();
    run_signal_first_threads();
    tp_report(&tally);
    return 0;
}
