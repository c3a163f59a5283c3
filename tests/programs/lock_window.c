/*
 * lock_window.c - two contention phases on two different mutexes with a
 * snapshot in between (tests/programs/support protocol: SIGUSR2, then wait
 * for the file). `memprof locks OLD NEW` must show only phase_two's lock.
 */
#include <pthread.h>
#include <stdio.h>

#include "testprog.h"

#define NOINLINE __attribute__((noinline, used))

static pthread_mutex_t first = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t second = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long counter;

static NOINLINE void spin_work(int n)
{
    for (int i = 0; i < n; i++)
        counter = counter * 2654435761u + 1;
}

NOINLINE void phase_one(void)
{
    pthread_mutex_lock(&first);
    spin_work(200);
    pthread_mutex_unlock(&first);
}

NOINLINE void phase_two(void)
{
    pthread_mutex_lock(&second);
    spin_work(200);
    pthread_mutex_unlock(&second);
}

static void *run(void *fn)
{
    for (int i = 0; i < 100000; i++)
        ((void (*)(void))fn)();
    return NULL;
}

static void phase(void (*fn)(void))
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, run, (void *)fn);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
}

int main(void)
{
    phase(phase_one);
    tp_snapshot();
    phase(phase_two);
    printf("done %lu\n", counter);
    return 0;
}
