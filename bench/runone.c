/*
 * bench/runone.c - run a command and report its peak RSS, for scripts/bench.
 *
 *   runone RESULT_FD PROG [ARGS...]
 *
 * Forks, execs PROG, waits with wait4 and writes "<exit status> <ru_maxrss
 * KiB> <wall ns> <user+system CPU ns>" to file descriptor RESULT_FD; exits 0 unless it could not
 * run PROG. Exists because ru_maxrss carries the high-water mark of the
 * process image before exec: a child forked straight from the Python
 * harness (~16 MiB) would report at least the harness's RSS. This launcher
 * is linked statically and is a few hundred KiB resident, below any
 * workload's peak.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: runone RESULT_FD PROG [ARGS...]\n");
        return 125;
    }
    int fd = atoi(argv[1]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0)
        return 125;
    if (pid == 0) {
        close(fd);
        execvp(argv[2], argv + 2);
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            return 125;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    long long ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    long long cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
                    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
    /* fifth: context switches (voluntary + involuntary): a profiler that
     * lengthens critical sections turns spins into futex sleeps */
    dprintf(fd, "%d %ld %lld %lld %ld\n", code, ru.ru_maxrss, ns, cpu,
            ru.ru_nvcsw + ru.ru_nivcsw);
    return 0;
}
