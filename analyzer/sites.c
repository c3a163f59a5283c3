/*
 * sites.c - merging a snapshot's heap and lock records by symbolic stack
 * (see sites.h). The shared presentation helpers (mp_rep_*) are in
 * sites_fmt.c to keep both files readable.
 */
#include "sites.h"
#include "hashmap.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* ---- key map: entries in insertion order, indexed by hashmap.h ---- */

typedef struct km_entry {
    uint64_t tag;
    const char *key;
    size_t value;
} km_entry;

struct mp_keymap {
    mp_hashmap index;
    km_entry *e;
    size_t n, cap;
};

typedef struct km_key {
    const mp_keymap *m;
    uint64_t tag;
    const char *key;
} km_key;

static bool km_eq(const void *ctx, uint32_t id)
{
    const km_key *k = ctx;
    const km_entry *e = &k->m->e[id];
    return e->tag == k->tag && (e->key == k->key || strcmp(e->key, k->key) == 0);
}

mp_keymap *mp_keymap_new(void)
{
    return mp_xcalloc(1, sizeof(mp_keymap));
}

void mp_keymap_free(mp_keymap *m)
{
    if (m) {
        mp_hashmap_free(&m->index);
        free(m->e);
        free(m);
    }
}

ssize_t mp_keymap_get(const mp_keymap *m, uint64_t tag, const char *key)
{
    km_key k = {m, tag, key};
    uint32_t id = mp_hashmap_find(&m->index, mp_hashmap_hash_str(key, tag), km_eq, &k);
    return id == MP_HASHMAP_NONE ? -1 : (ssize_t)m->e[id].value;
}

size_t mp_keymap_put(mp_keymap *m, uint64_t tag, const char *key, size_t value)
{
    km_key k = {m, tag, key};
    uint64_t h = mp_hashmap_hash_str(key, tag);
    uint32_t id = mp_hashmap_find(&m->index, h, km_eq, &k);
    if (id != MP_HASHMAP_NONE)
        return m->e[id].value;
    mp_grow((void **)&m->e, &m->cap, m->n + 1, sizeof(km_entry));
    m->e[m->n] = (km_entry){tag, key, value};
    mp_hashmap_insert(&m->index, h, (uint32_t)m->n++);
    return value;
}

void mp_keymap_clear(mp_keymap *m)
{
    mp_hashmap_clear(&m->index);
    m->n = 0;
}

/* ---- stacks ---- */

const mp_symstack *mp_site_stack(mp_symbolizer *sym, const mp_snapshot *snap,
                                 uint32_t stack_index)
{
    /* The reader validates indices; the check keeps us safe regardless. */
    if (stack_index == MP_NO_STACK || stack_index >= snap->n_stacks)
        return NULL;
    return mp_symbolize_stack(sym, snap, stack_index);
}

const char *mp_site_key(const mp_symstack *st)
{
    return st && st->key ? st->key : "";
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

/* ---- heap sites ---- */

static void site_add(mp_site *d, const mp_heap_site *h)
{
    d->live_bytes = sat_add(d->live_bytes, h->live_bytes);
    d->live_count = sat_add(d->live_count, h->live_count);
    d->live_samples = sat_add(d->live_samples, h->live_samples);
    d->alloc_bytes = sat_add(d->alloc_bytes, h->alloc_bytes);
    d->alloc_count = sat_add(d->alloc_count, h->alloc_count);
    d->alloc_samples = sat_add(d->alloc_samples, h->alloc_samples);
}

void mp_sites_build(mp_sites *s, mp_symbolizer *sym, const mp_snapshot *snap)
{
    memset(s, 0, sizeof(*s));
    s->total.key = "";
    s->map = mp_keymap_new();
    size_t cap = 0;
    for (size_t i = 0; i < snap->n_heap; i++) {
        const mp_heap_site *h = &snap->heap[i];
        const mp_symstack *st = mp_site_stack(sym, snap, h->stack);
        const char *key = mp_site_key(st);
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

static int cmp_u64_desc(uint64_t a, uint64_t b)
{
    return a < b ? 1 : a > b ? -1 : 0;
}

static int cmp_live(const void *a, const void *b)
{
    const mp_site *x = a, *y = b;
    int c = cmp_u64_desc(x->live_bytes, y->live_bytes);
    return c ? c : strcmp(x->key, y->key);
}

static int cmp_alloc(const void *a, const void *b)
{
    const mp_site *x = a, *y = b;
    int c = cmp_u64_desc(x->alloc_bytes, y->alloc_bytes);
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

/* ---- locks ---- */

/* Adds one LOCK_SITE record into the lock's waiter or holder list. */
static void lock_add_stack(mp_lockstack **v, size_t *n, const mp_symstack *st,
                           const mp_lock_site *ls)
{
    const char *key = mp_site_key(st);
    size_t i;
    for (i = 0; i < *n; i++)   /* few stacks per lock: linear is fine */
        if (strcmp((*v)[i].key, key) == 0)
            break;
    if (i == *n) {
        *v = mp_xrealloc(*v, (*n + 1) * sizeof(mp_lockstack));
        (*v)[(*n)++] = (mp_lockstack){.key = key, .stack = st};
    }
    (*v)[i].contentions = sat_add((*v)[i].contentions, ls->contentions);
    (*v)[i].wait_ns = sat_add((*v)[i].wait_ns, ls->wait_ns);
}

static void lock_merge(mp_lockrec *r, mp_symbolizer *sym, const mp_snapshot *snap,
                       const mp_lock *l)
{
    r->contentions = sat_add(r->contentions, l->contentions);
    r->wait_ns = sat_add(r->wait_ns, l->wait_ns);
    if (l->max_wait_ns > r->max_wait_ns)
        r->max_wait_ns = l->max_wait_ns;
    r->hold_ns = sat_add(r->hold_ns, l->contended_hold_ns);
    r->contended_holds = sat_add(r->contended_holds, l->contended_holds);
    r->acquisitions = sat_add(r->acquisitions, l->acquisitions);
    /* The reader checked first_site + site_count against the section; the
     * bound below only guards against an unchecked overflow. */
    for (uint64_t k = 0; k < l->site_count && l->first_site + k < snap->n_lock_sites; k++) {
        const mp_lock_site *ls = &snap->lock_sites[l->first_site + k];
        const mp_symstack *st = mp_site_stack(sym, snap, ls->stack);
        if (ls->role == MP_ROLE_HOLDER)
            lock_add_stack(&r->holders, &r->n_holders, st, ls);
        else
            lock_add_stack(&r->waiters, &r->n_waiters, st, ls);
    }
}

static void locktab_totals(mp_locktab *t)
{
    t->contentions = t->wait_ns = 0;
    for (size_t i = 0; i < t->n; i++) {
        t->contentions = sat_add(t->contentions, t->v[i].contentions);
        t->wait_ns = sat_add(t->wait_ns, t->v[i].wait_ns);
    }
}

void mp_locktab_build(mp_locktab *t, mp_symbolizer *sym, const mp_snapshot *snap)
{
    memset(t, 0, sizeof(*t));
    t->map = mp_keymap_new();
    size_t cap = 0;
    for (size_t i = 0; i < snap->n_locks; i++) {
        const mp_lock *l = &snap->locks[i];
        const mp_symstack *st = mp_site_stack(sym, snap, l->site_stack);
        const char *key = mp_site_key(st);
        size_t idx = mp_keymap_put(t->map, l->address, key, t->n);
        if (idx == t->n) {
            mp_grow((void **)&t->v, &cap, t->n + 1, sizeof(mp_lockrec));
            t->v[t->n++] = (mp_lockrec){.address = l->address, .kind = l->kind,
                                        .key = key, .site = st, .max_wait_exact = 1};
        }
        lock_merge(&t->v[idx], sym, snap, l);
    }
    locktab_totals(t);
}

const mp_lockrec *mp_locktab_find(const mp_locktab *t, uint64_t address, const char *key)
{
    ssize_t i = mp_keymap_get(t->map, address, key);
    return i < 0 ? NULL : &t->v[i];
}

static const mp_lockstack *find_stack(const mp_lockstack *v, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].key, key) == 0)
            return &v[i];
    return NULL;
}

/* Subtracts old's stacks and compacts away those with nothing left. */
static void stacks_subtract(mp_lockstack *v, size_t *n, const mp_lockstack *ov, size_t on)
{
    size_t out = 0;
    for (size_t i = 0; i < *n; i++) {
        mp_lockstack s = v[i];
        const mp_lockstack *o = find_stack(ov, on, s.key);
        if (o) {
            s.contentions = sub0(s.contentions, o->contentions);
            s.wait_ns = sub0(s.wait_ns, o->wait_ns);
        }
        if (s.contentions || s.wait_ns)
            v[out++] = s;
    }
    *n = out;
}

static void lock_subtract(mp_lockrec *r, const mp_lockrec *o)
{
    uint64_t window = sub0(r->contentions, o->contentions);
    r->wait_ns = sub0(r->wait_ns, o->wait_ns);
    r->hold_ns = sub0(r->hold_ns, o->hold_ns);
    r->contended_holds = sub0(r->contended_holds, o->contended_holds);
    r->acquisitions = sub0(r->acquisitions, o->acquisitions);
    /* An unchanged maximum may predate the window: keep it as a bound. */
    if (r->max_wait_ns == o->max_wait_ns && window)
        r->max_wait_exact = 0;
    r->contentions = window;
    stacks_subtract(r->waiters, &r->n_waiters, o->waiters, o->n_waiters);
    stacks_subtract(r->holders, &r->n_holders, o->holders, o->n_holders);
}

/* The map stores positions: rebuild it whenever v is reordered. */
static void locktab_reindex(mp_locktab *t)
{
    mp_keymap_clear(t->map);
    for (size_t i = 0; i < t->n; i++)
        mp_keymap_put(t->map, t->v[i].address, t->v[i].key, i);
}

static void lockrec_free(mp_lockrec *r)
{
    free(r->waiters);
    free(r->holders);
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
            lock_subtract(&t->v[i], o);
    }
    mp_locktab_drop_uncontended(t);
}

static int cmp_lockstack(const void *a, const void *b)
{
    const mp_lockstack *x = a, *y = b;
    int c = cmp_u64_desc(x->wait_ns, y->wait_ns);
    if (!c)
        c = cmp_u64_desc(x->contentions, y->contentions);
    return c ? c : strcmp(x->key, y->key);
}

static int cmp_lockrec(const void *a, const void *b)
{
    const mp_lockrec *x = a, *y = b;
    int c = cmp_u64_desc(x->wait_ns, y->wait_ns);
    if (!c)
        c = cmp_u64_desc(x->contentions, y->contentions);
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
    memset(t, 0, sizeof(*t));
}
