/*
 * html_growth - the workload behind the HTML report's e2e test: a leak that
 * grows in steps across several snapshots (html_leaky_cache, planted), the
 * baseline's long-lived state that stays flat, and one mutex that two
 * threads contend for (html_contend), so every section of the page has real
 * data; a smaller grower behind an allocator wrapper (html_wrapped_grower). Snapshots: after the baseline, after each of STEPS leak steps, and
 * at exit after one more step (STEPS + 2 files), so the leak grows in every
 * interval.
 */
#include <pthread.h>
#include <stdlib.h>

#include "testprog.h"

#define STEPS 3
#define STEP_BYTES (24 * MiB)

static pthread_mutex_t shared = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long counter;

/* A cache that is only ever added to: entries of 1..8 KiB, chained. */
typedef struct entry {
    struct entry *next;
    size_t size;
} entry;
static entry *cache;

TP_CULPRIT static void html_leaky_cache(tp_tally *t, size_t bytes)
{
    for (size_t added = 0; added < bytes; t->count++) {
        size_t size = 1024 * (1 + t->count % 8);
        entry *e = malloc(size);
        if (!e)
            abort();
        tp_touch(e, size);
        *e = (entry){cache, size};
        cache = e;
        added += size;
        t->bytes += size;
    }
}

/* A project's own allocator wrapper, by a name on the analyzer's built-in
 * list: the growth list names html_wrapped_grower, its caller, as `memprof
 * diff` does, not xmalloc. */
__attribute__((noinline, noclone)) static void *xmalloc(size_t size)
{
    void *p = malloc(size);
    if (!p)
        abort();
    return p;
}

TP_CULPRIT static void html_wrapped_grower(size_t bytes)
{
    static entry *kept;
    for (size_t added = 0; added < bytes; added += 4096) {
        entry *e = xmalloc(4096);
        tp_touch(e, 4096);
        *e = (entry){kept, 4096};
        kept = e;
    }
}

TP_CULPRIT static void html_contend(void)
{
    pthread_mutex_lock(&shared);
    for (int i = 0; i < 2000; i++)
        counter = counter * 2654435761u + 1;
    pthread_mutex_unlock(&shared);
}

static void *contender(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++)
        html_contend();
    return NULL;
}

int main(void)
{
    tp_tally t = {0, 0};
    tp_baseline();
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, contender, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    tp_snapshot();
    for (int i = 0; i <= STEPS; i++) {   /* one call site: one growth row */
        html_leaky_cache(&t, STEP_BYTES);
        html_wrapped_grower(STEP_BYTES / 4);
        churn(16 * MiB, (uint64_t)i + 3);
        if (i < STEPS)
            tp_snapshot();
    }
    tp_report(&t);
    return 0;
}
