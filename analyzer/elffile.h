/*
 * elffile.h - one ELF file of a snapshot's module map, opened for
 * symbolization: located (the recorded path, else the distribution's
 * build-ID debug file), checked against the recorded build ID, and its
 * function symbols sorted for lookup.
 */
#ifndef MEMPROF_ELFFILE_H
#define MEMPROF_ELFFILE_H

#include <elfutils/libdwfl.h>
#include <stddef.h>
#include <stdint.h>

#include "memprof_format.h"

/* A function symbol; name points into libelf's copy of the string table. */
typedef struct mp_funcsym {
    uint64_t addr, size;
    const char *name;
    int rank;               /* binding preference: lower wins at equal addr */
} mp_funcsym;

typedef struct mp_elffile {
    const char *key;        /* the caller's identity for it (interned) */
    Dwfl *dwfl;             /* NULL when no usable file was found */
    Dwfl_Module *mod;       /* reported at bias 0: takes ELF virtual addresses */
    mp_funcsym *syms;       /* sorted by addr, one per address */
    size_t n_syms;
} mp_elffile;

/* Opens the file of module record m (whose path is path). Never NULL; when
 * no file matching the record can be had, dwfl and mod are NULL. */
mp_elffile *mp_elffile_open(const char *key, const mp_module *m, const char *path);
void mp_elffile_free(mp_elffile *f);
/* The function symbol containing vaddr, or NULL. */
const mp_funcsym *mp_elffile_symbol(const mp_elffile *f, uint64_t vaddr);

#endif
