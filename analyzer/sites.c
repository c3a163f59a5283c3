/*
 * sites.c - a record's symbolized stack and key, and a snapshot's heap
 * records merged by symbolic stack (see sites.h). Locks are merged the same
 * way in locktab.c; the shared presentation helpers are in fmt.c.
 */
#include "sites.h"
#include "keymap.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* ---- stacks ---- */

const mp_symstack *mp_sites_stack(mp_symbolizer *sym, const mp_snapshot *snap,
                                  uint32_t stack_index)
{
    /* The reader validates indices; the check keeps us safe regardless. */
    if (stack_index == MP_NO_STACK || stack_index >= snap->n_stacks)
        return NULL;
    return mp_symbolize_stack(sym, snap, stack_index);
}

const char *mp_sites_key(const mp_symstack *st)
{
    return st && st->key ? st->key : "";
}

/* ---- heap sites ---- */

static void site_add(mp_site *d, const mp_heap_site *h)
{
    d->live_bytes = mp_sites_sat_add(d->live_bytes, h->live_bytes);
    d->live_count = mp_sites_sat_add(d->live_count, h->live_count);
    d->live_samples = mp_sites_sat_add(d->live_samples, h->live_samples);
    d->alloc_bytes = mp_sites_sat_add(d->alloc_bytes, h->alloc_bytes);
    d->alloc_count = mp_sites_sat_add(d->alloc_count, h->alloc_count);
    d->alloc_samples = mp_sites_sat_add(d->alloc_samples, h->alloc_samples);
}

void mp_sites_build(mp_sites *s, mp_symbolizer *sym, const mp_snapshot *snap)
{
    memset(s, 0, sizeof(*s));
    s->total.key = "";
    s->map = mp_keymap_new();
    size_t cap = 0;
    for (size_t i = 0; i < snap->n_heap; i++) {
        const mp_heap_site *h = &snap->heap[i];
        const mp_symstack *st = mp_sites_stack(sym, snap, h->stack);
        const char *key = mp_sites_key(st);
        size_t idx = mp_keymap_put(s->map, 0, key, s->n);
        if (idx == s->n) {
            mp_grow((void **)&s->v, &cap, s->n + 1, sizeof(mp_site));
            s->v[s->n++] = (mp_site){.key = key, .stack = st};
        }
        site_add(&s->v[idx], h);
        site_add(&s->total, h);
    }
}

const mp_site *mp_sites_find(const mp_sites *s, const char *key)
{
    ssize_t i = mp_keymap_get(s->map, 0, key);
    return i < 0 ? NULL : &s->v[i];
}

static int cmp_live(const void *a, const void *b)
{
    const mp_site *x = a, *y = b;
    int c = mp_sites_cmp_desc(x->live_bytes, y->live_bytes);
    return c ? c : strcmp(x->key, y->key);
}

static int cmp_alloc(const void *a, const void *b)
{
    const mp_site *x = a, *y = b;
    int c = mp_sites_cmp_desc(x->alloc_bytes, y->alloc_bytes);
    return c ? c : strcmp(x->key, y->key);
}

void mp_sites_sort(mp_sites *s, enum mp_site_order order)
{
    if (s->n)
        qsort(s->v, s->n, sizeof(mp_site), order == MP_BY_ALLOC_BYTES ? cmp_alloc : cmp_live);
    /* Re-index: the map stores positions. */
    mp_keymap_clear(s->map);
    for (size_t i = 0; i < s->n; i++)
        mp_keymap_put(s->map, 0, s->v[i].key, i);
}

void mp_sites_free(mp_sites *s)
{
    free(s->v);
    mp_keymap_free(s->map);
    memset(s, 0, sizeof(*s));
}
