/*
 * thread_count.c - the collector's place in glibc's thread count: the
 * process ends with the program's last thread, never with ours.
 *
 * glibc ends a process with exit(0) when the thread count it keeps
 * (__nptl_nthreads) reaches zero: the last thread to return from its
 * start routine or call pthread_exit, main included. The collector is in
 * that count, so without care the program's last thread would only end
 * itself and leave the process to us (a child forked from a thread whose
 * thread then returns, main's pthread_exit: issue 16). So the collector
 * takes itself out of the count: the thread that created it subtracts one
 * as soon as pthread_create returns (it is alive, so the count cannot
 * reach zero then), and the collector adds it back as the very last thing
 * before glibc subtracts it when the collector's thread ends. The program's
 * last thread then sees zero and calls exit(0) itself, on its own
 * descriptors, exactly as without the shim; the collector never does.
 *
 * Adding back is skipped when the count is already zero (the last thread
 * is in exit(0), waiting for us in mp_collector_stop). A collector that
 * leaves on its own must not add one back while the program's last
 * thread ends, or that thread would see one and only end itself, and
 * glibc would run exit(0) on ours; collector.c arranges that a transient
 * collector and the program's last thread meet. Without the symbol (not
 * glibc), the collector stays counted and looks for the end itself after
 * main's pthread_exit (mp_thread_count_only_collector_left).
 */
#include "shim.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

static _Atomic unsigned *glibc_nthreads;
enum { COUNT_IN = 0, COUNT_OUT = 1, COUNT_LEFT = 2 };
static _Atomic int count_state;   /* the current collector's place in that count */

void mp_thread_count_init(void)
{
    if (!glibc_nthreads)
        glibc_nthreads = (_Atomic unsigned *)dlsym(RTLD_DEFAULT, "__nptl_nthreads");
}

bool mp_thread_count_known(void)
{
    return glibc_nthreads != NULL;
}

/* A new collector is about to be created (or a fork child has none). */
void mp_thread_count_reset(void)
{
    atomic_store(&count_state, COUNT_IN);
}

/* The creating thread, once pthread_create returned: unless the collector
 * has already left (and so was never taken out), it is taken out now. */
void mp_thread_count_out(void)
{
    int expected = COUNT_IN;
    if (glibc_nthreads && atomic_compare_exchange_strong(&count_state, &expected, COUNT_OUT))
        atomic_fetch_sub(glibc_nthreads, 1);
}

/* The collector's last act, when it was taken out. */
void mp_thread_count_back_in(void)
{
    int expected = COUNT_IN;
    if (atomic_compare_exchange_strong(&count_state, &expected, COUNT_LEFT))
        return;   /* left before the creator took it out: nothing to give back */
    unsigned c = atomic_load(glibc_nthreads);
    while (c > 0 && !atomic_compare_exchange_weak(glibc_nthreads, &c, c + 1))
        ;
}

/*
 * Without glibc's thread count: after main's pthread_exit the process
 * lives until its last thread ends, and we are in that count: once only
 * the zombie main thread and we are left, we must be the ones to call
 * exit(0), or the process would never end.
 */
bool mp_thread_count_only_collector_left(void)
{
    char buf[4096];
    if (mp_read_small_file("/proc/self/status", buf, sizeof(buf)) <= 0)
        return false;
    const char *t = strstr(buf, "\nThreads:");
    return t && strtol(t + 9, NULL, 10) <= 2;
}
