/*
 * strtab.h - the symbolizer's string table.
 */
#ifndef MEMPROF_STRTAB_H
#define MEMPROF_STRTAB_H

#include <stddef.h>

/*
 * String interning: equal strings map to one stable pointer that lives as
 * long as the table. Lets caches compare names by pointer and lets every
 * mp_frame string stay valid until the symbolizer is freed.
 */
typedef struct mp_strtab mp_strtab;
mp_strtab *mp_strtab_new(void);
void mp_strtab_free(mp_strtab *t);
const char *mp_strtab_intern(mp_strtab *t, const char *s);
const char *mp_strtab_intern_n(mp_strtab *t, const char *s, size_t len);
/*
 * Interns a symbol name as users should see it: symbol version and GCC
 * clone suffixes cut ("foo.part.0", "malloc@@GLIBC_2.2.5" -> "foo",
 * "malloc"), C++ names demangled. NULL for NULL or empty names.
 */
const char *mp_strtab_intern_symbol(mp_strtab *t, const char *raw);
/* The same name left mangled: only the version and clone suffixes cut
 * ("_ZN3Foo4growEi.part.0" -> "_ZN3Foo4growEi"). NULL for NULL or empty. */
const char *mp_strtab_intern_linkage(mp_strtab *t, const char *raw);

#endif
