/*
 * collector.c - the background thread that owns all aggregation and I/O.
 *
 * It drains every thread's ring into the aggregates (heap_agg.c for the
 * heap, lockagg.c for the locks), and writes a snapshot when a trigger fires:
 * the interval timer, the snapshot signal (whose handler only sets a flag),
 * or a request from `memprof snapshot PID` on the abstract unix socket
 * "\0memprof.<pid>" (no file system entry, no signal involved; the
 * protocol is include/memprof_protocol.h).
 *
 * It runs with every signal blocked (so it never steals the program's
 * signals), with the reentrancy guard set (so nothing it does is profiled),
 * and never takes a lock the application could hold.
 *
 * It never polls (SPEC: a process that does nothing costs nothing). It
 * sleeps in poll() on the request socket, with a timeout that ends when
 * the next periodic snapshot is due (none: no timeout). Everything else
 * that needs it rings a doorbell on that same socket (ring.c's
 * mp_wake_collector):
 * a non-blocking connect from our own pid, which the collector accepts and
 * closes without a word. Producers ring it only when a ring passes half
 * full, when they stall on a full one, and when a thread's ring retires
 * (ring.c); the snapshot signal, exit and unshare ring it too. A futex
 * cannot be watched by poll(), and an eventfd or pipe would be one more
 * descriptor the application could close or reuse (and see); the socket
 * is one we need anyway and is re-checked with getsockname after every
 * wake-up. Without a socket (the name is taken, the program closed ours
 * and we cannot make a new one) the collector sleeps on a futex the same
 * doorbell also wakes, and retries the socket once a second.
 */
#include "shim.h"

#include "memprof_protocol.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REOPEN_RETRY_MS 1000   /* no socket: try to make one this often */
#define MAIN_EXIT_CHECK_MS 50  /* main called pthread_exit: look for the last thread */
#define BUSY_DRAINED 64        /* drained more than this: go round again at once */

static pthread_t collector_thread;
static bool collector_joinable;   /* started here and not yet joined */
static _Atomic int stop_requested;
static _Atomic uint32_t thread_exited;   /* a futex word: stop waits on it */
static _Atomic int main_exited;   /* the main thread called pthread_exit */
static _Atomic int pending_trigger;          /* mp_trigger or 0 */
static _Atomic int detached;   /* `memprof detach` served: the loop ends */
static int listen_fd = -1;
static struct sockaddr_un listen_addr;   /* what listen_fd must still be bound to */
static socklen_t listen_addr_len;

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
void mp_request_snapshot(int trigger)
{
    atomic_store(&pending_trigger, trigger);
    mp_wake_collector();
}

/* Who holds our socket name, for the owner's one line: anyone can bind an
 * abstract name before us (a squatter waiting for our pid). */
static void warn_name_taken(const struct sockaddr_un *addr, socklen_t len)
{
    static bool warned;
    if (warned)
        return;
    warned = true;
    char who[96] = "another process";
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    if (fd >= 0 && connect(fd, (const struct sockaddr *)addr, len) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
        snprintf(who, sizeof(who), "process %d (uid %u)", (int)cred.pid, (unsigned)cred.uid);
    if (fd >= 0)
        close(fd);
    mp_warn("the request socket @%s%d is taken by %s; `memprof snapshot %d` cannot reach "
            "this process (MEMPROF_SIGNAL and MEMPROF_INTERVAL still work)",
            MP_PROTO_SOCKET_PREFIX, (int)mp_pid, who, (int)mp_pid);
}

static void open_request_socket(void)
{
    /* Finished (exit, or detached): the name must be free for the next
     * attach, and a producer racing the detach must not take it back. */
    if (atomic_load(&mp_state) == MP_STATE_FINISHED)
        return;
    struct sockaddr_un addr;
    socklen_t len = mp_proto_address(mp_pid, &addr);
    int fd = mp_fd_park(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd < 0)
        return;
    if (bind(fd, (struct sockaddr *)&addr, len) != 0 || listen(fd, 4) != 0) {
        int err = errno;
        close(fd);
        if (err == EADDRINUSE)
            warn_name_taken(&addr, len);
        return;
    }
    listen_addr = addr;
    listen_addr_len = len;
    listen_fd = fd;
}

/* Whether fd is still our listening socket. The application may have
 * closed it (daemons close every descriptor they did not open) and even
 * reused the number; then it is not ours to accept on, or to close. */
static bool is_our_socket(int fd)
{
    struct sockaddr_un addr;
    socklen_t len = sizeof(addr);
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
        return false;
    return len == listen_addr_len && memcmp(&addr, &listen_addr, len) == 0;
}

/* SPEC: requests are honoured only for the process's own user or root.
 * The abstract socket has no permissions of its own, so anyone on the
 * machine can connect: the peer's credentials decide, before a byte of
 * the request is read. A refusal says nothing about the process. */
static bool peer_allowed(int fd, char *why, size_t len)
{
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0) {
        snprintf(why, len, "not allowed: cannot tell who is asking");
        return false;
    }
    if (cred.uid == 0 || cred.uid == geteuid() || cred.uid == getuid())
        return true;
    snprintf(why, len, "not allowed: uid %u is neither the process's user (%u) nor root",
             (unsigned)cred.uid, (unsigned)geteuid());
    return false;
}

/* Snapshots on request are at most one per REQUEST_GAP_NS: a flood of
 * requests (even the owner's) costs the program one snapshot per gap and
 * a "busy" reply for each of the others. */
#define REQUEST_GAP_NS (MP_PROTO_BUSY_RETRY_MS * 1000000ull)

static bool request_rate_ok(void)
{
    static uint64_t last;
    uint64_t now = mp_now_ns();
    if (last && now - last < REQUEST_GAP_NS)
        return false;
    last = now;
    return true;
}

/* enable (to READY) and disable (to DORMANT): only between those two. */
static enum mp_reply switch_state(int to, char *text, size_t len)
{
    int from = to == MP_STATE_READY ? MP_STATE_DORMANT : MP_STATE_READY;
    int cur = from;
    if (to == MP_STATE_READY)
        atomic_store(&mp_recorded, 1);
    if (atomic_compare_exchange_strong(&mp_state, &cur, to) || cur == to) {
        snprintf(text, len, "%s", to == MP_STATE_READY ? "recording" : "dormant");
        return MP_REPLY_OK;
    }
    snprintf(text, len, "the profiler is shutting down");
    return MP_REPLY_ERROR;
}

/*
 * detach: the slots are restored first, so that the last snapshot holds
 * everything up to the moment the program stopped calling us, and the
 * socket is closed before the reply, so that whoever reads it may attach
 * again at once. Then the loop ends and the thread leaves, detached.
 */
static enum mp_reply detach(char *text, size_t len)
{
    if (!mp_got_active()) {
        snprintf(text, len, "not attached (started under the shim: it stays profiled)");
        return MP_REPLY_ERROR;
    }
    mp_got_restore();
    atomic_store(&mp_state, MP_STATE_FINISHED);
    mp_collector_drain_now();
    if (mp_write_snapshot(MP_TRIGGER_REQUEST, text, len) != 0) {
        /* text holds "cannot write snapshot in DIR: reason" */
        static const char prefix[] = "detached; no last snapshot: ";
        if (len <= sizeof(prefix))
            return MP_REPLY_OK;
        size_t n = strnlen(text, len - sizeof(prefix));
        memmove(text + sizeof(prefix) - 1, text, n);
        memcpy(text, prefix, sizeof(prefix) - 1);
        text[sizeof(prefix) - 1 + n] = '\0';
    }
    atomic_store(&detached, 1);
    atomic_store(&stop_requested, 1);
    if (is_our_socket(listen_fd))
        close(listen_fd);
    listen_fd = -1;
    return MP_REPLY_OK;
}

/* Carries out one permitted request; text gets the reply's text. Adding
 * a request type (memprof_protocol.h's MP_REQUESTS) adds its case here. */
static enum mp_reply handle_request(enum mp_request r, char *text, size_t len)
{
    switch (r) {
    case MP_REQ_SNAPSHOT:
        if (!request_rate_ok()) {
            snprintf(text, len, "a snapshot was taken less than 250 ms ago; try again");
            return MP_REPLY_BUSY;
        }
        mp_collector_drain_now();
        /* On failure the text is "cannot write snapshot in DIR: reason". */
        return mp_write_snapshot(MP_TRIGGER_REQUEST, text, len) == 0 ? MP_REPLY_OK
                                                                     : MP_REPLY_ERROR;
    case MP_REQ_ENABLE:
        return switch_state(MP_STATE_READY, text, len);
    case MP_REQ_DISABLE:
        return switch_state(MP_STATE_DORMANT, text, len);
    case MP_REQ_DETACH:
        return detach(text, len);
    case MP_REQ_UNKNOWN:
    case MP_REQ_COUNT:
        break;
    }
    snprintf(text, len, "unknown request");
    return MP_REPLY_ERROR;
}

/* The one reply line; never waits (the socket is non-blocking and the
 * line fits in its buffer), then the connection is closed. */
static void reply_and_close(int fd, enum mp_reply rc, const char *text)
{
    char reply[MP_PROTO_MAX_REPLY];
    size_t len = mp_proto_format_reply(rc, text, reply);
    ssize_t w = send(fd, reply, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)w;
    close(fd);
}

/*
 * Connections of permitted peers whose request line has not arrived yet.
 * The collector never waits on a client: each pass reads what is there
 * (MSG_DONTWAIT) and a client silent for MP_PROTO_REQUEST_TIMEOUT_MS is
 * dropped, so silent clients cost a slot each, not the collector's time.
 */
#define PENDING_MAX 4
static struct { int fd; uint64_t deadline; } pending[PENDING_MAX];
static int n_pending;

/* Tries to read and serve fd's request; false when it has not come yet. */
static bool try_serve(int fd, uint64_t now, uint64_t deadline)
{
    char req[MP_PROTO_MAX_REQUEST], text[MP_PROTO_MAX_REPLY - 16];
    ssize_t n = recv(fd, req, sizeof(req), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR) && now < deadline)
        return false;
    if (n <= 0) {
        close(fd);   /* gone, or silent too long: nobody to answer */
        return true;
    }
    enum mp_request r = mp_proto_parse_request(req, (size_t)n);
    enum mp_reply rc = handle_request(r, text, sizeof(text));
    reply_and_close(fd, rc, text);
    return true;
}

static void serve_pending(uint64_t now)
{
    for (int i = 0; i < n_pending;) {
        if (try_serve(pending[i].fd, now, pending[i].deadline))
            pending[i] = pending[--n_pending];
        else
            i++;
    }
}

/* A new connection: refused at once unless the peer may ask. */
static void serve_request(int fd, uint64_t now)
{
    char why[160];
    fd = mp_fd_park(fd);
    if (!peer_allowed(fd, why, sizeof(why))) {
        reply_and_close(fd, MP_REPLY_REFUSED, why);
        return;
    }
    uint64_t deadline = now + MP_PROTO_REQUEST_TIMEOUT_MS * 1000000ull;
    if (try_serve(fd, now, deadline))
        return;
    if (n_pending == PENDING_MAX) {
        reply_and_close(fd, MP_REPLY_BUSY, "too many requests in progress; try again");
        return;
    }
    pending[n_pending].fd = fd;
    pending[n_pending++].deadline = deadline;
}

/* A connection from our own pid is a doorbell (ring.c, mp_wake_collector). */
static bool is_doorbell(int fd)
{
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 && cred.pid == getpid();
}

/* After a wake-up: the socket is still ours (the application may have
 * closed it, even while we slept on it), or a new one is made, at most
 * once per REOPEN_RETRY_MS. Then pending requests are served, doorbells
 * hung up and new connections served or made pending. */
static void serve_requests(uint64_t now)
{
    static uint64_t last_reopen;
    if (listen_fd >= 0 && !is_our_socket(listen_fd))
        listen_fd = -1;   /* not ours any more: neither accept on it nor close it */
    if (listen_fd < 0 && now - last_reopen >= REOPEN_RETRY_MS * 1000000ull) {
        last_reopen = now;
        open_request_socket();
    }
    serve_pending(now);
    for (int i = 0; i < 64 && listen_fd >= 0; i++) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            break;
        if (is_doorbell(fd)) {
            close(fd);
            continue;
        }
        serve_request(fd, now);
    }
    atomic_store(&mp_collector_listening, listen_fd >= 0);
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

/* Sleeps until a doorbell, a request, or deadline; when busy (a pass
 * drained a lot) only looks at the socket. seen is wake_word as loaded
 * before the pass, so that a futex wake-up during the pass is not lost. */
static void wait_for_work(size_t drained, uint32_t seen, uint64_t deadline)
{
    uint64_t now = mp_now_ns();
    int cap = atomic_load(&main_exited) ? MAIN_EXIT_CHECK_MS : -1;
    struct pollfd p[1 + PENDING_MAX];
    nfds_t n = 0;
    for (int i = 0; i < n_pending; i++) {   /* their lines, or their deadlines */
        p[n++] = (struct pollfd){.fd = pending[i].fd, .events = POLLIN};
        if (pending[i].deadline < deadline)
            deadline = pending[i].deadline;
    }
    int ms = drained > BUSY_DRAINED ? 0 : sleep_ms(now, deadline, cap);
    if (listen_fd >= 0 || n > 0) {
        if (listen_fd >= 0)
            p[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
        if (listen_fd < 0)
            ms = sleep_ms(now, deadline, cap >= 0 ? cap : REOPEN_RETRY_MS);
        if (poll(p, n, ms) < 0 && errno != EINTR)
            listen_fd = -1;
    } else if (ms != 0) {
        ms = sleep_ms(now, deadline, cap >= 0 ? cap : REOPEN_RETRY_MS);
        mp_futex_wait(&mp_collector_wake, seen, (uint64_t)ms * 1000000u);
    }
    serve_requests(mp_now_ns());
}

/*
 * After main's pthread_exit the process lives until its last thread ends,
 * and glibc ends it with exit(0) when its count of threads reaches zero.
 * We are in that count: once only the zombie main thread and we are left,
 * we must be the ones to call exit(0), or the process would never end.
 */
static bool only_collector_left(void)
{
    char buf[4096];
    if (mp_read_small_file("/proc/self/status", buf, sizeof(buf)) <= 0)
        return false;
    const char *t = strstr(buf, "\nThreads:");
    return t && strtol(t + 9, NULL, 10) <= 2;
}

void mp_collector_note_main_exit(void)
{
    atomic_store(&main_exited, 1);
    mp_wake_collector();
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
 * snapshot is due, a trigger pending or a request waiting on the socket;
 * then a collector thread is started for that work alone and leaves
 * again when it is done (leave_if_solo). So a single-threaded program
 * sees a second thread only while a snapshot is written.
 *
 * The price: nothing of the shim runs in a single-threaded program that
 * makes no sampled allocation, so a request (or a periodic snapshot) waits
 * in the socket's backlog until it does. Where the user asked for
 * snapshots on a schedule or a signal (MEMPROF_INTERVAL or MEMPROF_SIGNAL
 * set in the environment), they must come while the program sleeps, and
 * the thread runs from the start, as it always did; only the defaults
 * (the exit snapshot and requests) get the lazy thread.
 */
#define SOLO_CHECK_NS 100000000ull

static _Atomic int program_threaded;   /* the program created a thread */
static _Atomic int armed;              /* mp_collector_start succeeded */
static _Atomic uint64_t next_periodic = UINT64_MAX;
static mp_spinlock start_lock;         /* taken by application threads only */

static _Atomic int schedule_asked;   /* MEMPROF_INTERVAL or MEMPROF_SIGNAL set, attached, dormant */

/* Whether the collector should leave when its work is done. */
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
 * stays for a threaded program. */
static bool leave_if_solo(void)
{
    if (!solo())
        return false;
    atomic_store(&mp_collector_listening, 0);
    atomic_store(&mp_collector_running, 0);
    int expected = 0;
    if (!solo() &&
        atomic_compare_exchange_strong(&mp_collector_running, &expected, 1)) {
        atomic_store(&mp_collector_listening, listen_fd >= 0);
        return false;
    }
    return true;
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
        /* An attached process: a library dlopen'd through a caller with a
         * RUNPATH passes got.c's hook unpatched and is patched here. Only
         * attached processes pay for this wake-up. */
        if (mp_got_active() && now >= next_rescan) {
            mp_modules_refresh();
            mp_got_rescan();
            next_rescan = now + MODULE_RESCAN_NS;
        }
        if (atomic_load(&main_exited) && only_collector_left())
            exit(0);   /* runs the exit snapshot here (mp_finish) */
        if (atomic_load(&stop_requested))
            break;
        if (solo()) {
            serve_requests(mp_now_ns());   /* the ones that made us start */
            if (atomic_load(&pending_trigger) == 0 && n_pending == 0 && leave_if_solo())
                return;
        }
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

static void *collector_main(void *arg)
{
    (void)arg;
    mp_guard = 1;
    atomic_store(&mp_collector_listening, listen_fd >= 0);
    collector_loop();
    atomic_store(&mp_collector_listening, 0);
    if (atomic_load(&stop_requested))
        atomic_store(&mp_collector_running, 0);
    atomic_store(&thread_exited, 1);
    mp_futex_wake(&thread_exited);
    if (atomic_exchange(&detached, 0)) {
        collector_joinable = false;   /* nobody will join us: leave no zombie */
        pthread_detach(pthread_self());
    }
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
    }
    mp_spin_unlock(&start_lock);
    return rc == 0 ? 0 : -1;
}

/* ring.c calls this for every event a producer pushes while no collector
 * runs (full: its ring is full). */
static void on_producer(bool full)
{
    static _Atomic uint64_t next_check, next_reopen;
    if (full)
        mp_collector_drain_now();
    uint64_t now = mp_now_ns();
    if (now < atomic_load_explicit(&next_check, memory_order_relaxed))
        return;
    atomic_store_explicit(&next_check, now + SOLO_CHECK_NS, memory_order_relaxed);
    if (listen_fd < 0 && now >= atomic_load(&next_reopen)) {
        atomic_store(&next_reopen, now + REOPEN_RETRY_MS * 1000000ull);
        open_request_socket();
    }
    bool work = atomic_load(&pending_trigger) != 0 || now >= atomic_load(&next_periodic);
    if (!work && listen_fd >= 0) {
        struct pollfd p = {.fd = listen_fd, .events = POLLIN};
        work = poll(&p, 1, 0) == 1;   /* a request waits, or the socket is not ours */
    }
    if (work)
        start_thread();
}

/* Arms the collector (start-up, fork child, after unshare): the request
 * socket is made now, so that requests wait in its backlog until served,
 * and the thread starts now only if the program has threads. */
int mp_collector_start(void)
{
    if (mp_heap_fold_init() != 0)
        return -1;
    atomic_store(&stop_requested, 0);
    /* An attached or dormant process is there to be asked (snapshot,
     * enable, detach) while it may sit idle: it keeps its thread too. */
    atomic_store(&schedule_asked, mp_cfg.signal != 0 || getenv("MEMPROF_INTERVAL") != NULL ||
                                      atomic_load(&mp_attached) || !mp_cfg.start);
    mp_ring_no_collector = on_producer;
    if (listen_fd < 0)
        open_request_socket();
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
    uint64_t deadline = mp_now_ns() + 3000000000ull;
    while (!atomic_load(&thread_exited)) {
        uint64_t now = mp_now_ns();
        if (now >= deadline)
            break;
        /* Sliced, so that a wake-up lost to a thread that exited between
         * our load and the wait costs one slice, not the deadline. */
        mp_futex_wait(&thread_exited, 0, 10000000);
    }
    /* Joined, so that the thread is gone from the kernel too when we
     * return: unshare(CLONE_NEWUSER) refuses a process with other threads. */
    join_previous();
}

void mp_collector_after_fork_child(void)
{
    /* The parent's collector thread does not exist here; its socket is
     * the parent's address, so close our copy (if the number still is
     * that socket: the parent may have lost it to the application) and
     * start afresh. The child has one thread: it is single-threaded until
     * it creates one. */
    if (is_our_socket(listen_fd))
        close(listen_fd);
    listen_fd = -1;
    collector_joinable = false;   /* the parent's thread: not in this process */
    atomic_store(&start_lock.v, 0);
    atomic_store(&program_threaded, 0);
    atomic_store(&main_exited, 0);
    n_pending = 0;   /* the parent's clients: it answers them */
    atomic_store(&pending_trigger, 0);
    atomic_store(&next_periodic, UINT64_MAX);
    if (mp_collector_start() != 0)
        mp_warn("cannot start the collector in the child");
}
