/*
 * init.c - the shim's start-up: reading the configuration (config.c), then
 * bringing up every part in order (mp_init, from our constructor; until it has run,
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
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

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
    snprintf(mp_cfg.malloc_provider, sizeof(mp_cfg.malloc_provider), "%s", where);
}

void mp_init(void)
{
    int expected = MP_STATE_OFF;
    if (!atomic_compare_exchange_strong(&mp_state, &expected, MP_STATE_INITIALIZING))
        return;
    mp_guard++;
    mp_resolve_malloc();
    /* The pass-through exit and exec calls are resolved now even in an
     * inert image (below): resolved on first use, a vfork child's
     * _exit(127) after a failed exec, or an exec from a signal handler,
     * would call dlsym there. A lookup opens and writes nothing. */
    mp_lifecycle_resolve();
    mp_exec_install();
    mp_threadcheck_install();
    /* Secure execution (setuid/setgid, file capabilities): the environment
     * is the invoking user's, the privileges are not. Inert: no MEMPROF_*
     * read, nothing opened or written, no thread; the state stays
     * INITIALIZING, so every interposer passes straight through (SPEC). */
    if (getauxval(AT_SECURE)) {
        mp_guard--;
        return;
    }
    mp_state_own_process(mp_realtime_ns());
    mp_config_read();
    mp_snapfile_note_owner();
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
    mp_signal_install();
    if (mp_cfg.start)
        atomic_store(&mp_recorded, 1);
    atomic_store(&mp_state, mp_cfg.start ? MP_STATE_READY : MP_STATE_DORMANT);
    mp_dormant_restart();
    if (mp_collector_start() != 0)
        mp_warn("cannot start the collector thread; only the exit snapshot will be written");
    mp_guard--;
}

__attribute__((constructor)) static void mp_constructor(void)
{
    if (mp_got_loaded_late())
        return;   /* dlopen'd by `memprof attach`: memprof_attach() starts us */
    mp_init();
}
