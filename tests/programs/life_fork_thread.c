/*
 * life_fork_thread MODE - a process ends when its last thread of its own
 * ends, however it ends (SPEC "Safety in someone else's process"; issue
 * 16 item 1). A thread forks; in the child that thread (the child's only
 * one, and so its main thread) ends in one of these ways:
 *   return    it returns from its start routine;
 *   threads   it starts two threads, returns from its start routine, and
 *             the child ends when the second of those returns (~200 ms,
 *             and after the first: their lines come in order);
 *   exit      it calls pthread_exit.
 * Each thread of the child allocates (sampled under the shim) and prints a
 * line without flushing: glibc's exit(0) after the last thread flushes it,
 * so the line shows that exit ran where it should, with the child's own
 * stdout. The parent waits up to 5 s for the child, prints
 *   child ended: status 0
 * and exits 0, or prints "child still running after 5 s", kills it and
 * exits 1. The child's lines come first (it ends before the parent prints).
 */
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *mode;
static void *volatile sink;
static sem_t first_done;   /* the second worker prints after the first */

__attribute__((noinline)) static void fork_thread_alloc(int n)
{
    for (int i = 0; i < n; i++) {
        sink = malloc(64 + (size_t)i % 4096);
        free(sink);
    }
}

static void *late_worker(void *arg)
{
    struct timespec t = {0, 100000000L * (long)(uintptr_t)arg};
    nanosleep(&t, NULL);
    fork_thread_alloc(5000);
    if ((uintptr_t)arg == 2)
        sem_wait(&first_done);
    printf("child worker %d done\n", (int)(uintptr_t)arg);   /* no flush: exit(0) does it */
    if ((uintptr_t)arg == 1)
        sem_post(&first_done);
    return NULL;
}

/* The child's only thread. */
static void *child_main(void)
{
    fork_thread_alloc(5000);
    if (strcmp(mode, "threads") == 0) {
        pthread_t t;
        for (uintptr_t i = 1; i <= 2; i++)
            if (pthread_create(&t, NULL, late_worker, (void *)i) != 0 || pthread_detach(t) != 0)
                _exit(3);
    }
    printf("child thread done\n");
    if (strcmp(mode, "exit") == 0)
        pthread_exit(NULL);
    return NULL;
}

static int wait_child(pid_t child)
{
    for (int i = 0; i < 500; i++) {
        int st;
        pid_t got = waitpid(child, &st, WNOHANG);
        if (got == child) {
            printf("child ended: %s %d\n", WIFEXITED(st) ? "status" : "signal",
                   WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
        }
        struct timespec t = {0, 10000000};
        nanosleep(&t, NULL);
    }
    printf("child still running after 5 s\n");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 1;
}

static void *forker(void *arg)
{
    (void)arg;
    fork_thread_alloc(5000);
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        return (void *)(uintptr_t)2;
    if (child == 0)
        return child_main();   /* the child's only thread ends here */
    return (void *)(uintptr_t)wait_child(child);
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "return") && strcmp(argv[1], "threads") &&
                      strcmp(argv[1], "exit"))) {
        fprintf(stderr, "usage: life_fork_thread return|threads|exit\n");
        return 2;
    }
    mode = argv[1];
    sem_init(&first_done, 0, 0);
    pthread_t t;
    void *rc;
    if (pthread_create(&t, NULL, forker, NULL) != 0 || pthread_join(t, &rc) != 0)
        return 2;
    return (int)(uintptr_t)rc;
}
