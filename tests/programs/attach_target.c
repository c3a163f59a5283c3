/*
 * attach_target.c - a program started WITHOUT the shim, for `memprof
 * attach` (tests/e2e/attach_*.sh). Everything it prints is deterministic,
 * so a run that was attached to (and detached from) must print exactly what
 * a plain run prints.
 *
 *   attach_target cmd
 *       Warm-up (tp_baseline), prints READY, then obeys one command per
 *       line on stdin:
 *         leak    leaks TP_LEAK_BYTES in leak_after_attach, prints its LEAK line
 *         churn   allocates and frees 32 MiB, prints CHURNED <n>
 *         plugin PATH  dlopens PATH (libplugin.so), leaks TP_LEAK_BYTES in
 *                 its leak_in_plugin, prints PLUGIN bytes=<N> count=<M>
 *         quit    (or end of input) prints DONE and exits 0
 *
 *   attach_target busy SECONDS [STOPFILE]
 *       Four threads, each in a loop of malloc/free churn (busy_churn) and
 *       a critical section on one shared mutex (busy_locked); main joins
 *       them after SECONDS (or once STOPFILE exists) and prints DONE and
 *       the number of threads.
 *       No thread ever idles in a system call: the attach has to take
 *       the malloc-entry safe point.
 */
#include "testprog.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUSY_THREADS 4

static tp_tally leaked;

#ifdef TP_NOPIE
/* Built a second time without PIE (attach_target_nopie): taking malloc's
 * and free's addresses makes its PLT entries their canonical addresses, as
 * in Debian's /usr/bin/python3 (tests/e2e/attach_nopie.sh). Pointers taken
 * before the attach must still equal the functions after it. */
static void *(*volatile malloc_seen)(size_t) = malloc;
static void (*volatile free_seen)(void *) = free;
#define POINTERS_KEPT (malloc_seen == malloc && free_seen == free)
#else
#define POINTERS_KEPT 1
#endif

TP_CULPRIT static void leak_after_attach(void)
{
    uint64_t rng = 0x5eed;
    TP_LEAK_MIXED(&leaked, TP_LEAK_BYTES, &rng);
}

/* A library loaded after the attach: its calls must be seen too. */
static void leak_in_plugin_of(const char *path)
{
    static tp_tally t;
    void *h = dlopen(path, RTLD_NOW);
    void (*leak)(tp_tally *, size_t) = h ? (void (*)(tp_tally *, size_t))dlsym(h, "leak_in_plugin") : NULL;
    if (!leak) {
        printf("PLUGIN error %s\n", dlerror());
        return;
    }
    leak(&t, TP_LEAK_BYTES);
    printf("PLUGIN bytes=%zu count=%zu\n", t.bytes, t.count);
    fflush(stdout);
}

static int run_commands(void)
{
    char line[64];
    int churns = 0;
    tp_baseline();
    printf("READY\n");
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin)) {
        if (strncmp(line, "leak", 4) == 0) {
            leak_after_attach();
            tp_report(&leaked);
        } else if (strncmp(line, "churn", 5) == 0) {
            churn(32 * MiB, (uint64_t)++churns);
            printf("CHURNED %d\n", churns);
            fflush(stdout);
        } else if (strncmp(line, "plugin ", 7) == 0) {
            line[strcspn(line, "\n")] = '\0';
            leak_in_plugin_of(line + 7);
        } else if (strncmp(line, "quit", 4) == 0) {
            break;
        }
    }
    printf("DONE%s\n", POINTERS_KEPT ? "" : " (function pointers changed)");
    return 0;
}

static pthread_mutex_t busy_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long busy_counter;
static volatile int busy_stop;

TP_CULPRIT static void busy_locked(void)
{
    pthread_mutex_lock(&busy_lock);
    for (int i = 0; i < 300; i++)
        busy_counter = busy_counter * 2654435761u + 1;
    pthread_mutex_unlock(&busy_lock);
}

TP_CULPRIT static void busy_churn(uint64_t *rng)
{
    void *p[16];
    for (int i = 0; i < 16; i++) {
        size_t n = tp_mixed_size(rng);
        p[i] = malloc(n);
        tp_touch(p[i], n < 64 ? n : 64);
    }
    for (int i = 0; i < 16; i++)
        free(p[i]);
}

static void *busy_thread(void *arg)
{
    uint64_t rng = (uintptr_t)arg + 1;
    while (!busy_stop) {
        busy_churn(&rng);
        busy_locked();
    }
    return NULL;
}

static int run_busy(double seconds, const char *stopfile)
{
    pthread_t t[BUSY_THREADS];
    for (int i = 0; i < BUSY_THREADS; i++)
        pthread_create(&t[i], NULL, busy_thread, (void *)(uintptr_t)i);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t rng = 99;
    for (unsigned i = 1;; i++) {   /* main churns too: no thread of ours sleeps */
        busy_churn(&rng);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 >= seconds)
            break;
        if (stopfile && i % 256 == 0 && access(stopfile, F_OK) == 0)
            break;
    }
    busy_stop = 1;
    for (int i = 0; i < BUSY_THREADS; i++)
        pthread_join(t[i], NULL);
    printf("DONE %d threads\n", BUSY_THREADS);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "cmd") == 0)
        return run_commands();
    if (argc >= 3 && strcmp(argv[1], "busy") == 0)
        return run_busy(atof(argv[2]), argc > 3 ? argv[3] : NULL);
    fprintf(stderr, "usage: attach_target cmd | attach_target busy SECONDS\n");
    return 2;
}
