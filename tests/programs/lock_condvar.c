/*
 * lock_condvar.c - waiters piling up on a condition variable's mutex: eight
 * threads wait in cond_waiter; each round the main thread broadcasts, and
 * every woken waiter then holds the mutex for ~300 us, so the last ones
 * queue for it for milliseconds inside pthread_cond_wait's internal re-lock.
 * That re-lock never reaches pthread_mutex_lock, so the contention must be
 * found by the cond-wait hook: it shows up under wait_for_round, which only
 * waits on the cond, while plain locks of the mutex are in cond_waiter.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define NOINLINE __attribute__((noinline, used))
#define WAITERS 8
#define ROUNDS 40

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int round_no, waiting;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static NOINLINE void busy_us(unsigned us)
{
    uint64_t end = now_ns() + us * 1000ull;
    while (now_ns() < end)
        ;
}

NOINLINE void wait_for_round(int r)
{
    while (round_no < r)
        pthread_cond_wait(&cv, &mu);
}

NOINLINE void cond_waiter(void)
{
    for (int r = 1; r <= ROUNDS; r++) {
        pthread_mutex_lock(&mu);
        waiting++;
        wait_for_round(r);
        busy_us(300);   /* holding the mutex the other woken waiters need */
        pthread_mutex_unlock(&mu);
    }
}

static void *waiter_main(void *arg)
{
    (void)arg;
    cond_waiter();
    return NULL;
}

int main(void)
{
    pthread_t t[WAITERS];
    for (int i = 0; i < WAITERS; i++)
        pthread_create(&t[i], NULL, waiter_main, NULL);
    struct timespec nap = {0, 200000};
    for (int r = 1; r <= ROUNDS; r++) {
        for (;;) {   /* until every waiter sleeps in the wait */
            pthread_mutex_lock(&mu);
            if (waiting == WAITERS * r)
                break;
            pthread_mutex_unlock(&mu);
            nanosleep(&nap, NULL);
        }
        round_no = r;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
    }
    for (int i = 0; i < WAITERS; i++)
        pthread_join(t[i], NULL);
    printf("done %d\n", round_no);
    return 0;
}
