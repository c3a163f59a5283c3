/*
 * memprof_protocol.h - the request protocol between `memprof` commands and a
 * profiled process, shared by the shim (preload/collector.c answers) and the
 * analyzer (analyzer/cmd_snapshot.c asks).
 *
 * Transport: a stream socket in the abstract unix namespace, named
 * "\0memprof.<pid>" (no file system entry; the pid is the profiled
 * process's). One request per connection:
 *
 *   client -> shim    "<request>\n"              one line, < MP_PROTO_MAX_REQUEST
 *   shim -> client    "<reply> <text>\n"         one line, < MP_PROTO_MAX_REPLY
 *
 * then the shim closes the connection. A request is a bare word from the
 * table below; anything else is answered "error unknown request". A reply
 * word is from the reply table; its text is the path written (ok) or one
 * human-readable reason (error, refused, busy), without newlines. Only
 * the process's own user and root are answered anything but "refused";
 * the shim never waits for a request line (a silent client is dropped
 * after MP_PROTO_REQUEST_TIMEOUT_MS) and answers "busy" to more than one
 * snapshot request per MP_PROTO_BUSY_RETRY_MS.
 *
 * Adding a request is one line in MP_REQUESTS, one case in the shim's
 * dispatch (collector.c, serve_request) and the command that sends it.
 *
 * Static inline and safe inside the shim: no allocation, no stdio.
 */
#ifndef MEMPROF_PROTOCOL_H
#define MEMPROF_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#define MP_PROTO_MAX_REQUEST 64
#define MP_PROTO_MAX_REPLY 4352        /* "ok " + a path of up to PATH_MAX */
#define MP_PROTO_SOCKET_PREFIX "memprof."
#define MP_PROTO_REPLY_TIMEOUT_MS 30000 /* the client's patience, end to end */
#define MP_PROTO_REQUEST_TIMEOUT_MS 1000 /* the shim's, for the request line */
#define MP_PROTO_BUSY_RETRY_MS 250       /* the shim's rate limit, the client's retry */

/*   X(ID, word, what it does and what the ok text is) */
#define MP_REQUESTS(X)                                                                     \
    X(SNAPSHOT, "snapshot", "write a snapshot now; ok <path of the file>")                 \
    X(ENABLE, "enable", "record from now on (dormant or attached); ok recording")          \
    X(DISABLE, "disable", "record nothing from now on, stay loaded; ok dormant")           \
    X(DETACH, "detach", "an attached process only: a last snapshot, then every call goes " \
                        "straight to the real functions; ok <path of the last snapshot>")

enum mp_request {
    MP_REQ_UNKNOWN = 0,
#define MP_REQ_ID_(ID, word, doc) MP_REQ_##ID,
    MP_REQUESTS(MP_REQ_ID_)
#undef MP_REQ_ID_
    MP_REQ_COUNT
};

/*
 * `memprof attach` is not a request (there is no shim to ask yet): gdb
 * calls the library's memprof_attach(config) (preload/attach.c), whose
 * result is one of these; config is lines of MEMPROF_<NAME>=<value>
 * (include/memprof_options.h), MEMPROF_OUT absolute.
 */
enum mp_attach_result {
    MP_ATTACH_OK = 0,
    MP_ATTACH_ALREADY = 1,     /* preloaded, or attached and not detached */
    MP_ATTACH_BAD_CONFIG = 2,
    MP_ATTACH_NO_MEMORY = 3,
    MP_ATTACH_NO_SYMBOLS = 4,  /* no malloc/free to be found in the process */
    MP_ATTACH_NO_THREAD = 5,   /* the collector thread could not start */
    MP_ATTACH_BUSY = 6,        /* another attach is under way */
    MP_ATTACH_SECURE = 7       /* secure execution (setuid/setgid): the shim stays inert */
};

/*   X(ID, word) */
#define MP_REPLIES(X) \
    X(OK, "ok")       \
    X(ERROR, "error") \
    X(REFUSED, "refused") /* the asker is not the process's user or root */ \
    X(BUSY, "busy")   /* rate limit: the text says when to try again */

enum mp_reply {
#define MP_REPLY_ID_(ID, word) MP_REPLY_##ID,
    MP_REPLIES(MP_REPLY_ID_)
#undef MP_REPLY_ID_
    MP_REPLY_COUNT
};

static inline const char *mp_proto_request_word(enum mp_request r)
{
    static const char *const words[MP_REQ_COUNT] = {
        "",
#define MP_REQ_WORD_(ID, word, doc) word,
        MP_REQUESTS(MP_REQ_WORD_)
#undef MP_REQ_WORD_
    };
    return r > MP_REQ_UNKNOWN && r < MP_REQ_COUNT ? words[r] : "";
}

static inline const char *mp_proto_reply_word(enum mp_reply r)
{
    static const char *const words[MP_REPLY_COUNT] = {
#define MP_REPLY_WORD_(ID, word) word,
        MP_REPLIES(MP_REPLY_WORD_)
#undef MP_REPLY_WORD_
    };
    return r < MP_REPLY_COUNT ? words[r] : "";
}

/* strlen(word) if s[0..n) starts with word, else 0 (also for n == 0). */
static inline size_t mp_proto_word_at(const char *s, size_t n, const char *word)
{
    size_t i = 0;
    for (; word[i]; i++)
        if (i >= n || s[i] != word[i])
            return 0;
    return i;
}

/*
 * The abstract socket address of pid's shim into *sa; returns the address
 * length to pass to bind/connect. Digits by hand: the shim has no stdio.
 */
static inline socklen_t mp_proto_address(pid_t pid, struct sockaddr_un *sa)
{
    char *p = sa->sun_path;
    const char *prefix = MP_PROTO_SOCKET_PREFIX;
    char digits[12];
    size_t nd = 0;
    uint32_t v = (uint32_t)pid;
    for (size_t i = 0; i < sizeof(*sa); i++)
        ((char *)sa)[i] = 0;
    sa->sun_family = AF_UNIX;
    *p++ = '\0';   /* abstract namespace */
    while (*prefix)
        *p++ = *prefix++;
    do
        digits[nd++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (nd)
        *p++ = digits[--nd];
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)(p - sa->sun_path));
}

/* The request in buf[0..n) (what one read returned): exactly one word of
 * MP_REQUESTS, optionally ended by '\n'. */
static inline enum mp_request mp_proto_parse_request(const char *buf, size_t n)
{
    if (n && buf[n - 1] == '\n')
        n--;
    for (int r = MP_REQ_UNKNOWN + 1; r < MP_REQ_COUNT; r++) {
        const char *w = mp_proto_request_word((enum mp_request)r);
        size_t k = mp_proto_word_at(buf, n, w);
        if (k && k == n)
            return (enum mp_request)r;
    }
    return MP_REQ_UNKNOWN;
}

/* "<word>\n" into buf (cap >= MP_PROTO_MAX_REQUEST); returns its length. */
static inline size_t mp_proto_format_request(enum mp_request r, char *buf)
{
    const char *w = mp_proto_request_word(r);
    size_t n = 0;
    while (w[n] && n + 2 < MP_PROTO_MAX_REQUEST) {
        buf[n] = w[n];
        n++;
    }
    buf[n++] = '\n';
    buf[n] = '\0';
    return n;
}

/* "<reply> <text>\n" into buf (cap >= MP_PROTO_MAX_REPLY), the text cut
 * to fit and newlines in it replaced; returns the length. */
static inline size_t mp_proto_format_reply(enum mp_reply r, const char *text, char *buf)
{
    const char *w = mp_proto_reply_word(r);
    size_t n = 0;
    while (*w)
        buf[n++] = *w++;
    buf[n++] = ' ';
    for (; text && *text && n + 2 < MP_PROTO_MAX_REPLY; text++)
        buf[n++] = *text == '\n' ? ' ' : *text;
    buf[n++] = '\n';
    buf[n] = '\0';
    return n;
}

/* Splits a reply line (without its '\n') into its reply word and *text;
 * -1 when the line starts with no known reply word and a space. */
static inline int mp_proto_parse_reply(const char *line, size_t n, const char **text)
{
    for (int r = 0; r < MP_REPLY_COUNT; r++) {
        size_t k = mp_proto_word_at(line, n, mp_proto_reply_word((enum mp_reply)r));
        if (k && k < n && line[k] == ' ') {
            *text = line + k + 1;
            return r;
        }
    }
    return -1;
}

#endif
