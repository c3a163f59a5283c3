/*
 * life_threads - thousands of threads created and exiting: THREADS threads
 * in batches of BATCH (joined), plus DETACHED detached ones; each churns,
 * takes a shared lock, and leaks exactly one 100-byte block in thread_leak().
 * The exit snapshot (MEMPROF_SAMPLE=1) must show THREADS+DETACHED blocks
 * there: the events of threads long gone must all arrive.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 3000
#define BATCH 64
#define DETACHED 200

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *volatile sink;
static atomic_int detached_done;
static long counter;

__attribute__((noinline)) static void thread_leak(void)
{
    char *p = malloc(100);
    memset(p, 1, 100);
    pthread_mutex_lock(&lock);
    sink = p;
    counter++;
    pthread_mutex_unlock(&lock);
}

static void *body(void *arg)
{
    for (int i = 0; i < 20; i++) {
        void *q = malloc(32 + (size_t)i * 8);
        sink = q;
        free(q);
    }
    thread_leak();
    if (arg)
        atomic_fetch_add(&detached_done, 1);
    return NULL;
}

int main(void)
{
    pthread_t tid[BATCH];
    for (int done = 0; done < THREADS; done += BATCH) {
        int n = THREADS - done < BATCH ? THREADS - done : BATCH;
        for (int i = 0; i < n; i++)
            if (pthread_create(&tid[i], NULL, body, NULL) != 0) {
                perror("pthread_create");
                return 2;
            }
        for (int i = 0; i < n; i++)
            pthread_join(tid[i], NULL);
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < DETACHED; i++) {
        pthread_t t;
        while (pthread_create(&t, &attr, body, (void *)1) != 0)
            usleep(1000);   /* EAGAIN while too many are still alive */
    }
    while (atomic_load(&detached_done) < DETACHED)
        usleep(1000);
    usleep(50 * 1000);   /* let the last detached threads finish exiting */
    pthread_mutex_lock(&lock);
    printf("threads %ld\n", counter);
    pthread_mutex_unlock(&lock);
    return 0;
}
