/*
 * request.c - serving `memprof snapshot/enable/disable/detach PID`: the
 * abstract unix socket "\0memprof.<pid>" (no file system entry; the
 * protocol is include/memprof_protocol.h), who may ask, the rate limit,
 * clients whose request line has not come yet, and each request.
 *
 * Everything here runs on the collector thread (collector.c), which has a
 * descriptor table of its own (os.c, mp_fd_private_table): the listening
 * socket and every accepted connection live there, so the program never
 * sees them in /proc/self/fd, cannot close them, and never gets one of
 * their numbers (SPEC "Safety in someone else's process"). The socket
 * exists while a collector thread does: a single-threaded program with
 * the default settings has none, and `memprof snapshot` says so.
 */
#include "shim.h"

#include "memprof_protocol.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define REOPEN_RETRY_MS 1000   /* no socket (name taken): try again this often */

static int listen_fd = -1;
/* No private table (os.c could not make one): the socket is in the
 * program's table, which may close it and reuse the number (daemons close
 * what they did not open), so it is checked against its address before
 * each use; a fork child inherits it. */
static bool in_program_table;
static struct sockaddr_un listen_addr;
static socklen_t listen_addr_len;

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

void mp_request_open(void)
{
    /* Finished (exit, or detached): the name must be free for the next
     * attach. */
    if (listen_fd >= 0 || atomic_load(&mp_state) == MP_STATE_FINISHED)
        return;
    struct sockaddr_un addr;
    socklen_t len = mp_proto_address(mp_pid, &addr);
    /* Parked only where the table is the program's (no private table). */
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
    listen_fd = fd;
    listen_addr = addr;
    listen_addr_len = len;
    in_program_table = !mp_fd_table_private();
}

/* Whether listen_fd is still our socket (see in_program_table). */
static bool still_ours(void)
{
    if (listen_fd < 0 || !in_program_table)
        return listen_fd >= 0;
    struct sockaddr_un addr;
    socklen_t len = sizeof(addr);
    return getsockname(listen_fd, (struct sockaddr *)&addr, &len) == 0 &&
           len == listen_addr_len && memcmp(&addr, &listen_addr, len) == 0;
}

/* A connection from our own pid is a doorbell (ring.c, without a private
 * table): hung up without a word. */
static bool is_doorbell(int fd)
{
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 && cred.pid == getpid();
}

bool mp_request_listening(void)
{
    return listen_fd >= 0;
}

/* Whether the process holds any capability, effective or permitted. */
static bool has_capabilities(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &h, d) != 0)
        return true;   /* cannot tell: assume the worst */
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
        if (d[i].effective || d[i].permitted)
            return true;
    return false;
}

/* SPEC: requests are honoured only for the process's own user or root.
 * The abstract socket has no permissions of its own, so anyone on the
 * machine can connect: the peer's credentials decide, before a byte of
 * the request is read. A refusal says nothing about the process.
 *
 * "Its own user" is one uid that is all of its real, effective and saved
 * uids, with no gid of its own either, and no capability: a process whose
 * credentials are mixed (a setuid or setgid program, a server between
 * seteuid calls) or that kept capabilities when it changed its uid (a
 * server keeping CAP_NET_BIND_SERVICE or CAP_DAC_READ_SEARCH) holds
 * privileges that user does not, so only root may ask it, as only root
 * may ptrace it. */
static bool peer_allowed(int fd, char *why, size_t len)
{
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0) {
        snprintf(why, len, "not allowed: cannot tell who is asking");
        return false;
    }
    if (cred.uid == 0)
        return true;
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    bool same_ids = getresuid(&ru, &eu, &su) == 0 && getresgid(&rg, &eg, &sg) == 0 &&
                    ru == eu && eu == su && rg == eg && eg == sg;
    bool one_user = same_ids && !has_capabilities();
    if (one_user && cred.uid == eu)
        return true;
    /* A root process has its capabilities as root, not as changed
     * credentials: the reason is the same as for any other user's. */
    if (one_user || (same_ids && eu == 0))
        snprintf(why, len, "not allowed: uid %u is neither the process's user (%u) nor root",
                 (unsigned)cred.uid, (unsigned)eu);
    else
        snprintf(why, len, "not allowed: the process runs with changed credentials "
                 "(setuid, setgid or capabilities); only root may ask it");
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
        mp_dormant_mark(to == MP_STATE_DORMANT);
        snprintf(text, len, "%s", to == MP_STATE_READY ? "recording" : "dormant");
        return MP_REPLY_OK;
    }
    snprintf(text, len, "the profiler is shutting down");
    return MP_REPLY_ERROR;
}

/* What the collector lends us: draining the rings before a snapshot, and
 * whether a detach was served (then its loop ends). */
typedef struct serve_ctx {
    void (*drain)(void);
    bool detached;
} serve_ctx;

/*
 * detach: the slots are restored first, so that the last snapshot holds
 * everything up to the moment the program stopped calling us, and the
 * socket is closed before the reply, so that whoever reads it may attach
 * again at once. Then the collector's loop ends and the thread leaves.
 */
static enum mp_reply detach(serve_ctx *ctx, char *text, size_t len)
{
    if (!mp_got_active()) {
        snprintf(text, len, "not attached (started under the shim: it stays profiled)");
        return MP_REPLY_ERROR;
    }
    mp_got_restore();
    atomic_store(&mp_state, MP_STATE_FINISHED);
    ctx->drain();
    if (mp_write_snapshot(MP_TRIGGER_DETACH, text, len) != 0) {
        /* text holds "cannot write snapshot in DIR: reason" */
        static const char prefix[] = "detached; no last snapshot: ";
        if (len <= sizeof(prefix))
            return MP_REPLY_OK;
        size_t n = strnlen(text, len - sizeof(prefix));
        memmove(text + sizeof(prefix) - 1, text, n);
        memcpy(text, prefix, sizeof(prefix) - 1);
        text[sizeof(prefix) - 1 + n] = '\0';
    }
    ctx->detached = true;
    if (still_ours())
        close(listen_fd);
    listen_fd = -1;
    return MP_REPLY_OK;
}

/* Carries out one permitted request; text gets the reply's text. Adding
 * a request type (memprof_protocol.h's MP_REQUESTS) adds its case here. */
static enum mp_reply handle_request(serve_ctx *ctx, enum mp_request r, char *text, size_t len)
{
    switch (r) {
    case MP_REQ_SNAPSHOT:
        if (!request_rate_ok()) {
            snprintf(text, len, "a snapshot was taken less than 250 ms ago; try again");
            return MP_REPLY_BUSY;
        }
        ctx->drain();
        /* On failure the text is "cannot write snapshot in DIR: reason". */
        return mp_write_snapshot(MP_TRIGGER_REQUEST, text, len) == 0 ? MP_REPLY_OK
                                                                     : MP_REPLY_ERROR;
    case MP_REQ_ENABLE:
        return switch_state(MP_STATE_READY, text, len);
    case MP_REQ_DISABLE:
        return switch_state(MP_STATE_DORMANT, text, len);
    case MP_REQ_DETACH:
        return detach(ctx, text, len);
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
static struct { int fd; uint64_t deadline; } pending[MP_REQUEST_PENDING_MAX];
static int n_pending;

/* Tries to read and serve fd's request; false when it has not come yet. */
static bool try_serve(serve_ctx *ctx, int fd, uint64_t now, uint64_t deadline)
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
    enum mp_reply rc = handle_request(ctx, r, text, sizeof(text));
    reply_and_close(fd, rc, text);
    return true;
}

/* A new connection: refused at once unless the peer may ask. */
static void serve_new(serve_ctx *ctx, int fd, uint64_t now)
{
    char why[160];
    if (!peer_allowed(fd, why, sizeof(why))) {
        reply_and_close(fd, MP_REPLY_REFUSED, why);
        return;
    }
    uint64_t deadline = now + MP_PROTO_REQUEST_TIMEOUT_MS * 1000000ull;
    if (try_serve(ctx, fd, now, deadline))
        return;
    if (n_pending == MP_REQUEST_PENDING_MAX) {
        reply_and_close(fd, MP_REPLY_BUSY, "too many requests in progress; try again");
        return;
    }
    pending[n_pending].fd = fd;
    pending[n_pending++].deadline = deadline;
}

int mp_request_pollfds(struct pollfd *p, uint64_t *deadline)
{
    int n = 0;
    for (int i = 0; i < n_pending; i++) {   /* their lines, or their deadlines */
        p[n++] = (struct pollfd){.fd = pending[i].fd, .events = POLLIN};
        if (pending[i].deadline < *deadline)
            *deadline = pending[i].deadline;
    }
    if (listen_fd >= 0)
        p[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
    return n;
}

/* After a wake-up: no socket yet (its name was taken) is retried at most
 * once per REOPEN_RETRY_MS; pending requests are served, new connections
 * served or made pending. True when a detach was served. */
bool mp_request_serve(uint64_t now, void (*drain)(void))
{
    static uint64_t last_reopen;
    serve_ctx ctx = {.drain = drain};
    if (!still_ours())
        listen_fd = -1;   /* not ours any more: neither accept on it nor close it */
    if (listen_fd < 0 && now - last_reopen >= REOPEN_RETRY_MS * 1000000ull) {
        last_reopen = now;
        mp_request_open();
    }
    for (int i = 0; i < n_pending;) {
        if (try_serve(&ctx, pending[i].fd, now, pending[i].deadline))
            pending[i] = pending[--n_pending];
        else
            i++;
    }
    for (int i = 0; i < 64 && listen_fd >= 0 && !ctx.detached; i++) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            break;
        if (is_doorbell(fd))
            close(fd);
        else
            serve_new(&ctx, mp_fd_park(fd), now);
    }
    return ctx.detached;
}

/* The collector leaves: the name is free again, waiting clients hung up. */
void mp_request_close(void)
{
    for (int i = 0; i < n_pending; i++)
        close(pending[i].fd);
    n_pending = 0;
    if (still_ours())
        close(listen_fd);
    listen_fd = -1;
}

/* Fork child: the parent's socket and clients were in its collector's
 * table, not in ours; without one (os.c could not make it) the child
 * has copies, which it closes: the parent answers. */
void mp_request_after_fork_child(void)
{
    if (in_program_table)
        mp_request_close();
    n_pending = 0;
    listen_fd = -1;
}
