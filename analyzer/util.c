/*
 * util.c - error printing, checked allocation, parsing, string building
 * (see util.h and analyzer.h).
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyzer.h"
#include "memprof_text.h"

static void put_text(FILE *out, const char *text, bool escape_backslash);

/* The message escaped as untrusted text (it names files and programs an
 * attacker may have named: a snapshot planted in /tmp under a name full of
 * escapes), backslashes kept as they are: one line, always. */
void mp_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    fputs("memprof: ", stderr);
    if (n >= 0) {
        put_text(stderr, msg, false);
        free(msg);
    } else {
        fputs(fmt, stderr);
    }
    fputc('\n', stderr);
}

static void *oom(void *p)
{
    if (!p) {
        mp_error("out of memory");
        exit(MP_EXIT_BADINPUT);
    }
    return p;
}

void *mp_xmalloc(size_t n) { return oom(malloc(n ? n : 1)); }
void *mp_xcalloc(size_t n, size_t size) { return oom(calloc(n ? n : 1, size ? size : 1)); }
void *mp_xrealloc(void *p, size_t n) { return oom(realloc(p, n ? n : 1)); }
char *mp_xstrdup(const char *s) { return oom(strdup(s ? s : "")); }

void mp_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            oom(NULL);
        n *= 2;
    }
    *p = mp_xrealloc(*p, n * elem);
    *cap = n;
}

bool mp_parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

const char *mp_basename(const char *s)
{
    if (!s)
        return "";
    const char *slash = strrchr(s, '/');
    return slash ? slash + 1 : s;
}

int mp_open_regular(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- string building ---- */

void mp_strbuf_reset(mp_strbuf *b)
{
    b->len = 0;
    if (b->s)
        b->s[0] = '\0';
}

void mp_strbuf_printf(mp_strbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        mp_grow((void **)&b->s, &b->cap, b->len + (size_t)n + 1, 1);
    }
}

void mp_strbuf_free(mp_strbuf *b)
{
    free(b->s);
    *b = (mp_strbuf){0};
}

bool mp_proc_stat(int pid, char *state, long *threads)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || !p[2])
        return false;
    *state = p[2];
    *threads = 0;
    for (int field = 3; field <= 20 && (p = strchr(p + 1, ' ')) != NULL; field++)
        ;
    if (p)
        *threads = strtol(p + 1, NULL, 10);
    return true;
}

int mp_proc_secure(int pid)
{
    char path[64];
    unsigned long auxv[2 * 64];
    snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, auxv, sizeof(auxv));
    close(fd);
    if (n <= 0)
        return -1;
    for (size_t i = 0; (i + 2) * sizeof(auxv[0]) <= (size_t)n && auxv[i] != AT_NULL; i += 2)
        if (auxv[i] == AT_SECURE)
            return auxv[i + 1] != 0;
    return 0;
}

/* ---- untrusted text ---- */

/*
 * Names in a snapshot (program, module paths) and in the ELF files it
 * points to are untrusted: printed raw, an escape sequence in them would
 * drive the user's terminal (retitle it, clear it, fake output). Control
 * characters (C0, DEL, and C1 in UTF-8 or as lone bytes), bidi overrides
 * (which reorder what the line shows) and bytes that are not UTF-8 print
 * as \xNN; backslash itself as \\ so the output stays unambiguous.
 */
void mp_put_text(FILE *out, const char *text)
{
    put_text(out, text, true);
}

static void put_text(FILE *out, const char *text, bool escape_backslash)
{
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    while (*s) {
        size_t n = mp_utf8_len(s);
        bool control = n && (mp_text_is_control(s, n) || mp_text_is_bidi(s, n));
        if (n == 1 && !control && *s != '\\') {
            fputc(*s, out);
        } else if (n > 1 && !control) {
            fwrite(s, 1, n, out);
        } else if (*s == '\\') {
            fputs(escape_backslash ? "\\\\" : "\\", out);
        } else {
            for (size_t i = 0; i < (n ? n : 1); i++)
                fprintf(out, "\\x%02x", s[i]);
        }
        s += n ? n : 1;
    }
}
