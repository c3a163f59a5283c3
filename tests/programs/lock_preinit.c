/*
 * lock_preinit.c - pthread lock calls before any constructor: the
 * executable's .preinit_array runs before every shared object's
 * initialisers, the shim's included, so its lock hooks meet the table of
 * real functions (lk_real) before mp_locks_init resolved it. Each call
 * there must reach the real function: a locked mutex's trylock is EBUSY
 * (a stand-in would say 0), a held spinlock's trylock too, a write-locked
 * rwlock refuses a reader. Afterwards main plants contention on one mutex
 * (contend_after_preinit), which must still be profiled.
 *
 * Prints "preinit ok" or "preinit FAILED: <what>" and exits 1 on failure.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline, used))

static const char *preinit_failed;
static int preinit_ran;

static void check(int ok, const char *what)
{
    if (!ok && !preinit_failed)
        preinit_failed = what;
}

static void preinit_locks(int argc, char **argv, char **envp)
{
    (void)argc, (void)argv, (void)envp;
    pthread_mutex_t m;
    check(pthread_mutex_init(&m, NULL) == 0, "mutex_init");
    check(pthread_mutex_lock(&m) == 0, "mutex_lock");
    check(pthread_mutex_trylock(&m) == EBUSY, "trylock of a locked mutex is not EBUSY");
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    check(pthread_mutex_timedlock(&m, &at) == ETIMEDOUT, "timedlock of a locked mutex");
    check(pthread_mutex_unlock(&m) == 0, "mutex_unlock");
    check(pthread_mutex_trylock(&m) == 0, "trylock of a free mutex");
    check(pthread_mutex_unlock(&m) == 0, "mutex_unlock after trylock");
    check(pthread_mutex_destroy(&m) == 0, "mutex_destroy");

    pthread_rwlock_t l;
    check(pthread_rwlock_init(&l, NULL) == 0, "rwlock_init");
    check(pthread_rwlock_wrlock(&l) == 0, "rwlock_wrlock");
    check(pthread_rwlock_tryrdlock(&l) == EBUSY, "tryrdlock of a write-locked rwlock");
    check(pthread_rwlock_unlock(&l) == 0, "rwlock_unlock");
    check(pthread_rwlock_rdlock(&l) == 0, "rwlock_rdlock");
    check(pthread_rwlock_unlock(&l) == 0, "rwlock_unlock (reader)");
    check(pthread_rwlock_destroy(&l) == 0, "rwlock_destroy");

    pthread_spinlock_t s;
    check(pthread_spin_init(&s, PTHREAD_PROCESS_PRIVATE) == 0, "spin_init");
    check(pthread_spin_lock(&s) == 0, "spin_lock");
    check(pthread_spin_trylock(&s) == EBUSY, "trylock of a held spinlock");
    check(pthread_spin_unlock(&s) == 0, "spin_unlock");
    check(pthread_spin_destroy(&s) == 0, "spin_destroy");

    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    check(pthread_cond_signal(&c) == 0, "cond_signal");
    check(pthread_cond_broadcast(&c) == 0, "cond_broadcast");
    preinit_ran = 1;
}

__attribute__((section(".preinit_array"), used))
static void (*const preinit_entry)(int, char **, char **) = preinit_locks;

static pthread_mutex_t hot = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long counter;

NOINLINE void contend_after_preinit(void)
{
    pthread_mutex_lock(&hot);
    for (int i = 0; i < 2000; i++)
        counter = counter * 2654435761u + 1;
    pthread_mutex_unlock(&hot);
}

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++)
        contend_after_preinit();
    return NULL;
}

int main(void)
{
    if (!preinit_ran || preinit_failed) {
        printf("preinit FAILED: %s\n", preinit_failed ? preinit_failed : "did not run");
        return 1;
    }
    printf("preinit ok\n");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    return 0;
}
