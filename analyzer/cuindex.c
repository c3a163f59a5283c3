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

#include <stdlib.h>

#include "dieranges.h"
#include "util.h"

struct mp_cuindex {
    Dwfl_Module *mod;
    Dwarf_Addr bias;
    mp_dieranges units;
};

mp_cuindex *mp_cuindex_build(Dwfl_Module *mod)
{
    mp_cuindex *ix = mp_xcalloc(1, sizeof(*ix));
    ix->mod = mod;
    Dwarf_Addr bias = 0;
    for (Dwarf_Die *c = NULL; (c = dwfl_module_nextcu(mod, c, &bias)) != NULL;) {
        ix->bias = bias;
        mp_dieranges_add(&ix->units, c);
    }
    mp_dieranges_sort(&ix->units);
    return ix;
}

Dwfl_Module *mp_cuindex_module(const mp_cuindex *ix)
{
    return ix->mod;
}

Dwarf_Die *mp_cuindex_find(mp_cuindex *ix, Dwarf_Addr vaddr, Dwarf_Addr *bias)
{
    *bias = ix->bias;
    return mp_dieranges_find(&ix->units, vaddr - ix->bias);
}

void mp_cuindex_free(mp_cuindex *ix)
{
    if (!ix)
        return;
    mp_dieranges_free(&ix->units);
    free(ix);
}
