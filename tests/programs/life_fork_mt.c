/*
 * life_fork_mt - fork from a multithreaded parent while its other threads
 * allocate and hold a lock (SPEC: "follows fork ... a forked child starts its
 * own <seq> at 0001 and holds only what it allocated itself").
 *
 * Four workers malloc/free in a loop, partly while holding `shared`. The
 * parent leaks PARENT_LEAK in parent_leak(), then forks CHILDREN children at
 * moments when the workers are busy. Each child (one thread, the forking one)
 * churns, leaks exactly CHILD_LEAK bytes in child_leak() and exits 0; the
 * last child lives ~1.5 s so its own collector must write a periodic
 * snapshot (run with MEMPROF_INTERVAL=1). A child that hangs is killed by
 * its alarm (status shows it). Prints "children ok N" and the child pids
 * as "child <pid> <seconds-lived>".
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4
#define CHILDREN 5
#define CHILD_BLOCKS 64
#define CHILD_BLOCK 4096
#define PARENT_LEAK (1 << 20)

static pthread_mutex_t shared = PTHREAD_MUTEX_INITIALIZER;
static atomic_int stop;
static atomic_long ops;
static void *volatile sink;

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    void *keep[32] = {0};
    while (!atomic_load(&stop)) {
        unsigned i = (seed = seed * 1103515245u + 12345u) >> 16;
        size_t size = 16 + i % 5000;
        if (i % 4 == 0) {
            pthread_mutex_lock(&shared);
            void *p = malloc(size);   /* allocation while holding the lock */
            memset(p, 1, size);
            free(keep[i % 32]);
            keep[i % 32] = p;
            pthread_mutex_unlock(&shared);
        } else {
            void *p = malloc(size);
            memset(p, 2, size);
            free(p);
        }
        atomic_fetch_add(&ops, 1);
    }
    for (int k = 0; k < 32; k++)
        free(keep[k]);
    return NULL;
}

__attribute__((noinline)) static void parent_leak(void)
{
    char *p = malloc(PARENT_LEAK);
    memset(p, 3, PARENT_LEAK);
    sink = p;
}

__attribute__((noinline)) static void child_leak(void)
{
    for (int i = 0; i < CHILD_BLOCKS; i++) {
        char *p = malloc(CHILD_BLOCK);
        memset(p, 4, CHILD_BLOCK);
        sink = p;
    }
}

__attribute__((noinline)) static void child_churn(int rounds)
{
    for (int i = 0; i < rounds; i++) {
        void *p = malloc(16 + (size_t)(i % 3000));
        sink = p;
        free(p);
    }
}

static void child_main(int last)
{
    alarm(20);   /* a hang in the child shows as SIGALRM, not a stuck test */
    child_churn(20000);
    child_leak();
    if (last) {
        /* Long enough for the child's own collector to write a periodic
         * snapshot; allocation goes on meanwhile. */
        for (int i = 0; i < 150; i++) {
            child_churn(200);
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    exit(0);
}

int main(void)
{
    pthread_t tid[WORKERS];
    parent_leak();
    for (int i = 0; i < WORKERS; i++)
        if (pthread_create(&tid[i], NULL, worker, (void *)(uintptr_t)(i + 1)) != 0) {
            perror("pthread_create");
            return 2;
        }
    int ok = 0;
    pid_t pids[CHILDREN];
    for (int c = 0; c < CHILDREN; c++) {
        long before = atomic_load(&ops);
        while (atomic_load(&ops) < before + 2000)   /* workers are busy now */
            sched_yield();
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0)
            child_main(c == CHILDREN - 1);
        pids[c] = pid;
    }
    for (int c = 0; c < CHILDREN; c++) {
        int status;
        if (waitpid(pids[c], &status, 0) != pids[c]) {
            perror("waitpid");
            return 2;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
        else
            fprintf(stderr, "child %d: %s %d\n", (int)pids[c],
                    WIFSIGNALED(status) ? "killed by signal" : "exit status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(tid[i], NULL);
    printf("children ok %d\n", ok);
    for (int c = 0; c < CHILDREN; c++)
        fprintf(stderr, "child %d\n", (int)pids[c]);
    return ok == CHILDREN ? 0 : 1;
}
