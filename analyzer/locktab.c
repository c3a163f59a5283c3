/*
 * locktab.c - a snapshot's LOCKS merged by (address, first-use stack key)
 * and each lock's LOCK_SITES by (role, key), and the window between two
 * snapshots (see locktab.h).
 */
#include "locktab.h"

#include <stdlib.h>
#include <string.h>

#include "keymap.h"
#include "util.h"

/* The stack map's tag: which lock, and which of its two lists. */
static uint64_t stack_tag(size_t lock, int holder) { return (uint64_t)lock << 1 | (holder != 0); }

/* Adds one LOCK_SITE record into lock t->v[li]'s waiter or holder list,
   found through t->stacks: a lock may have tens of thousands of sites. */
static void lock_add_stack(mp_locktab *t, size_t li, const mp_symstack *st,
                           const mp_lock_site *ls)
{
    mp_lockrec *r = &t->v[li];
    int holder = ls->role == MP_ROLE_HOLDER;
    mp_lockstack **v = holder ? &r->holders : &r->waiters;
    size_t *n = holder ? &r->n_holders : &r->n_waiters;
    const char *key = mp_sites_key(st);
    size_t i = mp_keymap_put(t->stacks, stack_tag(li, holder), key, *n);
    if (i == *n) {
        size_t *cap = holder ? &r->cap_holders : &r->cap_waiters;
        mp_grow((void **)v, cap, *n + 1, sizeof(mp_lockstack));
        (*v)[(*n)++] = (mp_lockstack){.key = key, .stack = st};
    }
    (*v)[i].contentions = mp_sites_sat_add((*v)[i].contentions, ls->contentions);
    (*v)[i].wait_ns = mp_sites_sat_add((*v)[i].wait_ns, ls->wait_ns);
}

static void lock_merge(mp_locktab *t, size_t li, mp_symbolizer *sym, const mp_snapshot *snap,
                       const mp_lock *l)
{
    mp_lockrec *r = &t->v[li];
    r->contentions = mp_sites_sat_add(r->contentions, l->contentions);
    r->wait_ns = mp_sites_sat_add(r->wait_ns, l->wait_ns);
    if (l->max_wait_ns > r->max_wait_ns)
        r->max_wait_ns = l->max_wait_ns;
    r->hold_ns = mp_sites_sat_add(r->hold_ns, l->contended_hold_ns);
    r->contended_holds = mp_sites_sat_add(r->contended_holds, l->contended_holds);
    r->acquisitions = mp_sites_sat_add(r->acquisitions, l->acquisitions);
    /* The reader checked first_site + site_count against the section; the
     * bound below only guards against an unchecked overflow. */
    for (uint64_t k = 0; k < l->site_count && l->first_site + k < snap->n_lock_sites; k++) {
        const mp_lock_site *ls = &snap->lock_sites[l->first_site + k];
        lock_add_stack(t, li, mp_sites_stack(sym, snap, ls->stack), ls);
    }
}

static void locktab_totals(mp_locktab *t)
{
    t->contentions = t->wait_ns = 0;
    for (size_t i = 0; i < t->n; i++) {
        t->contentions = mp_sites_sat_add(t->contentions, t->v[i].contentions);
        t->wait_ns = mp_sites_sat_add(t->wait_ns, t->v[i].wait_ns);
    }
}

/* Adds the LOCK_HIST records; at[i] is the record lock i merged into. */
static void locktab_add_hist(mp_locktab *t, const mp_snapshot *snap, const size_t *at)
{
    for (size_t i = 0; i < snap->n_lock_hist; i++) {
        const mp_lock_hist *h = &snap->lock_hist[i];
        if (h->lock >= snap->n_locks || h->bucket >= MP_LOCK_HIST_BUCKETS ||
            (h->what != MP_HIST_WAIT && h->what != MP_HIST_HOLD))
            continue;   /* the reader refuses these; this only guards */
        uint64_t **v = &t->v[at[h->lock]].hist[h->what == MP_HIST_HOLD];
        if (!*v)
            *v = mp_xcalloc(MP_LOCK_HIST_BUCKETS, sizeof(uint64_t));
        (*v)[h->bucket] = mp_sites_sat_add((*v)[h->bucket], h->count);
    }
}

uint64_t mp_locktab_percentiles(const mp_lockrec *r, int what, uint64_t max,
                                uint64_t p[MP_LOCK_NPCT])
{
    static const uint64_t per_mille[MP_LOCK_NPCT] = {500, 900, 990, 999};
    const uint64_t *h = r->hist[what];
    uint64_t total = 0;
    memset(p, 0, MP_LOCK_NPCT * sizeof(uint64_t));
    for (unsigned b = 0; h && b < MP_LOCK_HIST_BUCKETS; b++)
        total = mp_sites_sat_add(total, h[b]);
    if (!total)
        return 0;
    for (int k = 0; k < MP_LOCK_NPCT; k++) {
        /* the smallest value with at least per_mille/1000 of them at or below */
        uint64_t rank = (uint64_t)(((unsigned __int128)total * per_mille[k] + 999) / 1000);
        uint64_t seen = 0;
        unsigned b = 0;
        while (b + 1 < MP_LOCK_HIST_BUCKETS && (seen += h[b]) < rank)
            b++;
        uint64_t v = mp_lock_hist_upper(b);
        p[k] = max && v > max ? max : v;
    }
    return total;
}

void mp_locktab_build(mp_locktab *t, mp_symbolizer *sym, const mp_snapshot *snap)
{
    memset(t, 0, sizeof(*t));
    t->map = mp_keymap_new();
    t->stacks = mp_keymap_new();
    size_t cap = 0;
    size_t *at = mp_xcalloc(snap->n_locks ? snap->n_locks : 1, sizeof(size_t));
    for (size_t i = 0; i < snap->n_locks; i++) {
        const mp_lock *l = &snap->locks[i];
        const mp_symstack *st = mp_sites_stack(sym, snap, l->site_stack);
        const char *key = mp_sites_key(st);
        size_t idx = mp_keymap_put(t->map, l->address, key, t->n);
        if (idx == t->n) {
            mp_grow((void **)&t->v, &cap, t->n + 1, sizeof(mp_lockrec));
            t->v[t->n++] = (mp_lockrec){.address = l->address, .kind = l->kind,
                                        .key = key, .site = st, .max_wait_exact = 1};
        }
        at[i] = idx;
        lock_merge(t, idx, sym, snap, l);
    }
    locktab_add_hist(t, snap, at);
    free(at);
    locktab_totals(t);
}

const mp_lockrec *mp_locktab_find(const mp_locktab *t, uint64_t address, const char *key)
{
    ssize_t i = mp_keymap_get(t->map, address, key);
    return i < 0 ? NULL : &t->v[i];
}

/* Subtracts the old lock's stacks (old->v[oi]'s list) and compacts away
   those with nothing left. */
static void stacks_subtract(mp_lockstack *v, size_t *n, const mp_locktab *old, size_t oi,
                            int holder)
{
    const mp_lockrec *o = &old->v[oi];
    const mp_lockstack *ov = holder ? o->holders : o->waiters;
    size_t out = 0;
    for (size_t i = 0; i < *n; i++) {
        mp_lockstack s = v[i];
        ssize_t j = mp_keymap_get(old->stacks, stack_tag(oi, holder), s.key);
        if (j >= 0) {
            s.contentions = mp_sites_sub0(s.contentions, ov[j].contentions);
            s.wait_ns = mp_sites_sub0(s.wait_ns, ov[j].wait_ns);
        }
        if (s.contentions || s.wait_ns)
            v[out++] = s;
    }
    *n = out;
}

static void lock_subtract(mp_lockrec *r, const mp_locktab *old, size_t oi)
{
    const mp_lockrec *o = &old->v[oi];
    uint64_t window = mp_sites_sub0(r->contentions, o->contentions);
    r->wait_ns = mp_sites_sub0(r->wait_ns, o->wait_ns);
    r->hold_ns = mp_sites_sub0(r->hold_ns, o->hold_ns);
    r->contended_holds = mp_sites_sub0(r->contended_holds, o->contended_holds);
    r->acquisitions = mp_sites_sub0(r->acquisitions, o->acquisitions);
    /* An unchanged maximum may predate the window: keep it as a bound. */
    if (r->max_wait_ns == o->max_wait_ns && window)
        r->max_wait_exact = 0;
    r->contentions = window;
    stacks_subtract(r->waiters, &r->n_waiters, old, oi, 0);
    stacks_subtract(r->holders, &r->n_holders, old, oi, 1);
    for (int w = 0; w < 2; w++)   /* counts are cumulative: the window's */
        for (unsigned b = 0; r->hist[w] && o->hist[w] && b < MP_LOCK_HIST_BUCKETS; b++)
            r->hist[w][b] = mp_sites_sub0(r->hist[w][b], o->hist[w][b]);
}

/* The maps store positions: rebuild them whenever v or a lock's stacks
   are reordered or compacted. */
static void locktab_reindex(mp_locktab *t)
{
    mp_keymap_clear(t->map);
    mp_keymap_clear(t->stacks);
    for (size_t i = 0; i < t->n; i++) {
        const mp_lockrec *r = &t->v[i];
        mp_keymap_put(t->map, r->address, r->key, i);
        for (size_t k = 0; k < r->n_waiters; k++)
            mp_keymap_put(t->stacks, stack_tag(i, 0), r->waiters[k].key, k);
        for (size_t k = 0; k < r->n_holders; k++)
            mp_keymap_put(t->stacks, stack_tag(i, 1), r->holders[k].key, k);
    }
}

static void lockrec_free(mp_lockrec *r)
{
    free(r->waiters);
    free(r->holders);
    free(r->hist[0]);
    free(r->hist[1]);
}

void mp_locktab_drop_uncontended(mp_locktab *t)
{
    size_t out = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].contentions)
            t->v[out++] = t->v[i];
        else
            lockrec_free(&t->v[i]);
    }
    t->n = out;
    locktab_reindex(t);
    locktab_totals(t);
}

void mp_locktab_subtract(mp_locktab *t, const mp_locktab *old)
{
    for (size_t i = 0; i < t->n; i++) {
        const mp_lockrec *o = mp_locktab_find(old, t->v[i].address, t->v[i].key);
        if (o)
            lock_subtract(&t->v[i], old, (size_t)(o - old->v));
    }
    mp_locktab_drop_uncontended(t);
}

static int cmp_lockstack(const void *a, const void *b)
{
    const mp_lockstack *x = a, *y = b;
    int c = mp_sites_cmp_desc(x->wait_ns, y->wait_ns);
    if (!c)
        c = mp_sites_cmp_desc(x->contentions, y->contentions);
    return c ? c : strcmp(x->key, y->key);
}

static int cmp_lockrec(const void *a, const void *b)
{
    const mp_lockrec *x = a, *y = b;
    int c = mp_sites_cmp_desc(x->wait_ns, y->wait_ns);
    if (!c)
        c = mp_sites_cmp_desc(x->contentions, y->contentions);
    if (!c)
        c = x->address < y->address ? -1 : x->address > y->address;
    return c ? c : strcmp(x->key, y->key);
}

void mp_locktab_sort(mp_locktab *t)
{
    for (size_t i = 0; i < t->n; i++) {
        mp_lockrec *r = &t->v[i];
        if (r->n_waiters)
            qsort(r->waiters, r->n_waiters, sizeof(mp_lockstack), cmp_lockstack);
        if (r->n_holders)
            qsort(r->holders, r->n_holders, sizeof(mp_lockstack), cmp_lockstack);
    }
    if (t->n)
        qsort(t->v, t->n, sizeof(mp_lockrec), cmp_lockrec);
    locktab_reindex(t);
}

void mp_locktab_free(mp_locktab *t)
{
    for (size_t i = 0; i < t->n; i++)
        lockrec_free(&t->v[i]);
    free(t->v);
    mp_keymap_free(t->map);
    mp_keymap_free(t->stacks);
    memset(t, 0, sizeof(*t));
}
