/*
 * lock_trylock_spin.c - a lock taken by trylock-spinning: three threads loop
 * on pthread_mutex_trylock in spin_worker until it succeeds. The blocking
 * lock is never called, yet the lock must show up as contended.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#define NOINLINE __attribute__((noinline, used))

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long counter;

static NOINLINE void spin_work(int n)
{
    for (int i = 0; i < n; i++)
        counter = counter * 2654435761u + 1;
}

NOINLINE void spin_worker(void)
{
    while (pthread_mutex_trylock(&mu) != 0)
        sched_yield();
    spin_work(2000);
    pthread_mutex_unlock(&mu);
}

static void *thread_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++)
        spin_worker();
    return NULL;
}

int main(void)
{
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, thread_main, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    printf("done %lu\n", counter);
    return 0;
}
