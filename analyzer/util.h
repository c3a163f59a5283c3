/*
 * util.h - small helpers shared by the analyzer's files: allocation that
 * cannot fail silently, number parsing for command options, path basenames,
 * and a string interning table.
 *
 * The analyzer is a short-lived command-line tool, so running out of memory
 * is reported and ends the process (exit 2) rather than threading NULL
 * checks through every caller.
 */
#ifndef MEMPROF_UTIL_H
#define MEMPROF_UTIL_H

#include <stdbool.h>
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

/* A growable string for building output or keys; s is "" until written. */
typedef struct mp_strbuf {
    char *s;
    size_t len, cap;
} mp_strbuf;
void mp_strbuf_reset(mp_strbuf *b);
void mp_strbuf_printf(mp_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mp_strbuf_free(mp_strbuf *b);

/*
 * String interning: equal strings map to one stable pointer that lives as
 * long as the table. Lets caches compare names by pointer and lets every
 * mp_frame string stay valid until the symbolizer is freed.
 */
typedef struct mp_strtab mp_strtab;
mp_strtab *mp_strtab_new(void);
void mp_strtab_free(mp_strtab *t);
const char *mp_intern(mp_strtab *t, const char *s);
const char *mp_intern_n(mp_strtab *t, const char *s, size_t len);
/*
 * Interns a symbol name as users should see it: symbol version and GCC
 * clone suffixes cut ("foo.part.0", "malloc@@GLIBC_2.2.5" -> "foo",
 * "malloc"), C++ names demangled. NULL for NULL or empty names.
 */
const char *mp_intern_symbol(mp_strtab *t, const char *raw);

#endif
