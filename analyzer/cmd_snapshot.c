/*
 * cmd_snapshot.c - `memprof snapshot PID`: ask a running profiled process
 * for a snapshot now.
 *
 * The shim's collector thread listens on the abstract unix socket of
 * include/memprof_protocol.h; we connect, check that the socket really is
 * PID's, send the request line and print the path from the "ok" reply.
 * A single-threaded process with the default settings has no collector
 * thread and so no socket: a refused connection to a process that has
 * libmemprof mapped says so at once.
 * ask() is the whole client side of the protocol, for any request.
 */
#include "analyzer.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "memprof_protocol.h"
#include "memprof_text.h"


/* Connected socket to the shim of pid, or -1 (errno from connect). */
static int connect_shim(pid_t pid)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* For AF_UNIX, SO_SNDTIMEO also bounds a connect to a full backlog. */
    struct timeval tv = {MP_PROTO_REPLY_TIMEOUT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_un sa;
    socklen_t alen = mp_proto_address(pid, &sa);
    if (connect(fd, (struct sockaddr *)&sa, alen) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* Reads one '\n'-terminated line within the deadline; returns its length or -1. */
static ssize_t read_line(int fd, char *buf, size_t cap)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t n = 0;
    while (n + 1 < cap) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        struct pollfd p = {fd, POLLIN, 0};
        int r = spent >= MP_PROTO_REPLY_TIMEOUT_MS
                    ? 0 : poll(&p, 1, (int)(MP_PROTO_REPLY_TIMEOUT_MS - spent));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            errno = r == 0 ? ETIMEDOUT : errno;
            return -1;
        }
        ssize_t got = read(fd, buf + n, 1);   /* byte-wise: the reply is one short line */
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            errno = got == 0 ? ECONNRESET : errno;
            return -1;
        }
        if (buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

/* argv[0] is the command: snapshot, detach, enable or disable. */
static int parse_pid(int argc, char **argv, pid_t *pid)
{
    uint64_t v;
    if (argc != 2) {
        mp_error("%s: %s; usage: memprof %s PID", argv[0],
                 argc < 2 ? "missing PID" : "too many arguments", argv[0]);
        return -1;
    }
    if (!mp_parse_u64(argv[1], &v) || v == 0 || v > INT_MAX) {
        mp_error("%s: bad PID '%s'; usage: memprof %s PID", argv[0], argv[1], argv[0]);
        return -1;
    }
    *pid = (pid_t)v;
    return 0;
}

/* Whether libmemprof is mapped into pid (its maps can be read: our own
 * processes, or root's view). */
static bool shim_loaded(pid_t pid)
{
    char path[64], line[4096];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        const char *base = strrchr(line, '/');
        found = base && strncmp(base, "/libmemprof.so", 14) == 0;
    }
    fclose(f);
    return found;
}

/* Whether pid has exited and waits for its parent to reap it (a zombie:
 * its maps and socket are gone, but kill(pid, 0) still succeeds). */
static bool exited_unreaped(pid_t pid)
{
    char state;
    long threads;
    return mp_proc_stat((int)pid, &state, &threads) && (state == 'Z' || state == 'X');
}

/* Whether pid runs more than one thread. */
static bool threaded(pid_t pid)
{
    char state;
    long threads;
    return mp_proc_stat((int)pid, &state, &threads) && threads > 1;
}

/* Whether pid was started with libmemprof in LD_PRELOAD (memprof run, or by
 * hand), as opposed to attached: its initial environment says so. Returns
 * -1 when that cannot be told: another user's process, or one that wrote
 * its title over the environment (setproctitle: nginx and postgres leave
 * zeros there, and no NAME=value entry). */
static int preloaded(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *var = NULL;
    size_t cap = 0;
    int found = 0;
    bool an_environment = false;
    while (!found && getdelim(&var, &cap, '\0', f) > 0) {
        found = strncmp(var, "LD_PRELOAD=", 11) == 0 && strstr(var, "libmemprof") != NULL;
        an_environment |= var[0] != '=' && strchr(var, '=') != NULL;
    }
    free(var);
    fclose(f);
    return found ? 1 : an_environment ? 0 : -1;
}

/* Why a process with the shim mapped has no request channel, said as the
 * request r would want it said. */
static void say_no_channel(pid_t pid, enum mp_request r)
{
    int pre = preloaded(pid);
    if (mp_proc_secure((int)pid) == 1)
        mp_error("process %d runs under secure execution (a setuid, setgid or file-capability program): memprof "
                 "stays inert there, records nothing and takes no requests", (int)pid);
    else if (pre == 0 || (pre < 0 && threaded(pid)))
        mp_error("process %d has memprof loaded but no request channel: it was detached "
                 "(`memprof attach %d` profiles it again)", (int)pid, (int)pid);
    else if (r == MP_REQ_DETACH)
        mp_error("process %d is not attached: it was started under memprof (LD_PRELOAD) and "
                 "stays profiled; only an attached process can be detached", (int)pid);
    else
        mp_error("process %d is profiled but single-threaded, with no request channel "
                 "(the profiler starts no thread of its own there); it answers once the "
                 "program starts a thread; otherwise start it with MEMPROF_SIGNAL=SIG "
                 "(then `kill -SIG %d`) or MEMPROF_INTERVAL=SECONDS", (int)pid, (int)pid);
}

/* A socket bound by another process under this name would be a spoof. */
static int check_peer(int fd, pid_t pid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid != pid) {
        mp_error("socket %s%d belongs to process %d (uid %u), not to %d; not asking it",
                 MP_PROTO_SOCKET_PREFIX, (int)pid, (int)cred.pid, (unsigned)cred.uid, (int)pid);
        return -1;
    }
    return 0;
}

/* Sends request r on fd and reads the reply line into line; returns the
 * reply code with *text pointing into line, or -1 (message printed). */
static int exchange(int fd, pid_t pid, enum mp_request r, char *line, size_t cap,
                    const char **text)
{
    char req[MP_PROTO_MAX_REQUEST];
    size_t len = mp_proto_format_request(r, req);
    /* A shim that refuses at once (another user) may have answered and
     * closed before the request went out: its reply is still to be read. */
    if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len && errno != EPIPE) {
        mp_error("process %d: sending the request failed: %s", (int)pid, strerror(errno));
        return -1;
    }
    ssize_t n = read_line(fd, line, cap);
    if (n < 0) {
        mp_error("process %d: no answer: %s", (int)pid,
                 errno == ETIMEDOUT ? "timed out after 30 s"
                 : errno == ECONNRESET ? "it closed the connection" : strerror(errno));
        return -1;
    }
    int code = mp_proto_parse_reply(line, (size_t)n, text);
    if (code < 0)
        mp_error("process %d: unexpected answer '%.80s'", (int)pid, line);
    return code;
}

/*
 * The client side of one request to pid: returns the reply code with *text
 * (the reply's text, in line) or -1 when there was no valid reply; every
 * failure has printed its one line.
 */
static int ask(pid_t pid, enum mp_request r, char *line, size_t cap, const char **text)
{
    if (kill(pid, 0) < 0 && errno == ESRCH) {
        mp_error("no process %d", (int)pid);
        return -1;
    }
    int fd = connect_shim(pid);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EINPROGRESS)
            mp_error("process %d did not accept the connection within 30 s", (int)pid);
        else if (exited_unreaped(pid))
            mp_error("process %d has exited (a zombie its parent has not reaped yet)", (int)pid);
        else if (errno == ECONNREFUSED && shim_loaded(pid))
            say_no_channel(pid, r);
        else
            mp_error("process %d is not profiled by memprof", (int)pid);
        return -1;
    }
    int code = check_peer(fd, pid) < 0 ? -1 : exchange(fd, pid, r, line, cap, text);
    close(fd);
    return code;
}

/* Asks for a snapshot, again after a "busy" reply (the shim's rate
 * limit) for up to BUSY_PATIENCE_MS. */
#define BUSY_PATIENCE_MS 3000

static int ask_snapshot(pid_t pid, char *line, size_t cap, const char **text)
{
    for (int waited = 0;; waited += MP_PROTO_BUSY_RETRY_MS) {
        int code = ask(pid, MP_REQ_SNAPSHOT, line, cap, text);
        if (code != MP_REPLY_BUSY || waited >= BUSY_PATIENCE_MS)
            return code;
        struct timespec t = {0, MP_PROTO_BUSY_RETRY_MS * 1000000L};
        nanosleep(&t, NULL);
    }
}

/* A reply's text on stdout: as it is (a path a script will use), unless
 * it holds control characters (a hostile program's own reply, or an
 * output directory named so), which print escaped. */
static void put_reply(const char *text)
{
    bool plain = true;
    for (const unsigned char *c = (const unsigned char *)text; *c && plain;) {
        size_t n = mp_utf8_len(c);
        plain = n && !mp_text_is_control(c, n) && !mp_text_is_bidi(c, n);
        c += n;
    }
    if (plain)
        fputs(text, stdout);
    else
        mp_put_text(stdout, text);
    fputc('\n', stdout);
}

int cmd_snapshot(int argc, char **argv)
{
    pid_t pid;
    char line[MP_PROTO_MAX_REPLY];
    const char *text = "";
    if (parse_pid(argc, argv, &pid) < 0)
        return MP_EXIT_USAGE;
    int code = ask_snapshot(pid, line, sizeof(line), &text);
    switch (code) {
    case MP_REPLY_OK:
        if (*text) {
            put_reply(text);
            return MP_EXIT_OK;
        }
        mp_error("process %d: unexpected answer '%.80s'", (int)pid, line);
        break;
    case MP_REPLY_REFUSED:
        mp_error("process %d refused the request: %s", (int)pid, text);
        break;
    case MP_REPLY_BUSY:
        mp_error("process %d is busy: %s", (int)pid, text);
        break;
    case MP_REPLY_ERROR:
        mp_error("process %d could not write a snapshot: %s", (int)pid, text);
        break;
    default:
        break;   /* no valid reply: ask() said why */
    }
    return MP_EXIT_USAGE;
}

/* detach, enable, disable: the reply's text is printed as it is (the last
 * snapshot's path, "recording", "dormant"); an error is one line, exit 1. */
static int switch_request(int argc, char **argv, enum mp_request r)
{
    pid_t pid;
    char line[MP_PROTO_MAX_REPLY];
    const char *text = "";
    if (parse_pid(argc, argv, &pid) < 0)
        return MP_EXIT_USAGE;
    int code = ask(pid, r, line, sizeof(line), &text);
    if (code == MP_REPLY_OK) {
        put_reply(text);
        return MP_EXIT_OK;
    }
    if (code == MP_REPLY_ERROR || code == MP_REPLY_BUSY)
        mp_error("process %d could not %s: %s", (int)pid, argv[0], text);
    else if (code == MP_REPLY_REFUSED)
        mp_error("process %d refused the request: %s", (int)pid, text);
    return MP_EXIT_USAGE;
}

int cmd_detach(int argc, char **argv)
{
    return switch_request(argc, argv, MP_REQ_DETACH);
}

int cmd_enable(int argc, char **argv)
{
    return switch_request(argc, argv, MP_REQ_ENABLE);
}

int cmd_disable(int argc, char **argv)
{
    return switch_request(argc, argv, MP_REQ_DISABLE);
}
