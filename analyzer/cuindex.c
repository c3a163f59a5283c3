/*
 * cuindex.c - the compilation unit that holds an address (cuindex.h).
 *
 * libdwfl finds an address's unit through .debug_aranges and takes each
 * listed range as reaching up to the next one listed, so where only some
 * units are listed (a Go program with cgo: gcc writes aranges for its
 * units, the Go linker none for its own) an address in an unlisted unit
 * is given the listed unit below it. Here the units' own DW_AT_low_pc,
 * high_pc and DW_AT_ranges are read once per module, sorted, and searched:
 * O(ranges log ranges) once, O(log ranges) per address.
 */
#include "cuindex.h"

#include <elfutils/libdw.h>
#include <stdlib.h>

#include "util.h"

typedef struct cu_range {
    Dwarf_Addr lo, hi;      /* [lo, hi), module addresses minus bias */
    Dwarf_Die *cu;
} cu_range;

struct mp_cuindex {
    Dwfl_Module *mod;
    Dwarf_Addr bias;
    cu_range *r;
    size_t n, cap;
};

static int range_cmp(const void *a, const void *b)
{
    const cu_range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

mp_cuindex *mp_cuindex_build(Dwfl_Module *mod)
{
    mp_cuindex *ix = mp_xcalloc(1, sizeof(*ix));
    ix->mod = mod;
    Dwarf_Addr bias = 0;
    for (Dwarf_Die *c = NULL; (c = dwfl_module_nextcu(mod, c, &bias)) != NULL;) {
        ix->bias = bias;
        Dwarf_Addr base, lo, hi;
        for (ptrdiff_t off = 0; (off = dwarf_ranges(c, off, &base, &lo, &hi)) > 0;) {
            if (lo >= hi)
                continue;
            mp_grow((void **)&ix->r, &ix->cap, ix->n + 1, sizeof(cu_range));
            ix->r[ix->n++] = (cu_range){lo, hi, c};
        }
    }
    if (ix->n)
        qsort(ix->r, ix->n, sizeof(cu_range), range_cmp);
    return ix;
}

Dwfl_Module *mp_cuindex_module(const mp_cuindex *ix)
{
    return ix->mod;
}

Dwarf_Die *mp_cuindex_find(const mp_cuindex *ix, Dwarf_Addr vaddr, Dwarf_Addr *bias)
{
    Dwarf_Addr pc = vaddr - ix->bias;
    size_t lo = 0, hi = ix->n;   /* the last range starting at or below pc */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->r[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || pc >= ix->r[lo - 1].hi)
        return NULL;
    *bias = ix->bias;
    return ix->r[lo - 1].cu;
}

void mp_cuindex_free(mp_cuindex *ix)
{
    if (!ix)
        return;
    free(ix->r);
    free(ix);
}
