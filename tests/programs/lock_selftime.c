/*
 * lock_selftime.c - two threads on one mutex, each timing its own calls
 * to pthread_mutex_lock (a clock read before and after), for
 * argv[1] iterations (default 200000). The critical section is argv[2]
 * multiplies (default 400), the work outside argv[3] (default 400).
 * Prints the sum over both threads: "self_wait_ns N", which memprof's
 * total wait for the mutex must match (within 10%).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline, used))

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long shared;
static long iters = 200000, inside = 400, outside = 400;

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

NOINLINE uint64_t self_worker(void)
{
    uint64_t waited = 0;
    unsigned long local = 1;
    for (long i = 0; i < iters; i++) {
        uint64_t t0 = now_ns();
        pthread_mutex_lock(&mu);
        waited += now_ns() - t0;
        for (long k = 0; k < inside; k++)
            shared = shared * 2654435761u + 1;
        pthread_mutex_unlock(&mu);
        for (long k = 0; k < outside; k++)
            local = local * 2654435761u + 1;
    }
    shared += local & 1;
    return waited;
}

static void *thread_main(void *arg)
{
    *(uint64_t *)arg = self_worker();
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1) iters = atol(argv[1]);
    if (argc > 2) inside = atol(argv[2]);
    if (argc > 3) outside = atol(argv[3]);
    pthread_t t[2];
    uint64_t w[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, thread_main, &w[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("self_wait_ns %llu\n", (unsigned long long)(w[0] + w[1]));
    return 0;
}
