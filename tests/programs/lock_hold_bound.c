/*
 * lock_hold_bound.c - N threads (argv[1], default 4) on one mutex for
 * about argv[2] ms (default 1500), with work inside and (argv[3]
 * multiplies, default 300) outside the critical section: more threads
 * than cores, so holders get preempted right after their unlock. The hold time memprof reports for the mutex
 * can never exceed the run's wall time. Prints the wall time and its own
 * total of the holds (self_hold_ns: each timed inside the critical
 * section). With nothing outside, every hold has the other threads
 * queued: then memprof's hold time while contended is that total too.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline, used))

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long counter;
static long run_ms = 1500;
static int outside = 300;
static _Atomic unsigned long long self_hold_ns;

static unsigned long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

NOINLINE void bound_worker(const struct timespec *t0)
{
    unsigned long local = 1;
    unsigned long long held = 0;
    while (elapsed_ms(t0) < run_ms) {
        for (int i = 0; i < 200; i++) {
            pthread_mutex_lock(&mu);
            unsigned long long h0 = now_ns();
            for (int k = 0; k < 300; k++)
                counter = counter * 2654435761u + 1;
            held += now_ns() - h0;
            pthread_mutex_unlock(&mu);
            for (int k = 0; k < outside; k++)
                local = local * 2654435761u + 1;
        }
    }
    counter += local & 1;
    self_hold_ns += held;
}

static void *thread_main(void *arg)
{
    bound_worker(arg);
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4;
    if (argc > 2)
        run_ms = atol(argv[2]);
    if (argc > 3)
        outside = atoi(argv[3]);
    if (n < 1 || n > 64)
        n = 4;
    pthread_t t[64];
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, thread_main, &t0);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    printf("wall_ms %ld\nself_hold_ns %llu\n", elapsed_ms(&t0), (unsigned long long)self_hold_ns);
    return 0;
}
