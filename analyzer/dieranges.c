/*
 * dieranges.c - DWARF entries by address range (dieranges.h).
 */
#include "dieranges.h"

#include <stdlib.h>

#include "util.h"

void mp_dieranges_add(mp_dieranges *t, Dwarf_Die *die)
{
    Dwarf_Addr base, lo, hi;
    for (ptrdiff_t off = 0; (off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0;) {
        if (lo >= hi)
            continue;
        mp_grow((void **)&t->r, &t->cap, t->n + 1, sizeof(mp_dierange));
        t->r[t->n++] = (mp_dierange){lo, hi, *die};
    }
}

static int range_cmp(const void *a, const void *b)
{
    const mp_dierange *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void mp_dieranges_sort(mp_dieranges *t)
{
    if (t->n)
        qsort(t->r, t->n, sizeof(mp_dierange), range_cmp);
}

Dwarf_Die *mp_dieranges_find(mp_dieranges *t, Dwarf_Addr pc)
{
    size_t lo = 0, hi = t->n;   /* the last range starting at or below pc */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->r[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo && pc < t->r[lo - 1].hi ? &t->r[lo - 1].die : NULL;
}

void mp_dieranges_free(mp_dieranges *t)
{
    free(t->r);
    *t = (mp_dieranges){0};
}
