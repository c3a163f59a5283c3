/*
 * lock_semantics - the lock hooks must hand back exactly what glibc does.
 * Prints the result of every call that has an unusual answer: re-locking
 * an error-checking mutex (EDEADLK), recursive holds, trylock on a busy
 * lock (EBUSY), a timed lock that times out (ETIMEDOUT), a robust mutex
 * whose owner died (EOWNERDEAD), spinlocks, and a contended lock whose
 * waiter must get it. The e2e test compares the output with and without
 * the shim, so each line is only a name and a number.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, int rc)
{
    printf("%-28s %s\n", what, rc == 0 ? "0" : strerrorname_np(rc));
}

static pthread_mutex_t made(int type, int robust)
{
    pthread_mutexattr_t a;
    pthread_mutex_t m;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, type);
    if (robust)
        pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&m, &a);
    pthread_mutexattr_destroy(&a);
    return m;
}

static pthread_mutex_t robust;
static pthread_mutex_t held;
static pthread_spinlock_t spin;
/* The busy and contended answers need the holder to hold while main asks,
 * however a loaded machine schedules the two: main waits until the holder
 * holds (a fixed 50 ms once let main ask first), and the holder lets go
 * only once main has said it is about to contend, and 100 ms after. */
static sem_t holding;
static atomic_int contending;

static void *die_holding(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&robust);
    return NULL;   /* exits with the robust mutex held */
}

static void *hold_a_while(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&held);
    pthread_spin_lock(&spin);
    sem_post(&holding);
    while (!atomic_load(&contending))
        usleep(1000);
    usleep(100000);
    pthread_spin_unlock(&spin);
    pthread_mutex_unlock(&held);
    return NULL;
}

int main(void)
{
    pthread_mutex_t ec = made(PTHREAD_MUTEX_ERRORCHECK, 0);
    show("errorcheck lock", pthread_mutex_lock(&ec));
    show("errorcheck relock", pthread_mutex_lock(&ec));
    show("errorcheck trylock", pthread_mutex_trylock(&ec));
    show("errorcheck unlock", pthread_mutex_unlock(&ec));
    show("errorcheck unlock again", pthread_mutex_unlock(&ec));

    pthread_mutex_t rec = made(PTHREAD_MUTEX_RECURSIVE, 0);
    for (int i = 0; i < 3; i++)
        show("recursive lock", pthread_mutex_lock(&rec));
    for (int i = 0; i < 3; i++)
        show("recursive unlock", pthread_mutex_unlock(&rec));
    show("recursive unlock extra", pthread_mutex_unlock(&rec));

    robust = made(PTHREAD_MUTEX_NORMAL, 1);
    pthread_t t;
    pthread_create(&t, NULL, die_holding, NULL);
    pthread_join(t, NULL);
    int rc = pthread_mutex_lock(&robust);
    show("robust lock, owner died", rc);
    if (rc == EOWNERDEAD)
        show("robust consistent", pthread_mutex_consistent(&robust));
    show("robust unlock", pthread_mutex_unlock(&robust));

    held = made(PTHREAD_MUTEX_NORMAL, 0);
    pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE);
    sem_init(&holding, 0, 0);
    pthread_create(&t, NULL, hold_a_while, NULL);
    sem_wait(&holding);
    show("normal trylock, busy", pthread_mutex_trylock(&held));
    show("spin trylock, busy", pthread_spin_trylock(&spin));
    struct timespec past;
    clock_gettime(CLOCK_REALTIME, &past);
    past.tv_sec -= 1;
    show("timedlock, past deadline", pthread_mutex_timedlock(&held, &past));
    struct timespec soon;
    clock_gettime(CLOCK_MONOTONIC, &soon);
    soon.tv_nsec += 10000000;
    if (soon.tv_nsec >= 1000000000) {
        soon.tv_sec++;
        soon.tv_nsec -= 1000000000;
    }
    show("clocklock, 10 ms", pthread_mutex_clocklock(&held, CLOCK_MONOTONIC, &soon));
    atomic_store(&contending, 1);
    show("spin lock, contended", pthread_spin_lock(&spin));
    show("spin unlock", pthread_spin_unlock(&spin));
    show("normal lock, contended", pthread_mutex_lock(&held));
    show("normal unlock", pthread_mutex_unlock(&held));
    pthread_join(t, NULL);
    show("destroy", pthread_mutex_destroy(&held));
    return 0;
}
