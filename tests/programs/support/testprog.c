/*
 * testprog.c - see testprog.h.
 */
#include "testprog.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t tp_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

size_t tp_mixed_size(uint64_t *state)
{
    double u = (double)(tp_rand(state) >> 11) / 9007199254740992.0; /* [0, 1) */
    return (size_t)(16.0 * exp2(12.0 * u));
}

void tp_touch(void *p, size_t size)
{
    volatile char *c = p;
    c[0] = 1;
    c[size - 1] = 1;
}

#define CHURN_WINDOW 256

TP_CULPRIT void churn(size_t bytes, uint64_t seed)
{
    void *window[CHURN_WINDOW] = {0};
    size_t done = 0;
    unsigned i = 0;
    while (done < bytes) {
        size_t s = tp_mixed_size(&seed);
        free(window[i % CHURN_WINDOW]);
        window[i % CHURN_WINDOW] = malloc(s);
        if (!window[i % CHURN_WINDOW])
            abort();
        tp_touch(window[i % CHURN_WINDOW], s);
        done += s;
        i++;
    }
    for (unsigned k = 0; k < CHURN_WINDOW; k++)
        free(window[k]);
}

/* Reachable for the whole run: present, unchanged, in both snapshots. */
static void *long_lived[512];

TP_CULPRIT static void keep_long_lived_state(void)
{
    uint64_t seed = 42;
    for (size_t i = 0; i < sizeof(long_lived) / sizeof(long_lived[0]); i++) {
        size_t s = tp_mixed_size(&seed);
        long_lived[i] = malloc(s);
        if (!long_lived[i])
            abort();
        tp_touch(long_lived[i], s);
    }
}

void tp_baseline(void)
{
    keep_long_lived_state();
    churn(64 * MiB, 7);
}

static int count_snapshots(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        /* Only finished files: temporaries are hidden or carry another suffix. */
        if (e->d_name[0] != '.' && len > 6 && strcmp(e->d_name + len - 6, ".mprof") == 0)
            n++;
    }
    closedir(d);
    return n;
}

void tp_snapshot(void)
{
    const char *dir = getenv("MEMPROF_OUT");
    if (!dir || !*dir) {
        fprintf(stderr, "testprog: MEMPROF_OUT is not set; run me through tests/e2e\n");
        exit(2);
    }
    int before = count_snapshots(dir);
    raise(SIGUSR2);
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 1000; i++) {
        if (count_snapshots(dir) > before)
            return;
        nanosleep(&tick, NULL);
    }
    fprintf(stderr, "testprog: no new snapshot in %s 10 s after SIGUSR2\n", dir);
    exit(3);
}

void tp_report(const tp_tally *t)
{
    printf("LEAK bytes=%zu count=%zu\n", t->bytes, t->count);
    fflush(stdout);
}
