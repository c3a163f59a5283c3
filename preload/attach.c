/*
 * attach.c - profiling a process that was started without the shim: the
 * entry point memprof_attach(), which `memprof attach PID` calls through gdb
 * once it has dlopen'd this library (analyzer/attach_gdb.c). It reads the
 * configuration it is handed (config.c), brings the shim up as mp_init
 * would for a preloaded one, but with the real functions taken from what
 * the program's GOT slots hold, and then rewrites those slots (got.c).
 * Detach is a request to the collector (collector.c), which restores them.
 */
#include "shim.h"

#include "memprof_protocol.h"

#include <stdbool.h>
#include <sys/auxv.h>

/* What a previous attach recorded is forgotten: counting restarts now.
 * Not the application side's lock table, which other threads' hold
 * records point into (a lock contended then keeps its entry, and its
 * acquisition counts go on from there). */
static void at_reset_for_reattach(void)
{
    mp_collector_drain_now();
    mp_stats_reset();
    mp_addrset_clear();
    mp_heap_fold_reset();   /* its peak and series too: "since the attach" */
    mp_collector_reset_schedule();
    mp_lock_aggregate_reset();
}

static int at_start(const char *config)
{
    /* SPEC: under secure execution the shim is inert, attached or not;
     * memprof attach checks first, this is for a gdb driven by hand. */
    if (getauxval(AT_SECURE))
        return MP_ATTACH_SECURE;
    if (!mp_got_loaded_late() || mp_got_active())
        return MP_ATTACH_ALREADY;
    int st = atomic_load(&mp_state);
    if (st != MP_STATE_OFF && st != MP_STATE_FINISHED)
        return MP_ATTACH_ALREADY;
    if (mp_config_parse_lines(config) != 0)
        return MP_ATTACH_BAD_CONFIG;
    if (mp_got_resolve() != 0)
        return MP_ATTACH_NO_SYMBOLS;
    if (mp_stacktab_init() != 0 || mp_addrset_init() != 0 || mp_heap_agg_init() != 0)
        return MP_ATTACH_NO_MEMORY;
    bool again = atomic_load(&mp_attached);
    if (again) {
        mp_collector_stop();   /* the previous collector is gone, socket and all */
        at_reset_for_reattach();
    }
    mp_state_own_process(mp_realtime_ns());   /* the snapshots' start is the attach */
    mp_snapfile_note_owner();   /* its files go where its current user writes */
    mp_modules_refresh();
    mp_unwind_prepare();
    if (!again)
        mp_lifecycle_install();
    atomic_store(&mp_attached, 1);
    atomic_store(&mp_recorded, 1);
    atomic_store(&mp_state, MP_STATE_READY);
    mp_dormant_restart();
    if (mp_collector_start() != 0) {
        atomic_store(&mp_state, MP_STATE_FINISHED);
        return MP_ATTACH_NO_THREAD;
    }
    if (mp_got_patch() != 0) {
        mp_collector_stop();
        atomic_store(&mp_state, MP_STATE_FINISHED);
        return MP_ATTACH_NO_MEMORY;
    }
    return MP_ATTACH_OK;
}

/*
 * The entry point `memprof attach` calls (through gdb) once the library is
 * loaded. Returns an mp_attach_result (memprof_protocol.h); on any failure the process is as
 * it was (nothing patched, no thread).
 */
__attribute__((visibility("default"))) int memprof_attach(const char *config)
{
    static mp_spinlock once;
    if (!mp_spin_trylock(&once))
        return MP_ATTACH_BUSY;
    mp_guard++;
    int rc = at_start(config);
    mp_guard--;
    mp_spin_unlock(&once);
    return rc;
}

