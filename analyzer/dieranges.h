/*
 * dieranges.h - DWARF entries by the address ranges they cover, sorted
 * for binary search (dieranges.c): the units of a module (cuindex.c), the
 * functions of a Rust unit (rustscopes.c).
 */
#ifndef MEMPROF_DIERANGES_H
#define MEMPROF_DIERANGES_H

#include <elfutils/libdw.h>
#include <stddef.h>

typedef struct mp_dierange {
    Dwarf_Addr lo, hi;      /* [lo, hi) */
    Dwarf_Die die;
} mp_dierange;

typedef struct mp_dieranges {
    mp_dierange *r;
    size_t n, cap;
} mp_dieranges;   /* all zero: empty */

/* Every non-empty range of die (DW_AT_low_pc/high_pc or DW_AT_ranges). */
void mp_dieranges_add(mp_dieranges *t, Dwarf_Die *die);
/* Once, after the last add. */
void mp_dieranges_sort(mp_dieranges *t);
/* The entry whose range holds pc, or NULL. */
Dwarf_Die *mp_dieranges_find(mp_dieranges *t, Dwarf_Addr pc);
void mp_dieranges_free(mp_dieranges *t);

#endif
