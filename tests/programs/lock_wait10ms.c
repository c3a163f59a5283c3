/*
 * lock_wait10ms.c - a lock whose every contention is a ~10 ms wait:
 * hold_long takes the mutex, tells the waiter, waits until the waiter says
 * it is calling pthread_mutex_lock, then sleeps 10 ms and unlocks; so the
 * waiter waits ~10 ms (more on a loaded machine) however late a loaded
 * machine runs it (a fixed 10 ms from the holder's lock let a waiter that
 * woke late find the mutex free), and then lets the holder go on. 40
 * rounds. The holder never waits (it only locks after the waiter has
 * unlocked).
 * Prints the waiter's own measure of its time inside pthread_mutex_lock
 * ("self_wait_ns N") and the 99th percentile of its individual calls
 * ("self_p99_ns N": the ceil(0.99 n)-th smallest).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline, used))
#define ROUNDS 40

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
/* 0: holder's, 1: waiter may lock, 3: waiter locking, 2: waiter done */
static atomic_int turn;
static uint64_t self_wait_ns, waits[ROUNDS];
static int n_waits;

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void wait_turn(int want)
{
    struct timespec d = {0, 100 * 1000};
    while (atomic_load(&turn) != want)
        nanosleep(&d, NULL);
}

NOINLINE void hold_long(void)
{
    struct timespec d = {0, 10 * 1000 * 1000};
    pthread_mutex_lock(&mu);
    atomic_store(&turn, 1);
    wait_turn(3);
    nanosleep(&d, NULL);
    pthread_mutex_unlock(&mu);
}

NOINLINE void wait_short(void)
{
    atomic_store(&turn, 3);    /* the holder's 10 ms start now */
    uint64_t t0 = now_ns();
    pthread_mutex_lock(&mu);
    uint64_t d = now_ns() - t0;
    self_wait_ns += d;
    waits[n_waits++] = d;
    pthread_mutex_unlock(&mu);
}

static void *waiter_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        wait_turn(1);
        wait_short();
        atomic_store(&turn, 2);
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    pthread_t w;
    pthread_create(&w, NULL, waiter_main, NULL);
    for (int i = 0; i < ROUNDS; i++) {
        hold_long();
        wait_turn(2);
        atomic_store(&turn, 0);
    }
    pthread_join(w, NULL);
    qsort(waits, (size_t)n_waits, sizeof(uint64_t), cmp_u64);
    printf("self_wait_ns %llu\n", (unsigned long long)self_wait_ns);
    printf("self_p99_ns %llu\n", (unsigned long long)waits[(n_waits * 99 + 99) / 100 - 1]);
    return 0;
}
