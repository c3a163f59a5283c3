/*
 * life_daemon - classic daemonisation: fork, parent exits 0 at once; the
 * child calls setsid, forks again and exits; the grandchild chdirs to /,
 * sets umask 0, points fds 0-2 at /dev/null, allocates (daemon_leak: exactly
 * 8 x 10000 bytes), then creates the file argv[1] (absolute path) and exits.
 * Its snapshots must land in MEMPROF_OUT as resolved at start-up, even when
 * that was relative (the daemon's cwd is / by then).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void *volatile sink;

__attribute__((noinline)) static void daemon_leak(void)
{
    for (int i = 0; i < 8; i++) {
        char *p = malloc(10000);
        memset(p, 1, 10000);
        sink = p;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] != '/') {
        fprintf(stderr, "usage: life_daemon /abs/marker\n");
        return 2;
    }
    printf("starting daemon\n");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return 2;
    if (pid > 0)
        return 0;
    if (setsid() < 0)
        _exit(2);
    pid = fork();
    if (pid < 0)
        _exit(2);
    if (pid > 0)
        _exit(0);
    if (chdir("/") != 0)
        _exit(2);
    umask(0);
    int fd = open("/dev/null", O_RDWR);
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2)
        close(fd);
    daemon_leak();
    usleep(200 * 1000);
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        char line[64];
        int n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
        if (write(fd, line, (size_t)n) != n)
            _exit(3);
        close(fd);
        rename(tmp, argv[1]);
    }
    exit(0);
}
