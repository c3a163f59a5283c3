/*
 * Planted leak from 50 short-lived threads, each leaking in
 * leak_from_thread and exiting before the NEW snapshot: their events must
 * survive the threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "testprog.h"

#define THREADS 50

typedef struct job {
    uint64_t seed;
    tp_tally tally;
} job;

TP_CULPRIT static void leak_from_thread(job *j, size_t bytes)
{
    TP_LEAK_MIXED(&j->tally, bytes, &j->seed);
}

static void *worker(void *arg)
{
    job *j = arg;
    churn(2 * MiB, j->seed);
    leak_from_thread(j, TP_LEAK_BYTES / THREADS);
    return NULL;
}

int main(void)
{
    static job jobs[THREADS];
    pthread_t tid[THREADS];
    tp_tally t = {0, 0};
    tp_baseline();
    tp_snapshot();
    /* Two waves so that some rings are recycled from threads already gone. */
    for (int wave = 0; wave < 2; wave++) {
        for (int i = wave * THREADS / 2; i < (wave + 1) * THREADS / 2; i++) {
            jobs[i].seed = 100 + (uint64_t)i;
            if (pthread_create(&tid[i], NULL, worker, &jobs[i]) != 0) {
                perror("pthread_create");
                return 2;
            }
        }
        for (int i = wave * THREADS / 2; i < (wave + 1) * THREADS / 2; i++)
            pthread_join(tid[i], NULL);
    }
    for (int i = 0; i < THREADS; i++) {
        t.bytes += jobs[i].tally.bytes;
        t.count += jobs[i].tally.count;
    }
    churn(64 * MiB, 3);
    tp_report(&t);
    return 0;
}
