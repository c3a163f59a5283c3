/*
 * rustscopes.h - the DWARF scopes holding an address in a Rust
 * compilation unit, where libdw's dwarf_getscopes finds none
 * (rustscopes.c).
 */
#ifndef MEMPROF_RUSTSCOPES_H
#define MEMPROF_RUSTSCOPES_H

#include <elfutils/libdw.h>

typedef struct mp_rustscopes mp_rustscopes;

/* The functions of one unit, indexed by address; NULL when cu is not a
 * Rust unit. The unit must outlive the index. */
mp_rustscopes *mp_rustscopes_build(Dwarf_Die *cu);
/* As dwarf_getscopes: the scopes containing pc (a unit address, bias
 * taken off), innermost first, in *scopes (malloc'd, the caller frees);
 * their number, 0 when no function holds pc. */
int mp_rustscopes_get(mp_rustscopes *ix, Dwarf_Addr pc, Dwarf_Die **scopes);
void mp_rustscopes_free(mp_rustscopes *ix);

#endif
