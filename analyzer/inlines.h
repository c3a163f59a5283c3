/*
 * inlines.h - one code address to its chain of functions, innermost first,
 * inlined callers expanded from DWARF (inlines.c); symbolize.c caches the
 * chains per (file, address).
 */
#ifndef MEMPROF_INLINES_H
#define MEMPROF_INLINES_H

#include <stdint.h>

#include "elffile.h"
#include "strtab.h"

/* One function in an address's chain (every string interned). */
typedef struct mp_chain_frame {
    const char *function;   /* demangled; "??" when unknown */
    const char *system_name;
    int start_line;
    const char *file;       /* or NULL */
    int line;
    const char *keypart;    /* the frame's symbolic identity */
} mp_chain_frame;

typedef struct mp_inlines mp_inlines;

/* Strings are interned in strs, which must outlive the mp_inlines. */
mp_inlines *mp_inlines_new(mp_strtab *strs);
void mp_inlines_free(mp_inlines *in);
/* The chain at vaddr, an address of mf's file: *n frames in a new array
 * the caller frees; NULL and 0 when nothing is known there. */
mp_chain_frame *mp_inlines_resolve(mp_inlines *in, const mp_elffile *mf, uint64_t vaddr,
                                   uint32_t *n);

#endif
