/*
 * liblife_witness.so - preloaded next to the shim by the real-program and
 * lifecycle tests, to learn independently of the shim which processes ran.
 *
 * Every process that loads it (at exec) and every child of fork() appends
 * one line "<pid> <comm>\n" to the file named by LIFE_WITNESS. A test then
 * checks that each of those pids left at least one snapshot. Plain system
 * calls only: no allocation, no stdio, nothing the shim would see.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void witness(void)
{
    const char *path = getenv("LIFE_WITNESS");
    if (!path || !*path)
        return;
    char line[64];
    char digits[24];
    int n = 0;
    long pid = (long)getpid();
    do {
        digits[n++] = (char)('0' + pid % 10);
        pid /= 10;
    } while (pid && n < (int)sizeof(digits));
    int len = 0;
    while (n)
        line[len++] = digits[--n];
    line[len++] = ' ';
    int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t r = read(fd, line + len, sizeof(line) - (size_t)len - 1);
        close(fd);
        if (r > 0) {
            len += (int)r;
            if (line[len - 1] == '\n')
                len--;
        }
    }
    line[len++] = '\n';
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t w = write(fd, line, (size_t)len);
    (void)w;
    close(fd);
}

__attribute__((constructor)) static void witness_init(void)
{
    witness();
    pthread_atfork(NULL, NULL, witness);
}
