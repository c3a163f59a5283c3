/*
 * rustscopes.c - the scopes holding an address in a Rust unit
 * (rustscopes.h).
 *
 * rustc puts every function inside its module's DW_TAG_namespace (and a
 * method inside its type's), where libdw's dwarf_getscopes (0.188) does
 * not look: it finds nothing, so the inlined frames of an address (all of
 * Vec's allocation path) were lost and the site took the innermost line
 * for the outer function's ("leaky_cache_insert (alloc.rs:95)"). Here a
 * unit's functions are collected once, through its namespaces and types,
 * with their address ranges, sorted; an address finds its function by
 * binary search and the inlined and lexical scopes inside it by descent.
 * O(the unit's DIEs) once, O(log functions + nesting) per address.
 */
#include "rustscopes.h"

#include <dwarf.h>
#include <stdbool.h>
#include <stdlib.h>

#include "dieranges.h"
#include "util.h"

/* Nesting deeper than this is not followed (a hostile file's recursion). */
#define MAX_DEPTH 64

struct mp_rustscopes {
    mp_dieranges functions;
};

/* DIEs without addresses that hold functions with addresses. */
static bool is_container(int tag)
{
    return tag == DW_TAG_namespace || tag == DW_TAG_structure_type ||
           tag == DW_TAG_union_type || tag == DW_TAG_enumeration_type ||
           tag == DW_TAG_class_type;
}

static void collect(mp_rustscopes *ix, Dwarf_Die *parent, int depth)
{
    Dwarf_Die child;
    if (depth > MAX_DEPTH || dwarf_child(parent, &child) != 0)
        return;
    do {
        int tag = dwarf_tag(&child);
        if (is_container(tag)) {
            collect(ix, &child, depth + 1);
        } else if (tag == DW_TAG_subprogram) {
            mp_dieranges_add(&ix->functions, &child);
        }
    } while (dwarf_siblingof(&child, &child) == 0);
}

mp_rustscopes *mp_rustscopes_build(Dwarf_Die *cu)
{
    if (dwarf_srclang(cu) != DW_LANG_Rust)
        return NULL;
    mp_rustscopes *ix = mp_xcalloc(1, sizeof(*ix));
    collect(ix, cu, 0);
    mp_dieranges_sort(&ix->functions);
    return ix;
}

/* Appends to (*out, *n) the scope under parent that holds pc, then the
 * one under that, ...: outermost first. */
static void descend(Dwarf_Die *parent, Dwarf_Addr pc, Dwarf_Die **out, int *n, size_t *cap)
{
    Dwarf_Die cur = *parent, child;
    for (int depth = 0; depth < MAX_DEPTH && dwarf_child(&cur, &child) == 0; depth++) {
        bool found = false;
        do {
            int tag = dwarf_tag(&child);
            if ((tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block) &&
                dwarf_haspc(&child, pc) > 0) {
                mp_grow((void **)out, cap, (size_t)*n + 1, sizeof(Dwarf_Die));
                (*out)[(*n)++] = child;
                found = true;
            }
        } while (!found && dwarf_siblingof(&child, &child) == 0);
        if (!found)
            return;
        cur = child;
    }
}

int mp_rustscopes_get(mp_rustscopes *ix, Dwarf_Addr pc, Dwarf_Die **scopes)
{
    *scopes = NULL;
    Dwarf_Die *fn = mp_dieranges_find(&ix->functions, pc);
    if (!fn)
        return 0;
    Dwarf_Die *path = NULL;
    size_t cap = 0;
    int n = 0;
    mp_grow((void **)&path, &cap, 1, sizeof(Dwarf_Die));
    path[n++] = *fn;
    descend(&path[0], pc, &path, &n, &cap);
    for (int i = 0; i < n / 2; i++) {   /* innermost first */
        Dwarf_Die t = path[i];
        path[i] = path[n - 1 - i];
        path[n - 1 - i] = t;
    }
    *scopes = path;
    return n;
}

void mp_rustscopes_free(mp_rustscopes *ix)
{
    if (!ix)
        return;
    mp_dieranges_free(&ix->functions);
    free(ix);
}
