/*
 * libsec_slowdisk.so - a slow disk for the shim's collector thread, for
 * e2e sec_exit_race: preloaded after the shim, its write() stalls the
 * first write into a snapshot temporary file (".mprof.tmp") made by any
 * thread but the main one for SEC_SLOWDISK_MS, so that the process's exit
 * meets a collector still writing (the main thread gives up waiting for
 * the collector after 3 s). Everything else passes straight through.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_int stalled;

static int is_snapshot_temp(int fd)
{
    char link[64], target[4096];
    /* the calling thread's table: the collector has one of its own */
    snprintf(link, sizeof(link), "/proc/thread-self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n <= 10)
        return 0;
    target[n] = 0;
    return strcmp(target + n - 10, ".mprof.tmp") == 0;
}

ssize_t write(int fd, const void *buf, size_t len)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (!real)
        real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (getpid() != (pid_t)syscall(SYS_gettid) && !atomic_load(&stalled) &&
        is_snapshot_temp(fd) && !atomic_exchange(&stalled, 1)) {
        const char *ms = getenv("SEC_SLOWDISK_MS");
        long v = ms ? atol(ms) : 5000;
        struct timespec t = {v / 1000, (v % 1000) * 1000000L};
        nanosleep(&t, NULL);
    }
    return real(fd, buf, len);
}
