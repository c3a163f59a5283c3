/*
 * sigwatch.c - the snapshot signal (MEMPROF_SIGNAL): its handler, and the
 * sigaction and signal interposers that watch for the program taking it.
 * A program that installs its own handler for the snapshot signal (the JVM
 * takes SIGUSR2) silently ends snapshots on that signal. The shim cannot
 * keep the signal (the program needs it), but it says so, once, at the
 * moment it happens (usually start-up, when the operator is watching).
 */
#include "shim.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

static void on_snapshot_signal(int sig)
{
    (void)sig;
    int saved = errno;
    mp_collector_trigger(MP_TRIGGER_SIGNAL);
    errno = saved;
}

void mp_signal_install(void)
{
    if (!mp_cfg.signal)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_snapshot_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(mp_cfg.signal, &sa, NULL) != 0)
        mp_warn("cannot install the snapshot signal handler: %s", mp_strerror(errno));
}

static void check_takeover(int sig, void (*handler)(int))
{
    static _Atomic int warned;
    if (sig != mp_cfg.signal || sig == 0 || atomic_load(&mp_state) != MP_STATE_READY ||
        handler == on_snapshot_signal || atomic_exchange(&warned, 1))
        return;
    int saved = errno;
    mp_warn("the program installs its own handler for SIG%s (MEMPROF_SIGNAL): snapshots on "
            "that signal stop; use `memprof snapshot %d` or MEMPROF_INTERVAL instead",
            sigabbrev_np(sig) ? sigabbrev_np(sig) : "?", (int)mp_pid);
    errno = saved;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    static void *_Atomic next;
    typeof(&sigaction) fn = (typeof(&sigaction))mp_next_symbol(&next, "sigaction");
    if (!fn) {
        errno = ENOSYS;
        return -1;
    }
    if (act)
        check_takeover(sig, act->sa_handler);
    return fn(sig, act, old);
}

sighandler_t signal(int sig, sighandler_t handler)
{
    static void *_Atomic next;
    typeof(&signal) fn = (typeof(&signal))mp_next_symbol(&next, "signal");
    if (!fn) {
        errno = ENOSYS;
        return SIG_ERR;
    }
    check_takeover(sig, handler);
    return fn(sig, handler);
}
