/*
 * init.c - the shim's start-up: reading the configuration, then bringing
 * up every part in order (mp_init, from our constructor; until it has run,
 * every interposer passes straight through). What happens at fork and exit
 * is lifecycle.c's.
 */
#include "shim.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* ---- the snapshot signal ---- */

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
    mp_state_own_process(mp_realtime_ns());
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
    mp_lifecycle_install();
    install_signal();
    atomic_store(&mp_state, MP_STATE_READY);
    if (mp_collector_start() != 0)
        mp_warn("cannot start the collector thread; only the exit snapshot will be written");
    mp_guard--;
}

__attribute__((constructor)) static void mp_constructor(void)
{
    mp_init();
}
