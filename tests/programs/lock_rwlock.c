/*
 * lock_rwlock.c - planted rwlock writer contention: four threads take one
 * rwlock for writing in writer_hot (short critical sections), while readers
 * in reader_rare take it for reading now and then.
 */
#include <pthread.h>
#include <stdio.h>

#define NOINLINE __attribute__((noinline, used))
#define ITERATIONS 150000

static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static volatile unsigned long table[64];

static NOINLINE void spin_work(int n)
{
    for (int i = 0; i < n; i++)
        table[i & 63] = table[(i + 1) & 63] * 2654435761u + 1;
}

NOINLINE void writer_hot(void)
{
    pthread_rwlock_wrlock(&table_lock);
    spin_work(200);
    pthread_rwlock_unlock(&table_lock);
}

NOINLINE void reader_rare(void)
{
    pthread_rwlock_rdlock(&table_lock);
    spin_work(20);
    pthread_rwlock_unlock(&table_lock);
}

static void *writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERATIONS; i++) {
        writer_hot();
        if ((i & 1023) == 1023)
            reader_rare();
    }
    return NULL;
}

int main(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, writer, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("done %lu\n", table[0]);
    return 0;
}
