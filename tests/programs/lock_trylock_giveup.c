/*
 * lock_trylock_giveup.c - failed trylocks the caller gives up on are not
 * waits. give_up_once trylocks a mutex another thread holds, gets EBUSY,
 * moves on to other work for a second and only then locks it (free by
 * then); give_up_loop skips busy "items" the way memcached's lru_pull_tail
 * does (`if (trylock(...) != 0) continue;`). Neither waited, so neither
 * may appear as a waiter; worker_hot's genuinely contended lock must rank
 * first.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, used))
#define ITEMS 8

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t items[ITEMS];
static pthread_mutex_t hot = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long counter;
static volatile int holding;

static void work_ms(long ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int i = 0; i < 1000; i++)
            counter = counter * 2654435761u + 1;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

static void *holder_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&held);
    for (int i = 0; i < ITEMS; i++)
        pthread_mutex_lock(&items[i]);
    holding = 1;
    usleep(300 * 1000);
    for (int i = 0; i < ITEMS; i++)
        pthread_mutex_unlock(&items[i]);
    pthread_mutex_unlock(&held);
    return NULL;
}

NOINLINE void give_up_once(void)
{
    if (pthread_mutex_trylock(&held) == 0) {
        fprintf(stderr, "lock_trylock_giveup: the held mutex was free\n");
        return;
    }
    work_ms(1000);   /* other work; the holder lets go meanwhile */
    pthread_mutex_lock(&held);
    pthread_mutex_unlock(&held);
}

NOINLINE void give_up_loop(void)
{
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < ITEMS; i++) {
            if (pthread_mutex_trylock(&items[i]) != 0)
                continue;   /* busy: skip it */
            pthread_mutex_unlock(&items[i]);
        }
}

static pthread_barrier_t hot_start;

/* Runs for 300 ms rather than a fixed count: 20000 rounds (8 ms) once let
 * a loaded CI machine run the three workers one after another, with no
 * contention at all. Started together and overlapping for 300 ms, they
 * contend on any machine with two cores, and by preemption on one. */
NOINLINE void worker_hot(void)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int i = 0; i < 100; i++) {
            pthread_mutex_lock(&hot);
            for (int k = 0; k < 200; k++)
                counter = counter * 2654435761u + 1;
            pthread_mutex_unlock(&hot);
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 300);
}

static void *hot_main(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&hot_start);
    worker_hot();
    return NULL;
}

int main(void)
{
    pthread_t h, w[3];
    for (int i = 0; i < ITEMS; i++)
        pthread_mutex_init(&items[i], NULL);
    pthread_create(&h, NULL, holder_main, NULL);
    while (!holding)
        usleep(1000);
    give_up_loop();
    give_up_once();
    pthread_join(h, NULL);
    /* items locked later, uncontended: still no wait */
    for (int i = 0; i < ITEMS; i++) {
        pthread_mutex_lock(&items[i]);
        pthread_mutex_unlock(&items[i]);
    }
    pthread_barrier_init(&hot_start, NULL, 3);
    for (int i = 0; i < 3; i++)
        pthread_create(&w[i], NULL, hot_main, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(w[i], NULL);
    printf("done %lu\n", counter);
    return 0;
}
