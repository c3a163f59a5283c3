/*
 * cuindex.h - the compilation unit that holds an address, from the units'
 * own address ranges (cuindex.c), for modules whose .debug_aranges libdwfl
 * cannot be trusted with.
 */
#ifndef MEMPROF_CUINDEX_H
#define MEMPROF_CUINDEX_H

#include <elfutils/libdwfl.h>

typedef struct mp_cuindex mp_cuindex;

/* Every range of every unit of mod, sorted; never NULL. */
mp_cuindex *mp_cuindex_build(Dwfl_Module *mod);
Dwfl_Module *mp_cuindex_module(const mp_cuindex *ix);
/* The unit whose ranges contain vaddr (a module address, as
 * dwfl_module_addrdie takes), its bias in *bias; NULL when none does. */
Dwarf_Die *mp_cuindex_find(mp_cuindex *ix, Dwarf_Addr vaddr, Dwarf_Addr *bias);
void mp_cuindex_free(mp_cuindex *ix);

#endif
