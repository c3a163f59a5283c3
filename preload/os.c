/*
 * os.c - what the shim asks of the operating system, wrapped once: the
 * clocks, futex waits, a warning line on stderr, descriptors kept out of
 * the application's way, small /proc reads, the definition of a symbol
 * after ours, and the spin lock of the slow paths. Everything here is
 * safe inside someone else's process: no allocation, no stdio buffers.
 */
#include "shim.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint64_t mp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Whether a bare rdtsc is a clock the shim may difference (tick.c,
 * lock_clock.c): the TSC must be invariant (CPUID 0x80000007 EDX bit 8: a
 * constant rate through frequency changes and idle states) and be what the
 * kernel's own clock is made of. An invariant TSC says nothing about the
 * CPUs' counters agreeing (several sockets, some hypervisors), and the
 * kernel checks that they agree: its clocksource is "tsc" only while they
 * do. Or it is "kvm-clock", a KVM guest's clock, which is the host's TSC
 * that KVM keeps in step across the guest's vCPUs, scaled per vCPU (a VM
 * told `clocksource=kvm-clock tsc=unstable` on its command line, as
 * Firecracker's are, says nothing against its TSC). There clock_gettime
 * costs ~27 ns a read and rdtsc ~11: in exact mode that was a fifth of
 * the CPU time of a churning program. A counter of another CPU a little
 * behind makes a difference negative: the readers clamp those to 0.
 */
bool mp_tsc_keeps_time(void)
{
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u ||
        !__get_cpuid(0x80000007u, &a, &b, &c, &d) || !(d & (1u << 8)))
        return false;
    char buf[64];
    if (mp_read_small_file("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                           buf, sizeof(buf)) <= 0)
        return false;
    buf[strcspn(buf, "\n")] = '\0';
    return strcmp(buf, "tsc") == 0 || strcmp(buf, "kvm-clock") == 0;
#else
    return false;
#endif
}

uint64_t mp_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void mp_futex_wait(_Atomic uint32_t *word, uint32_t seen, uint64_t timeout_ns)
{
    struct timespec t = {(time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u)};
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, &t, NULL, 0);
}

void mp_futex_wake(_Atomic uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Set on a thread that has a descriptor table of its own (the collector). */
static MP_TLS int table_private;

bool mp_fd_table_private(void)
{
    return table_private;
}

/* Closes every descriptor of a just unshared table (kernels before 5.9,
 * which lack close_range): what /proc lists, until a pass finds none. */
static void close_inherited(void)
{
    for (bool again = true; again;) {
        again = false;
        int dir = open("/proc/thread-self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
            return;
        char buf[2048];
        long n;
        while ((n = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0) {
            for (long off = 0; off < n;) {
                struct dirent64 *d = (struct dirent64 *)(buf + off);
                off += d->d_reclen;
                char *end;
                long fd = strtol(d->d_name, &end, 10);
                if (*end == '\0' && end != d->d_name && fd != dir) {
                    close((int)fd);
                    again = true;
                }
            }
        }
        close(dir);
    }
}

/*
 * The calling thread gets a descriptor table of its own, holding none of
 * the program's files (a daemon whose parent waits for EOF on its stdout
 * must not be kept alive by us), with /dev/null on 0, 1 and 2 so that the
 * thread's own files never get those numbers. False when the kernel
 * refuses (the thread then shares the program's table as before).
 */
bool mp_fd_private_table(void)
{
    if (table_private)
        return true;
    if (syscall(SYS_close_range, 0u, ~0u, CLOSE_RANGE_UNSHARE) != 0) {
        if (syscall(SYS_unshare, CLONE_FILES) != 0)
            return false;
        close_inherited();
    }
    table_private = 1;
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd == 0) {
        dup2(0, 1);
        dup2(0, 2);
    } else if (fd > 0) {
        close(fd);
    }
    return true;
}

/* The program's stderr as a descriptor of ours, for one write: on a
 * thread with a private table, a copy fetched with pidfd_getfd (Linux
 * 5.6; always permitted within the thread group). -1: none (the main
 * thread is gone, an old kernel): the line is dropped. */
static int program_stderr(void)
{
    if (!table_private)
        return 2;
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pidfd < 0)
        return -1;
    int fd = (int)syscall(SYS_pidfd_getfd, pidfd, 2, 0);
    close(pidfd);
    return fd;
}

/* One line on stderr with write(2): no stdio buffers, no allocation. */
void mp_warn(const char *fmt, ...)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "memprof: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    n = m < 0 ? n : (n + m > (int)sizeof(buf) - 2 ? (int)sizeof(buf) - 2 : n + m);
    buf[n++] = '\n';
    mp_guard++;
    int fd = program_stderr();
    if (fd >= 0) {
        ssize_t rc = write(fd, buf, (size_t)n);
        (void)rc;
    }
    if (fd > 2)
        close(fd);
    mp_guard--;
}

/* Just under the soft limit, where a program only gets once it has nearly
 * every descriptor open, but no higher than 4096: the kernel sizes a
 * process's descriptor table by its highest descriptor. */
int mp_fd_park(int fd)
{
    if (table_private)
        return fd;   /* nobody else uses this table */
    struct rlimit rl;
    long floor = 4096 - 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (long)rl.rlim_cur - 64 < floor)
        floor = (long)rl.rlim_cur - 64;
    if (fd < 0 || fd >= floor || floor < 3)
        return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, (int)floor);
    if (high < 0)
        return fd;
    close(fd);
    return high;
}

ssize_t mp_read_small_file(const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    int fd = mp_fd_park(open(path, O_RDONLY | O_CLOEXEC));
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    return n;
}

/* The kernel's fstatat, for the shim's own checks: the libc name is
 * threadcheck.c's interposer, and its work is for the program's calls. */
int mp_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    return (int)syscall(SYS_newfstatat, dirfd, path, st, flags);
}

long mp_proc_status_value(const char *key)
{
    char buf[4096];
    if (mp_read_small_file("/proc/self/status", buf, sizeof(buf)) <= 0)
        return -1;
    size_t len = strlen(key);
    for (const char *p = buf; (p = strstr(p, key)) != NULL; p += len)
        if ((p == buf || p[-1] == '\n') && p[len] == ':')
            return strtol(p + len + 1, NULL, 10);
    return -1;
}

void *mp_next_symbol(void *_Atomic *slot, const char *name)
{
    void *p = atomic_load_explicit(slot, memory_order_acquire);
    if (!p) {
        p = dlsym(RTLD_NEXT, name);
        atomic_store_explicit(slot, p, memory_order_release);
    }
    return p;
}

/* Spins briefly, then yields: with more runnable threads than cores, the
 * holder may have been preempted inside its critical section, and spinning
 * through our whole time slice only keeps it off the CPU. */
void mp_spin_lock(mp_spinlock *l)
{
    for (unsigned spins = 0; !mp_spin_trylock(l);) {
        while (atomic_load_explicit(&l->v, memory_order_relaxed)) {
            if (++spins < 100)
                mp_cpu_relax();
            else
                sched_yield();
        }
    }
}

/* strerror without its locale and message-catalogue lock, which fork does
 * not reset: a frozen fork child (modules.c) writing a snapshot that fails
 * must not wait on a lock another thread of its parent held. */
const char *mp_strerror(int err)
{
    const char *text = strerrordesc_np(err);
    return text ? text : "unknown error";
}
