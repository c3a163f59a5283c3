/*
 * locks.c - the lock profiler's entry points for the rest of the shim:
 * start-up and the fork child. The parts it brings up or resets, in the
 * order of the data flow: lock_real.c (the real functions), lock_clock.c
 * (the intervals' clock), lock_table.c
 * (which locks were contended), lock_acct.c, lock_held.c and lock_cond.c
 * (the interposers' per-thread and per-cond state), lockagg.c (the collector's
 * totals).
 */
#include "lockstate.h"

void mp_locks_init(void)
{
    lk_clock_init();
    lk_resolve();
}

/* Fork child: the other threads are gone, and with them every waiter,
 * holder and pending event the lock side counted. */
void mp_locks_after_fork_child(void)
{
    lk_table_after_fork_child();
    lk_cond_after_fork_child();
    lk_acct_after_fork_child();
    lk_held_after_fork_child();
    mp_lock_aggregate_reset();
}
