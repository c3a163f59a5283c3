/*
 * collector.c - the background thread that owns all aggregation and I/O:
 * its life (started lazily, leaving, stopping, in a fork child) and its
 * loop.
 *
 * It drains every thread's ring into the aggregates (heap_agg.c for the
 * heap, lockagg.c for the locks), and writes a snapshot when a trigger fires:
 * the interval timer, the snapshot signal (whose handler only sets a flag),
 * or a request from `memprof snapshot PID` (request.c serves them).
 *
 * It runs with every signal blocked (so it never steals the program's
 * signals), with the reentrancy guard set (so nothing it does is profiled),
 * and never takes a lock the application could hold.
 *
 * It holds no descriptor the program can see (SPEC "Safety in someone
 * else's process"): it starts by giving itself a descriptor table of its
 * own (os.c, mp_fd_private_table), and its request socket, its snapshot
 * files and its doorbell live there.
 *
 * It never polls (SPEC: a process that does nothing costs nothing): it
 * sleeps on its doorbell and the request socket (doorbell.c), with a
 * timeout that ends when the next periodic snapshot is due (none: no
 * timeout). Its place in glibc's thread count is thread_count.c's.
 */
#include "shim.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REOPEN_RETRY_MS 1000   /* no request socket (name taken): retry this often */
#define MAIN_EXIT_CHECK_MS 50  /* no thread count of glibc's (thread_count.c) */
#define BUSY_DRAINED 64        /* drained more than this: go round again at once */

static pthread_t collector_thread;
static bool collector_joinable;   /* started here and not yet joined */
static _Atomic int stop_requested;
static _Atomic uint32_t thread_exited;   /* a futex word: stop waits on it */
static _Atomic int main_exited;   /* the main thread called pthread_exit */
static _Atomic int pending_trigger;          /* mp_trigger or 0 */
static _Atomic int detached;   /* `memprof detach` served: the loop ends */

/* ---- aggregation ---- */

/* Every event drained goes to its side's aggregates. */
static void fold_event(const mp_event *ev, void *ctx)
{
    (void)ctx;
    if (ev->type >= MP_EV_LOCK_WAIT)
        mp_lock_aggregate(ev);
    else
        mp_heap_fold(ev);
}

void mp_collector_drain_now(void)
{
    while (mp_rings_drain(fold_event, NULL) > 0)
        ;
}

/* ---- triggers ---- */

/* Async-signal-safe: the snapshot signal's handler calls it. */
void mp_collector_trigger(int trigger)
{
    atomic_store(&pending_trigger, trigger);
    mp_wake_collector();
}

/* Milliseconds poll() may sleep until deadline (UINT64_MAX: none), -1 for
 * no timeout; at most cap_ms when cap_ms >= 0. */
static int sleep_ms(uint64_t now, uint64_t deadline, int cap_ms)
{
    int ms = -1;
    if (deadline != UINT64_MAX) {
        uint64_t left = deadline > now ? (deadline - now + 999999u) / 1000000u : 0;
        ms = left > 86400000u ? 86400000 : (int)left;
    }
    if (cap_ms >= 0 && (ms < 0 || ms > cap_ms))
        ms = cap_ms;
    return ms;
}

/* Whether this collector serves requests (not a transient one). */
static bool solo(void);

/* Sleeps until a doorbell, a request, or deadline; when busy (a pass
 * drained a lot) only looks at what is there. Then serves requests. */
static void wait_for_work(size_t drained, uint32_t seen, uint64_t deadline)
{
    uint64_t now = mp_now_ns();
    bool serving = !solo();
    int cap = !mp_thread_count_known() && atomic_load(&main_exited) ? MAIN_EXIT_CHECK_MS : -1;
    if (serving && !mp_request_listening() && (cap < 0 || cap > REOPEN_RETRY_MS))
        cap = REOPEN_RETRY_MS;
    struct pollfd p[MP_REQUEST_PENDING_MAX + 2];
    int n = serving ? mp_request_pollfds(p, &deadline) : 0;
    int ms = drained > BUSY_DRAINED ? 0 : sleep_ms(now, deadline, cap);
    if (ms != 0) {
        mp_rings_collector_sleeps();   /* a lone producer folds meanwhile (ring.c) */
        mp_doorbell_sleep(p, n, ms, seen, mp_request_listening());
        mp_rings_collector_wakes();
    }
    if (serving && mp_request_serve(mp_now_ns(), mp_collector_drain_now)) {
        atomic_store(&detached, 1);
        atomic_store(&stop_requested, 1);
    }
}

/*
 * The thread exists only while the program has threads of its own (SPEC:
 * the shim must not break programs that check they are single-threaded,
 * Chromium's zygote, unshare(CLONE_NEWUSER), Python's fork warning). It
 * is started by the program's first pthread_create and stays. In a
 * single-threaded program the program's own thread does the collector's
 * cheap work on its slow paths (ring.c calls on_producer for every event
 * it pushes while no collector runs): a full ring is drained there (CPU
 * only, no I/O), and at most every SOLO_CHECK_NS it looks whether a
 * snapshot is due or a trigger pending; then a collector thread is
 * started for that work alone and leaves again when it is done
 * (leave_if_solo). So a single-threaded program sees a second thread only
 * while a snapshot is written.
 *
 * The price: such a process has no request socket (it would need a
 * thread to hold it outside the program's descriptors), and `memprof
 * snapshot` says so; a periodic snapshot waits for its next sampled
 * allocation. Where the user asked for snapshots on a schedule or a
 * signal (MEMPROF_INTERVAL or MEMPROF_SIGNAL set in the environment),
 * and in an attached or dormant process (there to be asked), the thread
 * runs from the start, as it always did; only the defaults (the exit
 * snapshot) get the lazy thread.
 *
 * A transient collector and the program's one thread meet, because
 * neither may end while the other thinks it is the last (thread_count.c):
 * in leave_if_solo, on_thread_ending and main's pthread_exit
 * (mp_collector_note_main_exit) either the collector stays, and is
 * stopped by the thread's exit(0), or the thread waits until the
 * collector is gone. The one window left is a detach (`memprof detach`)
 * at the very moment the program's last thread ends by returning from its
 * start routine.
 */
#define SOLO_CHECK_NS 100000000ull

static _Atomic int program_threaded;   /* the program created a thread */
static _Atomic int armed;              /* mp_collector_start succeeded */
static _Atomic uint64_t next_periodic = UINT64_MAX;
static mp_spinlock start_lock;         /* taken by application threads only */
static _Atomic int leaving;   /* a transient collector is on its way out */
static _Atomic int solo_ending;   /* a single-threaded program's thread is ending */

static _Atomic int schedule_asked;   /* MEMPROF_INTERVAL or MEMPROF_SIGNAL set, attached, dormant */
/* The program counted its threads (mp_collector_unschedule): no schedule
 * again, after an unshare or in a fork child either. */
static _Atomic int threads_counted;

static bool solo(void)
{
    return !atomic_load(&program_threaded) && !atomic_load(&schedule_asked) &&
           !atomic_load(&main_exited);
}

static void schedule_periodic(void)
{
    uint64_t interval_ns = (uint64_t)mp_cfg.interval_s * 1000000000ull;
    atomic_store(&next_periodic, interval_ns ? mp_now_ns() + interval_ns : UINT64_MAX);
}

/* A transient collector (single-threaded program) leaves when its work is
 * done. "Running" is given up first and taken back if the program created
 * a thread meanwhile and nobody else claimed it: exactly one collector
 * stays for a threaded program. "leaving" is set before solo() is looked
 * at again, and main's pthread_exit sets main_exited before it looks at
 * "leaving": either we stay, or it waits for us to be gone. */
static bool leave_if_solo(void)
{
    if (!solo())
        return false;
    atomic_store(&leaving, 1);
    if (atomic_load(&solo_ending)) {   /* its exit(0) stops us */
        atomic_store(&leaving, 0);
        return false;
    }
    atomic_store(&mp_collector_running, 0);
    int expected = 0;
    if (!solo() &&
        atomic_compare_exchange_strong(&mp_collector_running, &expected, 1)) {
        atomic_store(&leaving, 0);
        return false;
    }
    return true;
}

/* One pass's triggers: a pending one, or the interval timer. */
static void take_snapshots(uint64_t now)
{
    int trigger = atomic_exchange(&pending_trigger, 0);
    /* Dormant: the timer is not a reason to write the same file again. */
    bool recording = atomic_load(&mp_state) == MP_STATE_READY;
    if (!trigger && now >= atomic_load(&next_periodic) && recording)
        trigger = MP_TRIGGER_INTERVAL;
    if (trigger) {
        mp_collector_drain_now();
        mp_write_snapshot(trigger, NULL, 0);
        if (trigger == MP_TRIGGER_INTERVAL || now >= atomic_load(&next_periodic))
            schedule_periodic();
    }
    if (!recording && atomic_load(&next_periodic) <= now)
        schedule_periodic();
}

/* Modules are rescanned by every snapshot and by the dlclose interposer
 * around the call (modules.c); here only for an attached process. */
#define MODULE_RESCAN_NS 1000000000ull

static void collector_loop(void)
{
    uint64_t next_rescan = mp_now_ns() + MODULE_RESCAN_NS;
    while (!atomic_load(&stop_requested)) {
        uint32_t seen = atomic_load_explicit(&mp_collector_wake, memory_order_acquire);
        size_t drained = mp_rings_drain(fold_event, NULL);
        atomic_fetch_add_explicit(&mp_collector_heartbeat, 1, memory_order_relaxed);
        uint64_t now = mp_now_ns();
        mp_heap_series_note(now);   /* heap over time: when awake anyway */
        take_snapshots(now);
        /* An attached process: a library dlopen'd through a caller with a
         * RUNPATH passes got.c's hook unpatched and is patched here. Only
         * attached processes pay for this wake-up. */
        if (mp_got_active() && now >= next_rescan) {
            mp_modules_refresh();
            mp_got_rescan();
            next_rescan = now + MODULE_RESCAN_NS;
        }
        if (!mp_thread_count_known() && atomic_load(&main_exited) &&
            mp_thread_count_only_collector_left())
            exit(0);   /* runs the exit snapshot here (mp_finish) */
        if (atomic_load(&stop_requested))
            break;
        if (solo() && atomic_load(&pending_trigger) == 0 && leave_if_solo())
            return;
        uint64_t due = atomic_load(&next_periodic);
        if (mp_got_active() && next_rescan < due)
            due = next_rescan;
        /* Heap over time: while events arrive, wake for the series' next
         * point; once a pass finds nothing, doze until there is work (the
         * first event pushed into an empty ring rings the doorbell). */
        if (drained) {
            uint64_t point = mp_heap_series_due();
            if (point < due)
                due = point;
        } else {
            atomic_store(&mp_collector_dozing, 1);
            if (mp_rings_drain(fold_event, NULL))   /* one slipped in before the flag */
                due = now;
        }
        wait_for_work(drained, seen, due);
        atomic_store(&mp_collector_dozing, 0);
    }
}

/* The collector's own table: its doorbell, and its request socket unless
 * it is a transient one (a single-threaded program has no request channel:
 * it would come and go with each snapshot). */
static void collector_setup(void)
{
    mp_fd_private_table();
    mp_doorbell_listen();
    if (!solo())
        mp_request_open();
}

/* Leaving: nothing of ours stays open (a private table goes with the
 * thread; without one, the socket is closed here), and no doorbell is
 * sent to a thread id that may be reused. */
static void collector_teardown(void)
{
    mp_request_close();
    mp_doorbell_close();
}

static void *collector_main(void *arg)
{
    (void)arg;
    mp_guard = 1;
    collector_setup();
    collector_loop();
    collector_teardown();
    if (atomic_load(&stop_requested))
        atomic_store(&mp_collector_running, 0);
    bool was_detached = atomic_exchange(&detached, 0);
    if (was_detached) {
        collector_joinable = false;   /* nobody will join us: leave no zombie */
        pthread_detach(pthread_self());
    }
    atomic_store(&thread_exited, 1);
    mp_futex_wake(&thread_exited);
    mp_thread_count_back_in();   /* last: glibc takes it away again when we return */
    return NULL;
}

/* Joins an earlier collector thread that has left or is leaving (bounded). */
static void join_previous(void)
{
    if (!collector_joinable)
        return;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    if (pthread_timedjoin_np(collector_thread, NULL, &until) == 0)
        collector_joinable = false;
}

/* libc's pthread_create, not lifecycle.c's interposer (which would only
 * pass it through: the collector is marked running before it is called). */
static int real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                               void *arg)
{
    static void *_Atomic next;
    int (*create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *) =
        (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))mp_next_symbol(
            &next, "pthread_create");
    return create ? create(t, attr, fn, arg) : EAGAIN;
}

/* Starts the thread if no collector runs; application threads only. */
static int start_thread(void)
{
    mp_spin_lock(&start_lock);
    int expected = 0;
    if (!atomic_load(&armed) || atomic_load(&stop_requested) ||
        !atomic_compare_exchange_strong(&mp_collector_running, &expected, 1)) {
        mp_spin_unlock(&start_lock);
        return 0;
    }
    /* "Running" is set before the thread is scheduled, or producers that
     * fill their ring in the meantime would drop instead of waiting. */
    join_previous();
    atomic_store(&thread_exited, 0);
    atomic_store(&leaving, 0);
    mp_thread_count_reset();
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);   /* inherited by the thread */
    int rc = real_pthread_create(&collector_thread, NULL, collector_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        atomic_store(&mp_collector_running, 0);
        atomic_store(&thread_exited, 1);
    } else {
        collector_joinable = true;
        mp_thread_count_out();
    }
    mp_spin_unlock(&start_lock);
    return rc == 0 ? 0 : -1;
}

/* main's pthread_exit (lifecycle.c). With glibc's count, the process ends
 * when main's share of it is gone and it was the last; a transient
 * collector that is leaving at this moment must be gone first (see
 * "meet" above). Without the count, the collector stays and looks for the
 * end (mp_thread_count_only_collector_left). */
void mp_collector_note_main_exit(void)
{
    atomic_store(&main_exited, 1);
    if (atomic_load(&leaving)) {
        mp_spin_lock(&start_lock);
        join_previous();
        mp_spin_unlock(&start_lock);
    }
    mp_wake_collector();
}

/* ring.c: a thread with a ring is ending. In a single-threaded program it
 * is the last one: a transient collector leaving now must be gone before
 * glibc counts the thread out (see "meet" above). */
static void on_thread_ending(void)
{
    if (!solo())
        return;
    atomic_store(&solo_ending, 1);
    if (atomic_load(&leaving)) {
        mp_spin_lock(&start_lock);
        join_previous();
        mp_spin_unlock(&start_lock);
    }
}

/* ring.c calls this for every event a producer pushes while no collector
 * runs (full: its ring is full): every allocation at MEMPROF_SAMPLE=1, so
 * the clock is the cheap one (tick.c), the same clock as mp_now_ns. */
static void on_producer(bool full)
{
    static _Atomic uint64_t next_check;
    if (full)
        mp_collector_drain_now();
    uint64_t now = mp_tick_ns();
    if (now < atomic_load_explicit(&next_check, memory_order_relaxed))
        return;
    atomic_store_explicit(&next_check, now + SOLO_CHECK_NS, memory_order_relaxed);
    if (atomic_load(&pending_trigger) != 0 || now >= atomic_load(&next_periodic))
        start_thread();
}

/* Arms the collector (start-up, fork child, after unshare); the thread
 * starts now only if the program has threads or asked for a schedule. */
int mp_collector_start(void)
{
    if (mp_heap_fold_init() != 0)
        return -1;
    mp_thread_count_init();
    atomic_store(&stop_requested, 0);
    /* An attached or dormant process is there to be asked (snapshot,
     * enable, detach) while it may sit idle: it keeps its thread too. */
    atomic_store(&schedule_asked, !atomic_load(&threads_counted) &&
                                      (mp_cfg.signal != 0 || getenv("MEMPROF_INTERVAL") != NULL ||
                                       atomic_load(&mp_attached) || !mp_cfg.start));
    mp_ring_no_collector = on_producer;
    mp_ring_fold = fold_event;
    mp_ring_thread_ending = on_thread_ending;
    if (atomic_load(&next_periodic) == UINT64_MAX)
        schedule_periodic();
    atomic_store(&armed, 1);
    return solo() ? 0 : start_thread();
}

/* The program is about to create a thread (the pthread_create interposer). */
void mp_collector_note_thread(void)
{
    atomic_store(&program_threaded, 1);
    if (!atomic_load(&mp_collector_running) && start_thread() != 0)
        mp_warn("cannot start the collector thread; only the exit snapshot will be written");
}

/* Waits (bounded) for the running collector thread to end, and joins it. */
static void wait_for_exit(void)
{
    uint64_t deadline = mp_now_ns() + 3000000000ull;
    while (!atomic_load(&thread_exited) && mp_now_ns() < deadline)
        /* Sliced, so that a wake-up lost to a thread that exited between
         * our load and the wait costs one slice, not the deadline. */
        mp_futex_wait(&thread_exited, 0, 10000000);
    join_previous();
}

/*
 * The program's one thread is about to count its threads (threadcheck.c:
 * a stat or opendir of /proc/self/task, as Chromium's zygote and
 * Firefox's sandbox do before they sandbox themselves). If our collector
 * runs from the start (a schedule, a signal, dormant or attached: see
 * "lazy" above), it becomes a transient one from now on, as in a process
 * that asked for none of that: it leaves on its next pass (woken here)
 * and is joined before the program looks, so the kernel counts one
 * thread. What that costs is said once: no request channel (`memprof
 * snapshot`, `enable`, `detach`), and a periodic or signalled snapshot
 * waits for the next sampled allocation. A threaded program sees its
 * threads anyway and keeps its collector; one whose threads have all
 * been joined is single-threaded again and is treated as one.
 */
/* The program has no thread but the caller: the kernel counts it and a
 * running collector. Only asked while our collector runs, and by the
 * program's one thread, so no thread of its can appear meanwhile. */
static bool program_alone(void)
{
    long n = mp_proc_status_value("Threads");
    return n > 0 && n <= 2;
}

void mp_collector_unschedule(void)
{
    bool threaded = atomic_load(&program_threaded);
    if (!atomic_load(&armed) || (!threaded && !atomic_load(&schedule_asked)))
        return;
    mp_spin_lock(&start_lock);
    bool running = collector_joinable && !atomic_load(&thread_exited);
    /* A program that had threads and joined them is single-threaded
     * again: its collector, which stays for a threaded program, steps
     * aside the same way (it comes back with the next thread). Not after
     * main's pthread_exit: the collector stays then (solo()), and the
     * zombie main thread is counted anyway. */
    if (threaded && !(running && !atomic_load(&main_exited) && program_alone())) {
        mp_spin_unlock(&start_lock);
        return;
    }
    atomic_store(&threads_counted, 1);
    atomic_store(&program_threaded, 0);
    bool was = atomic_exchange(&schedule_asked, 0);
    bool ran = (was || threaded) && running;
    if (ran) {
        mp_wake_collector();
        wait_for_exit();
        /* Joined, the thread can still be in the kernel's thread group for
         * a moment (unshare in lifecycle.c meets the same): until the
         * kernel counts one, 50 ms at most. */
        for (int i = 0; i < 50 && mp_proc_status_value("Threads") > 1; i++)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    mp_spin_unlock(&start_lock);
    static _Atomic int warned;
    if (ran && !atomic_exchange(&warned, 1))
        mp_warn("pid %d counts its own threads (/proc/self/task) while single-threaded: the "
                "collector thread now runs only while a snapshot is written, and requests "
                "(memprof snapshot, enable, detach) are not served until the program starts "
                "a thread",
                (int)mp_pid);
}

/* Bounded: if the collector is stuck (it should never be), exit anyway.
 * The collector's exit wakes the futex, so a short program's exit waits
 * for exactly as long as the collector takes to finish its pass. */
void mp_collector_stop(void)
{
    atomic_store(&stop_requested, 1);
    if (collector_joinable && pthread_equal(pthread_self(), collector_thread))
        return;   /* the collector itself is exiting the process */
    if (!collector_joinable)
        return;   /* never started, or joined already */
    mp_wake_collector();
    /* Joined, so that the thread is gone from the kernel too when we
     * return: unshare(CLONE_NEWUSER) refuses a process with other threads. */
    wait_for_exit();
}

void mp_collector_reset_schedule(void)
{
    atomic_store(&next_periodic, UINT64_MAX);
}

void mp_collector_after_fork_child(void)
{
    /* The parent's collector thread does not exist here, and its socket,
     * doorbell and clients were in that thread's own table. The child has
     * one thread, and glibc counts one: it is single-threaded until it
     * creates one. */
    mp_request_after_fork_child();
    collector_joinable = false;   /* the parent's thread: not in this process */
    atomic_store(&start_lock.v, 0);
    atomic_store(&program_threaded, 0);
    atomic_store(&main_exited, 0);
    atomic_store(&leaving, 0);
    atomic_store(&solo_ending, 0);
    mp_thread_count_reset();
    atomic_store(&pending_trigger, 0);
    atomic_store(&next_periodic, UINT64_MAX);
    if (mp_collector_start() != 0)
        mp_warn("cannot start the collector in the child");
}
