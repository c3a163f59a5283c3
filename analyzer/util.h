/*
 * util.h - small helpers shared by the analyzer's files: allocation that
 * cannot fail silently, number parsing for command options, path basenames,
 * untrusted text for a terminal, and a string interning table.
 *
 * The analyzer is a short-lived command-line tool, so running out of memory
 * is reported and ends the process (exit 2) rather than threading NULL
 * checks through every caller.
 */
#ifndef MEMPROF_UTIL_H
#define MEMPROF_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

/* malloc/calloc/realloc/strdup that print "memprof: out of memory" and exit. */
__attribute__((returns_nonnull, malloc)) void *mp_xmalloc(size_t n);
__attribute__((returns_nonnull, malloc)) void *mp_xcalloc(size_t n, size_t size);
__attribute__((returns_nonnull)) void *mp_xrealloc(void *p, size_t n);
__attribute__((returns_nonnull, malloc)) char *mp_xstrdup(const char *s);

/* Grows *p (an array of elem-sized items, capacity *cap) to hold `need`. */
void mp_grow(void **p, size_t *cap, size_t need, size_t elem);

/*
 * Parses a whole decimal unsigned integer (no sign, no trailing junk, no
 * overflow). Returns false on anything else, leaving *out untouched.
 */
bool mp_parse_u64(const char *s, uint64_t *out);

/* The part after the last '/', or s itself; never NULL (NULL -> ""). */
const char *mp_basename(const char *s);

/*
 * Opens a regular file read-only; -1 for anything else. O_NONBLOCK so that
 * a FIFO or device named by untrusted input cannot make us hang.
 */
int mp_open_regular(const char *path);

/* pid's state letter and thread count from /proc/PID/stat (fields 3 and
 * 20, after the name, which may hold ')' and spaces); false when it cannot
 * be read. */
bool mp_proc_stat(int pid, char *state, long *threads);
/* Whether pid runs under secure execution (AT_SECURE in /proc/PID/auxv: a
 * setuid or setgid program, file capabilities): 1 or 0, -1 when its
 * auxiliary vector cannot be read (another user's, or a non-dumpable
 * process of one's own). */
int mp_proc_secure(int pid);

/* A growable string for building output or keys; s is "" until written. */
typedef struct mp_strbuf {
    char *s;
    size_t len, cap;
} mp_strbuf;
void mp_strbuf_reset(mp_strbuf *b);
void mp_strbuf_printf(mp_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mp_strbuf_free(mp_strbuf *b);

/*
 * Untrusted text (names from a snapshot or from the ELF and DWARF files it
 * points to) for a terminal: control characters (C0, DEL, C1), bidi
 * overrides and bytes that are not UTF-8 as \xNN, a backslash as \\.
 */
void mp_put_text(FILE *out, const char *text);

#endif
