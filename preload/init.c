/*
 * init.c - the shim's lifecycle: finding the real allocator, reading the
 * configuration, start-up, fork, and the final snapshot at exit.
 */
#include "shim.h"

#include <dlfcn.h>
#include <link.h>
#include <sched.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void *first_malloc(size_t size);
static void first_free(void *p);

/* malloc and free start at stubs that resolve the table, so their hooks
 * never test for NULL (see malloc_hooks.c). */
mp_real_fns mp_real = {.malloc = first_malloc, .free = first_free};

static void *first_malloc(size_t size)
{
    mp_resolve_malloc();
    if (mp_real.malloc != first_malloc)
        return mp_real.malloc(size);
    return mp_boot_alloc(size, 16);   /* called from inside dlsym */
}

static void first_free(void *p)
{
    mp_resolve_malloc();
    if (mp_real.free != first_free)
        mp_real.free(p);
    /* else: inside dlsym, before free is known; leaking beats crashing */
}
static uint64_t start_realtime_ns;

uint64_t mp_start_realtime_ns(void)
{
    return start_realtime_ns;
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
    ssize_t rc = write(2, buf, (size_t)n);
    (void)rc;
    mp_guard--;
}

/*
 * dlsym may allocate (dlerror state); those nested calls see mp_real still
 * empty and are served by the bootstrap arena. The table is filled in a
 * local copy and published at once so no call sees half of it.
 */
void mp_resolve_malloc(void)
{
    static _Atomic int resolving;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&resolving, &expected, 1))
        return;
    mp_real_fns r;
#define RESOLVE(field, name) *(void **)&r.field = dlsym(RTLD_NEXT, name)
    RESOLVE(malloc, "malloc");
    RESOLVE(calloc, "calloc");
    RESOLVE(realloc, "realloc");
    RESOLVE(free, "free");
    RESOLVE(posix_memalign, "posix_memalign");
    RESOLVE(aligned_alloc, "aligned_alloc");
    RESOLVE(memalign, "memalign");
    RESOLVE(valloc, "valloc");
    RESOLVE(pvalloc, "pvalloc");
    RESOLVE(reallocarray, "reallocarray");
    RESOLVE(free_sized, "free_sized");
    RESOLVE(free_aligned_sized, "free_aligned_sized");
    RESOLVE(usable_size, "malloc_usable_size");
#undef RESOLVE
    if (!r.malloc || !r.free)
        return;   /* no allocator after us: stay on the bootstrap arena */
    mp_real = r;
}

/* ---- configuration ---- */

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || s[0] == '-')
        return false;
    *out = v;
    return true;
}

static int parse_signal(const char *s)
{
    uint64_t n;
    if (parse_u64(s, &n))
        return n > 0 && n < (uint64_t)NSIG && n != SIGKILL && n != SIGSTOP ? (int)n : -1;
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    static const struct { const char *name; int sig; } names[] = {
        {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP}, {"INT", SIGINT},
        {"QUIT", SIGQUIT}, {"TERM", SIGTERM}, {"ALRM", SIGALRM}, {"WINCH", SIGWINCH},
        {"URG", SIGURG}, {"PROF", SIGPROF}, {"VTALRM", SIGVTALRM}, {"PWR", SIGPWR},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].sig;
    if (strncmp(s, "RTMIN+", 6) == 0 && parse_u64(s + 6, &n) && SIGRTMIN + (int)n <= SIGRTMAX)
        return SIGRTMIN + (int)n;
    return -1;
}

static void read_u64_env(const char *name, uint64_t lo, uint64_t hi, uint64_t *dst)
{
    const char *v = getenv(name);
    uint64_t n;
    if (!v)
        return;
    if (parse_u64(v, &n) && n >= lo && n <= hi)
        *dst = n;
    else
        mp_warn("invalid %s=%s (expected an integer in %llu..%llu), using %llu", name, v,
                (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)*dst);
}

static void read_config(void)
{
    uint64_t v = mp_cfg.sample_bytes;
    read_u64_env("MEMPROF_SAMPLE", 1, 1ull << 40, &v);
    mp_cfg.sample_bytes = v;
    v = mp_cfg.interval_s;
    read_u64_env("MEMPROF_INTERVAL", 0, 365ull * 86400, &v);
    mp_cfg.interval_s = (unsigned)v;
    v = (uint64_t)mp_cfg.locks;
    read_u64_env("MEMPROF_LOCKS", 0, 1, &v);
    mp_cfg.locks = (int)v;
    v = (uint64_t)mp_cfg.depth;
    read_u64_env("MEMPROF_DEPTH", 1, MP_MAX_DEPTH, &v);
    mp_cfg.depth = (int)v;

    const char *sig = getenv("MEMPROF_SIGNAL");
    if (sig && *sig) {
        int s = parse_signal(sig);
        if (s < 0)
            mp_warn("invalid MEMPROF_SIGNAL=%s (expected e.g. USR2, SIGUSR2 or 12), no signal trigger", sig);
        mp_cfg.signal = s < 0 ? 0 : s;
    }

    const char *out = getenv("MEMPROF_OUT");
    if (!out || !*out)
        out = ".";
    if (out[0] == '/' || !getcwd(mp_cfg.out_dir, sizeof(mp_cfg.out_dir) - 2)) {
        snprintf(mp_cfg.out_dir, sizeof(mp_cfg.out_dir), "%s", out);
    } else {
        size_t n = strlen(mp_cfg.out_dir);
        snprintf(mp_cfg.out_dir + n, sizeof(mp_cfg.out_dir) - n, "/%s", out);
    }

    const char *prog = program_invocation_short_name;
    snprintf(mp_cfg.prog, sizeof(mp_cfg.prog), "%s", prog && *prog ? prog : "unknown");
    for (char *c = mp_cfg.prog; *c; c++)
        if (*c == '/' || *c == ' ')
            *c = '_';
}

/* ---- signals, fork, exit ---- */

static void on_snapshot_signal(int sig)
{
    (void)sig;
    int saved = errno;
    mp_request_snapshot(MP_TRIGGER_SIGNAL);
    errno = saved;
}

static void install_signal(void)
{
    if (!mp_cfg.signal)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_snapshot_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(mp_cfg.signal, &sa, NULL) != 0)
        mp_warn("cannot install the snapshot signal handler: %s", strerror(errno));
}

static void atfork_prepare(void)
{
    mp_guard++;
    mp_modules_lock();   /* the child must not inherit it mid-update */
}

static void atfork_parent(void)
{
    mp_modules_unlock();
    mp_guard--;
}

/* The child keeps the stack table (shared history) and nothing else: it
 * reports only what it allocates itself, under its own pid and seq. */
static void atfork_child(void)
{
    mp_modules_after_fork_child();
    if (atomic_load(&mp_state) == MP_STATE_READY) {
        mp_pid = getpid();
        start_realtime_ns = mp_realtime_ns();
        mp_stats_reset();
        mp_rings_after_fork_child();
        mp_addrset_clear();
        mp_aggregates_reset();
        mp_locks_after_fork_child();
        mp_snapshot_reset_seq();
        mp_collector_after_fork_child();
    }
    mp_guard--;
}

void mp_register_fork_handlers(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/*
 * A program that links its own allocator (jemalloc, tcmalloc, mimalloc)
 * defines malloc itself, and its definition precedes ours in the lookup
 * order, so its allocations never reach us. Compare modules, not addresses
 * (inside this library `malloc` resolves through the GOT to the winner),
 * and ignore an undefined symbol whose value is merely the executable's
 * PLT slot for malloc (non-PIC code taking malloc's address), which leads
 * back to us.
 */
static void warn_if_foreign_malloc(void)
{
    void *found = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info, self;
    const ElfW(Sym) *sym = NULL;
    if (!found || !dladdr1(found, &info, (void **)&sym, RTLD_DL_SYMENT) ||
        !dladdr((void *)mp_init, &self) || info.dli_fbase == self.dli_fbase)
        return;
    if (sym && sym->st_shndx == SHN_UNDEF)
        return;
    const char *where = info.dli_fname && *info.dli_fname ? info.dli_fname : "the program";
    mp_warn("malloc is provided by %s, not by libc; allocations made through it are "
            "not profiled", where);
}

void mp_init(void)
{
    int expected = MP_STATE_OFF;
    if (!atomic_compare_exchange_strong(&mp_state, &expected, MP_STATE_INITIALIZING))
        return;
    mp_guard++;
    mp_resolve_malloc();
    start_realtime_ns = mp_realtime_ns();
    mp_pid = getpid();
    read_config();
    if (mp_stacktab_init() != 0 || mp_addrset_init() != 0) {
        mp_warn("cannot reserve memory for the profiler; profiling is off");
        mp_guard--;
        return;   /* state stays INITIALIZING: every hook passes through */
    }
    warn_if_foreign_malloc();
    mp_modules_refresh();
    mp_unwind_prepare();
    if (mp_cfg.locks)
        mp_locks_init();
    mp_register_fork_handlers();
    install_signal();
    atomic_store(&mp_state, MP_STATE_READY);
    if (mp_collector_start() != 0)
        mp_warn("cannot start the collector thread; only the exit snapshot will be written");
    mp_guard--;
}

/* Final snapshot. Runs once, in the process that owns the state: a vfork
 * child calling _exit shares our memory but is not us. */
static void mp_finish(void)
{
    static _Atomic int done;
    if (atomic_load(&mp_state) != MP_STATE_READY || getpid() != mp_pid)
        return;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&done, &expected, 1))
        return;
    lk_flush_pending();
    mp_guard++;
    mp_collector_stop();
    atomic_store(&mp_state, MP_STATE_FINISHED);
    mp_collector_drain_now();
    mp_write_snapshot(MP_TRIGGER_EXIT, NULL, 0);
    mp_guard--;
}

__attribute__((constructor)) static void mp_constructor(void)
{
    if (mp_attach_loaded_late())
        return;   /* dlopen'd by `memprof attach`: memprof_attach() starts us */
    mp_init();
}

__attribute__((destructor)) static void mp_destructor(void)
{
    mp_finish();
}

static _Noreturn void real_exit(void *_Atomic *slot, const char *name, int status)
{
    void (*fn)(int) = (void (*)(int))mp_next_symbol(slot, name);
    if (fn)
        fn(status);
    for (;;)
        syscall(SYS_exit_group, status);
}

void _exit(int status)
{
    static void *_Atomic next;
    mp_finish();
    real_exit(&next, "_exit", status);
}

void _Exit(int status)
{
    static void *_Atomic next;
    mp_finish();
    real_exit(&next, "_Exit", status);
}

/* The kernel refuses a new user namespace to a process with more than one
 * thread, and the collector is one: it steps aside for the call. */
int unshare(int flags)
{
    static void *_Atomic next;
    int (*real_unshare)(int) = (int (*)(int))mp_next_symbol(&next, "unshare");
    if (!real_unshare) {
        errno = ENOSYS;
        return -1;
    }
    bool step_aside = (flags & CLONE_NEWUSER) && atomic_load(&mp_state) == MP_STATE_READY &&
                      getpid() == mp_pid && atomic_load(&mp_collector_running);
    if (step_aside)
        mp_collector_stop();
    int rc = real_unshare(flags);
    int err = errno;
    /* The joined collector can linger in the thread group for a moment
     * after its join returns; a program that really is multi-threaded
     * still gets EINVAL, 50 ms later. */
    for (int i = 0; step_aside && rc != 0 && err == EINVAL && i < 50; i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        rc = real_unshare(flags);
        err = errno;
    }
    if (step_aside && mp_collector_start() != 0)
        mp_warn("cannot restart the collector thread after unshare");
    errno = err;
    return rc;
}

/* quick_exit skips the destructors, so the exit snapshot is taken here. */
void quick_exit(int status)
{
    static void *_Atomic next;
    mp_finish();
    real_exit(&next, "quick_exit", status);
}

/* The main thread leaving with pthread_exit leaves the process to its other
 * threads; the collector ends it when they are gone (collector.c). */
void pthread_exit(void *retval)
{
    if (getpid() == (pid_t)syscall(SYS_gettid))
        mp_collector_note_main_exit();
    static void *_Atomic next;
    void (*fn)(void *) = (void (*)(void *))mp_next_symbol(&next, "pthread_exit");
    if (fn)
        fn(retval);
    for (;;)
        syscall(SYS_exit, 0);
}
