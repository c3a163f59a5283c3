/*
 * life_request - a daemon-like program that closes every descriptor it did
 * not open (the shim's request socket among them, as daemons do), then
 * writes a log through the lowest free numbers while leaking in
 * request_leak, until the file named by argv[1] appears (or 30 s pass).
 * "ready" goes to stdout once the descriptors are closed and the log open:
 * `memprof snapshot PID` must then still work (the shim re-creates its
 * socket), and the log must hold only the program's own lines.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void *volatile leaked[100000];

__attribute__((noinline)) static void request_leak(int i)
{
    leaked[i] = malloc(1000);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: life_request STOPFILE LOGFILE\n");
        return 2;
    }
    struct rlimit rl;
    int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
    for (int fd = 3; fd < max; fd++)
        close(fd);
    int log = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log < 0)
        return 3;
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < 100000 && access(argv[1], F_OK) != 0; i++) {
        request_leak(i);
        char line[64];
        int n = snprintf(line, sizeof(line), "line %d\n", i);
        if (write(log, line, (size_t)n) != n)
            return 4;
        usleep(300);
    }
    close(log);
    return 0;
}
