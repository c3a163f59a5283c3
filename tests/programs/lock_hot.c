/*
 * lock_hot.c - planted lock contention: one mutex hammered by four threads
 * with short critical sections in worker_hot, beside a mutex that is only
 * rarely contended (worker_cold, once every 512 iterations). memprof locks
 * must rank the hot one first, with waiter and holder stacks in worker_hot.
 *
 * Usage: lock_hot [ITERATIONS]   (default 200000 per thread)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 4
#define NOINLINE __attribute__((noinline, used))

static pthread_mutex_t hot = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cold = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long counter_hot, counter_cold;
static long iterations = 200000;

/* A short critical section: a few hundred ns of dependent work. */
static NOINLINE void spin_work(volatile unsigned long *c, int n)
{
    for (int i = 0; i < n; i++)
        *c = *c * 2654435761u + 1;
}

NOINLINE void worker_hot(void)
{
    pthread_mutex_lock(&hot);
    spin_work(&counter_hot, 200);
    pthread_mutex_unlock(&hot);
}

NOINLINE void worker_cold(void)
{
    pthread_mutex_lock(&cold);
    spin_work(&counter_cold, 50);
    pthread_mutex_unlock(&cold);
}

static void *thread_main(void *arg)
{
    (void)arg;
    for (long i = 0; i < iterations; i++) {
        worker_hot();
        if ((i & 511) == 0)
            worker_cold();
        spin_work(&(volatile unsigned long){0}, 20);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        iterations = atol(argv[1]);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, thread_main, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    printf("done %lu\n", counter_hot);
    return 0;
}
