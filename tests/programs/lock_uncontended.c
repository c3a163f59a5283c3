/*
 * lock_uncontended.c - one thread locking a lot (mutex, recursive mutex,
 * rwlock, spinlock, successful trylocks, a cond signal nobody waits for):
 * nothing is ever contended, so memprof must list no lock at all.
 */
#include <pthread.h>
#include <stdio.h>

int main(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER, rec;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&rec, &attr);
    pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
    pthread_spinlock_t sp;
    pthread_spin_init(&sp, PTHREAD_PROCESS_PRIVATE);
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    unsigned long n = 0;
    for (int i = 0; i < 1000000; i++) {
        pthread_mutex_lock(&m);
        pthread_mutex_lock(&rec);
        pthread_mutex_lock(&rec);
        n++;
        pthread_mutex_unlock(&rec);
        pthread_mutex_unlock(&rec);
        pthread_mutex_unlock(&m);
        pthread_rwlock_rdlock(&rw);
        pthread_rwlock_unlock(&rw);
        pthread_rwlock_wrlock(&rw);
        pthread_rwlock_unlock(&rw);
        pthread_spin_lock(&sp);
        pthread_spin_unlock(&sp);
        if (pthread_mutex_trylock(&m) == 0)
            pthread_mutex_unlock(&m);
        pthread_cond_signal(&cv);
    }
    pthread_spin_destroy(&sp);
    pthread_mutex_destroy(&rec);
    printf("done %lu\n", n);
    return 0;
}
