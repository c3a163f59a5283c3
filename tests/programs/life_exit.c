/*
 * life_exit MODE [SECONDS] - ends in the way MODE says after leaking exactly
 * 4 x 5000 bytes in exit_leak and printing "before MODE":
 *   return7  return 7 from main       exit3   exit(3)
 *   _exit5   _exit(5)                 _Exit6  _Exit(6)
 *   abort    abort()                  kill    kill(self, SIGKILL)
 *   quick_exit4    quick_exit(4)
 *   pthread_exit0  main calls pthread_exit while a thread still works for
 *                  200 ms; the process ends when it returns (status 0)
 * after sleeping SECONDS (default 0) while allocating, so periodic snapshots
 * (MEMPROF_INTERVAL=1) can be written first.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *volatile sink;

__attribute__((noinline)) static void exit_leak(void)
{
    for (int i = 0; i < 4; i++) {
        char *p = malloc(5000);
        memset(p, 1, 5000);
        sink = p;
    }
}

static void *late_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 40; i++) {
        free(malloc(300));
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *mode = argv[1];
    double secs = argc > 2 ? atof(argv[2]) : 0;
    exit_leak();
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        void *p = malloc(100);
        sink = p;
        free(p);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
    printf("before %s\n", mode);
    fflush(stdout);
    if (strcmp(mode, "return7") == 0)
        return 7;
    if (strcmp(mode, "exit3") == 0)
        exit(3);
    if (strcmp(mode, "_exit5") == 0)
        _exit(5);
    if (strcmp(mode, "_Exit6") == 0)
        _Exit(6);
    if (strcmp(mode, "abort") == 0)
        abort();
    if (strcmp(mode, "kill") == 0)
        kill(getpid(), SIGKILL);
    if (strcmp(mode, "quick_exit4") == 0)
        quick_exit(4);
    if (strcmp(mode, "pthread_exit0") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, late_worker, NULL);
        pthread_exit(NULL);
    }
    return 2;
}
