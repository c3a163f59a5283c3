/*
 * state.c - the shim's global state, defined in one place so that unit tests
 * can link single concerns (ring.c, sampler.c) without the interposers.
 */
#include "shim.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

mp_config mp_cfg = {
    .sample_bytes = MP_DEFAULT_SAMPLE,
    .interval_s = MP_DEFAULT_INTERVAL,
    .locks = 1,
    .depth = MP_DEFAULT_DEPTH,
};
_Atomic int mp_state = MP_STATE_OFF;
pid_t mp_pid;
MP_TLS int mp_guard;
MP_TLS int mp_in_hook;
mp_stats_shard mp_stats_sh[MP_STAT_SHARDS];
MP_TLS unsigned mp_stat_slot;
static _Atomic unsigned stat_next_slot;

unsigned mp_stat_slot_assign(void)
{
    unsigned n = atomic_fetch_add_explicit(&stat_next_slot, 1, memory_order_relaxed);
    mp_stat_slot = n % MP_STAT_SHARDS + 1;
    return mp_stat_slot;
}

uint64_t mp_stat_total(size_t offset)
{
    uint64_t sum = 0;
    for (int i = 0; i < MP_STAT_SHARDS; i++) {
        _Atomic uint64_t *c = (_Atomic uint64_t *)((char *)&mp_stats_sh[i].s + offset);
        sum += atomic_load_explicit(c, memory_order_relaxed);
    }
    return sum;
}

void mp_stats_reset(void)
{
    memset(mp_stats_sh, 0, sizeof(mp_stats_sh));
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

uint64_t mp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mp_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Just under the soft limit, where a program only gets once it has nearly
 * every descriptor open, but no higher than 4096: the kernel sizes a
 * process's descriptor table by its highest descriptor. */
int mp_fd_park(int fd)
{
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

void *mp_next_symbol(void *_Atomic *slot, const char *name)
{
    void *p = atomic_load_explicit(slot, memory_order_acquire);
    if (!p) {
        p = dlsym(RTLD_NEXT, name);
        atomic_store_explicit(slot, p, memory_order_release);
    }
    return p;
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

void mp_futex_wait(_Atomic uint32_t *word, uint32_t seen, uint64_t timeout_ns)
{
    struct timespec t = {(time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u)};
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, &t, NULL, 0);
}

void mp_futex_wake(_Atomic uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
