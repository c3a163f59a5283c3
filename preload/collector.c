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
 */
#include "shim.h"

#include "memprof_protocol.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BUSY_POLL_MS 1
#define IDLE_POLL_MS 20
#define REQUEST_CHECK_NS 10000000ull
#define MODULE_RESCAN_NS 1000000000ull

static pthread_t collector_thread;
static bool collector_joinable;   /* started here and not yet joined */
static _Atomic int stop_requested;
static _Atomic uint32_t thread_exited;   /* a futex word: stop waits on it */
static _Atomic int main_exited;   /* the main thread called pthread_exit */
static _Atomic int pending_trigger;          /* mp_trigger or 0 */
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

void mp_request_snapshot(int trigger)
{
    atomic_store(&pending_trigger, trigger);
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

/* Requests are looked for at most every REQUEST_CHECK_NS (a request waits
 * that long at worst). A socket the application took from us is replaced,
 * at most once per second. */
static void serve_requests(uint64_t now)
{
    static uint64_t last_check, last_reopen;
    if (now - last_check < REQUEST_CHECK_NS)
        return;
    last_check = now;
    if (listen_fd >= 0 && !is_our_socket(listen_fd))
        listen_fd = -1;   /* not ours any more: neither accept on it nor close it */
    if (listen_fd < 0 && now - last_reopen >= 1000000000ull) {
        last_reopen = now;
        open_request_socket();
    }
    serve_pending(now);
    for (int i = 0; i < 16 && listen_fd >= 0; i++) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            break;
        serve_request(fd, now);
    }
}

/* Sleeps until the next pass is due or a producer is stalled (it bumps
 * the futex word from the value seen before this pass drained). When
 * busy, the next pass is due at once. */
static void wait_for_work(size_t drained, uint32_t seen)
{
    uint64_t timeout_ms = drained > 64 ? 0 : drained ? BUSY_POLL_MS : IDLE_POLL_MS;
    if (timeout_ms)
        mp_futex_wait(&mp_collector_wake, seen, timeout_ms * 1000000u);
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

static void collector_loop(void)
{
    uint64_t interval_ns = (uint64_t)mp_cfg.interval_s * 1000000000ull;
    uint64_t next_periodic = interval_ns ? mp_now_ns() + interval_ns : UINT64_MAX;
    uint64_t next_rescan = mp_now_ns() + MODULE_RESCAN_NS;
    while (!atomic_load(&stop_requested)) {
        uint32_t seen = atomic_load_explicit(&mp_collector_wake, memory_order_acquire);
        size_t drained = mp_rings_drain(fold_event, NULL);
        atomic_fetch_add_explicit(&mp_collector_heartbeat, 1, memory_order_relaxed);
        uint64_t now = mp_now_ns();
        mp_heap_series_note(now);   /* heap over time: when awake anyway */
        int trigger = atomic_exchange(&pending_trigger, 0);
        if (!trigger && now >= next_periodic)
            trigger = MP_TRIGGER_INTERVAL;
        if (trigger) {
            mp_collector_drain_now();
            mp_write_snapshot(trigger, NULL, 0);
            if (trigger == MP_TRIGGER_INTERVAL || now >= next_periodic)
                next_periodic = interval_ns ? mp_now_ns() + interval_ns : UINT64_MAX;
        }
        if (now >= next_rescan) {
            mp_modules_refresh();
            next_rescan = now + MODULE_RESCAN_NS;
        }
        if (atomic_load(&main_exited) && only_collector_left())
            exit(0);   /* runs the exit snapshot here (mp_finish) */
        wait_for_work(drained, seen);
    }
}

static void *collector_main(void *arg)
{
    (void)arg;
    mp_guard = 1;
    open_request_socket();
    collector_loop();
    atomic_store(&mp_collector_running, 0);
    if (is_our_socket(listen_fd))
        close(listen_fd);
    listen_fd = -1;
    atomic_store(&thread_exited, 1);
    mp_futex_wake(&thread_exited);
    return NULL;
}

int mp_collector_start(void)
{
    if (mp_heap_fold_init() != 0)
        return -1;
    atomic_store(&stop_requested, 0);
    atomic_store(&thread_exited, 0);
    /* "Running" means a collector exists that will drain the rings: set it
     * before the thread is scheduled, or producers that fill their ring in
     * the meantime (a forked child in exact mode) drop instead of waiting. */
    atomic_store(&mp_collector_running, 1);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);   /* inherited by the thread */
    int rc = pthread_create(&collector_thread, NULL, collector_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        atomic_store(&mp_collector_running, 0);
        atomic_store(&thread_exited, 1);
        return -1;
    }
    collector_joinable = true;
    return 0;
}

/* Bounded: if the collector is stuck (it should never be), exit anyway.
 * The collector's exit wakes the futex, so a short program's exit waits
 * for exactly as long as the collector takes to finish its pass. */
void mp_collector_stop(void)
{
    atomic_store(&stop_requested, 1);
    if (atomic_load(&mp_collector_running) && pthread_equal(pthread_self(), collector_thread))
        return;   /* the collector itself is exiting the process */
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
    if (collector_joinable && atomic_load(&thread_exited)) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        if (pthread_timedjoin_np(collector_thread, NULL, &until) == 0)
            collector_joinable = false;
    }
}

void mp_collector_after_fork_child(void)
{
    /* The parent's collector thread does not exist here; its socket is
     * the parent's address, so close our copy (if the number still is
     * that socket: the parent may have lost it to the application) and
     * start afresh. */
    if (is_our_socket(listen_fd))
        close(listen_fd);
    listen_fd = -1;
    collector_joinable = false;   /* the parent's thread: not in this process */
    n_pending = 0;   /* the parent's clients: it answers them */
    atomic_store(&pending_trigger, 0);
    if (mp_collector_start() != 0)
        mp_warn("cannot start the collector thread in the child");
}
