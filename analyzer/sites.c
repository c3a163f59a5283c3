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

static void life_add(mp_site *d, const mp_lifetime_site *l)
{
    d->freed_count = mp_sites_sat_add(d->freed_count, l->freed_count);
    d->freed_samples = mp_sites_sat_add(d->freed_samples, l->freed_samples);
    d->temp_count = mp_sites_sat_add(d->temp_count, l->temp_count);
    d->temp_bytes = mp_sites_sat_add(d->temp_bytes, l->temp_bytes);
    d->temp_samples = mp_sites_sat_add(d->temp_samples, l->temp_samples);
    for (unsigned k = 0; k < MP_LIFE_BUCKETS; k++)
        d->life_hist[k] = mp_sites_sat_add(d->life_hist[k], l->hist[k]);
}

/* The site of a record's stack, made when new. */
static mp_site *site_of(mp_sites *s, mp_symbolizer *sym, const mp_snapshot *snap, uint32_t stack)
{
    const mp_symstack *st = mp_sites_stack(sym, snap, stack);
    const char *key = mp_sites_key(st);
    size_t idx = mp_keymap_put(s->map, 0, key, s->n);
    if (idx == s->n) {
        mp_grow((void **)&s->v, &s->cap, s->n + 1, sizeof(mp_site));
        s->v[s->n++] = (mp_site){.key = key, .stack = st};
    }
    return &s->v[idx];
}

void mp_sites_init(mp_sites *s)
{
    memset(s, 0, sizeof(*s));
    s->total.key = "";
    s->map = mp_keymap_new();
}

void mp_sites_add(mp_sites *s, mp_symbolizer *sym, const mp_snapshot *snap, int from_peak)
{
    for (size_t i = 0; !from_peak && i < snap->n_heap; i++) {
        const mp_heap_site *h = &snap->heap[i];
        site_add(site_of(s, sym, snap, h->stack), h);
        site_add(&s->total, h);
    }
    for (size_t i = 0; from_peak && i < snap->n_peak_sites; i++) {
        const mp_peak_site *p = &snap->peak_sites[i];
        mp_heap_site h = {.live_samples = p->live_samples, .live_bytes = p->live_bytes,
                          .live_count = p->live_count};
        site_add(site_of(s, sym, snap, p->stack), &h);
        site_add(&s->total, &h);
    }
    for (size_t i = 0; !from_peak && i < snap->n_lifetimes; i++) {
        const mp_lifetime_site *l = &snap->lifetimes[i];
        life_add(site_of(s, sym, snap, l->stack), l);
        life_add(&s->total, l);
    }
}

void mp_sites_build(mp_sites *s, mp_symbolizer *sym, const mp_snapshot *snap)
{
    mp_sites_init(s);
    mp_sites_add(s, sym, snap, 0);
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

static int cmp_temp(const void *a, const void *b)
{
    const mp_site *x = a, *y = b;
    int c = mp_sites_cmp_desc(x->temp_count, y->temp_count);
    c = c ? c : mp_sites_cmp_desc(x->temp_bytes, y->temp_bytes);
    return c ? c : strcmp(x->key, y->key);
}

void mp_sites_sort(mp_sites *s, enum mp_site_order order)
{
    int (*cmp)(const void *, const void *) = order == MP_BY_ALLOC_BYTES  ? cmp_alloc
                                             : order == MP_BY_TEMP_COUNT ? cmp_temp
                                                                         : cmp_live;
    if (s->n)
        qsort(s->v, s->n, sizeof(mp_site), cmp);
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
