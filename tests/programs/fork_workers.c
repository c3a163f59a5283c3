/*
 * A forking server: the parent forks WORKERS workers one after the other;
 * each leaks in worker_leak, half before a snapshot of its own and half
 * after, then exits (the exit snapshot). The parent prints the workers'
 * total as the LEAK line. Given every file, `report` must add up the
 * latest snapshot of each process (parent + workers), so worker_leak holds
 * exactly the total at MEMPROF_SAMPLE=1; summing every file would count the
 * first halves twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testprog.h"

#define WORKERS 3
#define WORKER_LEAK (32 * MiB)

TP_CULPRIT static void worker_leak(tp_tally *t, size_t bytes, uint64_t *seed)
{
    TP_LEAK_MIXED(t, bytes, seed);
}

static void worker(int fd)
{
    tp_tally t = {0, 0};
    uint64_t seed = 21;
    worker_leak(&t, WORKER_LEAK / 2, &seed);
    tp_snapshot();
    worker_leak(&t, WORKER_LEAK, &seed);
    if (write(fd, &t, sizeof(t)) != (ssize_t)sizeof(t))
        exit(4);
    exit(0);
}

int main(void)
{
    tp_tally total = {0, 0};
    churn(8 * MiB, 5);
    for (int i = 0; i < WORKERS; i++) {
        int fds[2];
        if (pipe(fds) != 0)
            abort();
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            abort();
        if (pid == 0) {
            close(fds[0]);
            worker(fds[1]);
        }
        close(fds[1]);
        tp_tally t;
        int status;
        if (read(fds[0], &t, sizeof(t)) != (ssize_t)sizeof(t) || waitpid(pid, &status, 0) != pid ||
            !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "fork_workers: worker %d failed\n", i);
            return 1;
        }
        close(fds[0]);
        total.bytes += t.bytes;
        total.count += t.count;
    }
    tp_report(&total);
    return 0;
}
