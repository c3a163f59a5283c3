/*
 * stacktree.c - value iteration and the call tree shared by the flame,
 * folded and pprof commands (see stacktree.h).
 */
#include "stacktree.h"

#include <stdlib.h>
#include <string.h>

#include "sites.h"
#include "strtab.h"
#include "util.h"

/* ---- measurements ---- */

static void each_heap(const mp_snapshot *s, mp_what what, mp_value_fn fn, void *ctx)
{
    for (size_t i = 0; i < s->n_heap; i++) {
        const mp_heap_site *h = &s->heap[i];
        mp_value_rec r = {.stack = h->stack, .heap = h};
        r.value = what == MP_WHAT_HEAP ? h->live_bytes : h->alloc_bytes;
        r.count = what == MP_WHAT_HEAP ? h->live_count : h->alloc_count;
        fn(ctx, &r);
    }
}

/* Lock sites are grouped per lock; walking the locks gives each waiter (or
 * holder) its lock, which the pprof labels name. */
static void each_lock_site(const mp_snapshot *s, uint32_t role, mp_value_fn fn, void *ctx)
{
    for (size_t l = 0; l < s->n_locks; l++) {
        const mp_lock *lk = &s->locks[l];
        if (lk->first_site > s->n_lock_sites || lk->site_count > s->n_lock_sites - lk->first_site)
            continue;
        for (uint64_t i = 0; i < lk->site_count; i++) {
            const mp_lock_site *ls = &s->lock_sites[lk->first_site + i];
            if (ls->role != role)
                continue;
            mp_value_rec r = {.stack = ls->stack, .value = ls->wait_ns,
                              .count = ls->contentions, .lock = lk};
            fn(ctx, &r);
        }
    }
}

static void each_peak(const mp_snapshot *s, mp_value_fn fn, void *ctx)
{
    for (size_t i = 0; i < s->n_peak_sites; i++) {
        const mp_peak_site *p = &s->peak_sites[i];
        fn(ctx, &(mp_value_rec){.stack = p->stack, .value = p->live_bytes, .count = p->live_count});
    }
}

static void each_temporary(const mp_snapshot *s, mp_value_fn fn, void *ctx)
{
    for (size_t i = 0; i < s->n_lifetimes; i++) {
        const mp_lifetime_site *l = &s->lifetimes[i];
        fn(ctx, &(mp_value_rec){.stack = l->stack, .value = l->temp_bytes, .count = l->temp_count});
    }
}

void mp_stacktree_each_value(const mp_snapshot *snap, mp_what what, mp_value_fn fn, void *ctx)
{
    if (what == MP_WHAT_LOCKS)
        each_lock_site(snap, MP_ROLE_WAITER, fn, ctx);
    else if (what == MP_WHAT_LOCK_HOLDERS)
        each_lock_site(snap, MP_ROLE_HOLDER, fn, ctx);
    else if (what == MP_WHAT_PEAK)
        each_peak(snap, fn, ctx);
    else if (what == MP_WHAT_TEMPORARY)
        each_temporary(snap, fn, ctx);
    else
        each_heap(snap, what, fn, ctx);
}

/* One row per view, in mp_what's order: every word a report prints about a
 * view comes from here, so a new view cannot leave a table short. */
static const mp_what_info what_infos[MP_WHAT_COUNT] = {
    [MP_WHAT_HEAP] = {"heap", "Live heap by allocation stack", "objects", "live heap bytes"},
    [MP_WHAT_ALLOC] = {"alloc", "Cumulative allocations by stack", "allocations",
                       "allocation bytes"},
    [MP_WHAT_LOCKS] = {"locks", "Lock wait time by waiting stack", "contentions", "lock waits"},
    [MP_WHAT_LOCK_HOLDERS] = {"locks-holders", "Lock wait time by holding (unlocking) stack",
                              "contentions", "lock waits with a known holder"},
    [MP_WHAT_PEAK] = {"peak", "Live heap at the peak by allocation stack", "objects",
                      "peak heap bytes"},
    [MP_WHAT_TEMPORARY] = {"temporary", "Temporary allocations by stack",
                           "temporary allocations", "temporary allocations"},
};

const mp_what_info *mp_stacktree_what_info(mp_what what)
{
    return &what_infos[(unsigned)what < MP_WHAT_COUNT ? what : MP_WHAT_HEAP];
}
const char *mp_stacktree_what_name(mp_what what) { return mp_stacktree_what_info(what)->name; }
bool mp_stacktree_what_is_bytes(mp_what what) { return !mp_stacktree_what_is_locks(what); }
bool mp_stacktree_what_is_locks(mp_what what)
{
    return what == MP_WHAT_LOCKS || what == MP_WHAT_LOCK_HOLDERS;
}

/* ---- call tree ---- */

void mp_stacktree_init(mp_stacktree *t)
{
    memset(t, 0, sizeof(*t));
    t->cap = 256;
    t->nodes = mp_xmalloc(t->cap * sizeof(*t->nodes));
    t->names = mp_strtab_new();
    t->n = 1;
    t->nodes[0] = (mp_stacktree_node){.name = "all", .module = "", .parent = MP_STACKTREE_NONE,
                                  .first_child = MP_STACKTREE_NONE,
                                  .next_sibling = MP_STACKTREE_NONE};
}

void mp_stacktree_free(mp_stacktree *t)
{
    free(t->nodes);
    mp_hashmap_free(&t->index);
    mp_strtab_free(t->names);
    memset(t, 0, sizeof(*t));
}

typedef struct child_key {
    const mp_stacktree *t;
    uint32_t parent;
    const char *name;
} child_key;

static bool child_eq(const void *ctx, uint32_t id)
{
    const child_key *k = ctx;
    const mp_stacktree_node *n = &k->t->nodes[id];
    return n->parent == k->parent && strcmp(n->name, k->name) == 0;
}

/* Unknown functions are named after their module, as perf does, so frames
 * of different stripped libraries stay apart. */
static const char *frame_name(mp_stacktree *t, const mp_frame *f)
{
    char *label;
    if (t->lines && f->file && f->line > 0 && strcmp(f->function, "??") != 0) {
        /* the line mode's key: fmt.c's "fn (file.c:50)", as report shows it */
        if (asprintf(&label, "%s (%s:%d)", f->function, mp_basename(f->file), f->line) < 0)
            return f->function;
        const char *name = mp_strtab_intern(t->names, label);
        free(label);
        return name;
    }
    if (strcmp(f->function, "??") != 0 || !f->module || strcmp(f->module, "??") == 0)
        return f->function;
    if (asprintf(&label, "[%s]", mp_basename(f->module)) < 0)
        return f->function;
    const char *name = mp_strtab_intern(t->names, label);
    free(label);
    return name;
}

static uint32_t child_of(mp_stacktree *t, uint32_t parent, const mp_frame *f)
{
    const char *name = frame_name(t, f);
    child_key k = {t, parent, name};
    uint64_t h = mp_hashmap_hash_str(name, parent);
    uint32_t id = mp_hashmap_find(&t->index, h, child_eq, &k);
    if (id != MP_HASHMAP_NONE) {
        mp_stacktree_node *n = &t->nodes[id];
        if (n->line != f->line || (n->file != f->file && (!n->file || !f->file ||
                                                         strcmp(n->file, f->file))))
            n->line = -1;   /* same name, other place: only the name is shared */
        return id;
    }
    mp_grow((void **)&t->nodes, &t->cap, t->n + 1, sizeof(*t->nodes));
    id = (uint32_t)t->n++;
    mp_stacktree_node *p = &t->nodes[parent];
    t->nodes[id] = (mp_stacktree_node){.name = name, .file = f->file,
                                   .module = f->module, .line = f->line,
                                   .parent = parent, .first_child = MP_STACKTREE_NONE,
                                   .next_sibling = p->first_child, .depth = p->depth + 1};
    p->first_child = id;
    if (p->depth + 1 > t->max_depth)
        t->max_depth = p->depth + 1;
    mp_hashmap_insert(&t->index, h, id);
    return id;
}

void mp_stacktree_add(mp_stacktree *t, const mp_symstack *st, uint64_t value,
                      uint64_t count, bool old)
{
    static const mp_frame unknown = {.function = "[unknown]", .module = "??",
                                     .module_index = MP_NO_MODULE};
    uint32_t cur = 0;
    if (!st || st->n == 0)   /* e.g. the overflow stack: keep its value visible */
        cur = child_of(t, 0, &unknown);
    else
        for (size_t i = st->n; i-- > 0;)    /* frames are innermost first */
            cur = child_of(t, cur, &st->frames[i]);
    /* Add along the path from the leaf up, so totals stay inclusive. */
    for (uint32_t c = cur; c != MP_STACKTREE_NONE; c = t->nodes[c].parent) {
        if (old) {
            t->nodes[c].old_total += value;
        } else {
            t->nodes[c].total += value;
            t->nodes[c].count += count;
        }
    }
    if (!old)
        t->nodes[cur].self += value;
}

typedef struct add_ctx {
    mp_stacktree *t;
    mp_symbolizer *sym;
    const mp_snapshot *snap;
    bool old;
} add_ctx;

static void add_rec(void *ctx, const mp_value_rec *r)
{
    add_ctx *a = ctx;
    if (r->value == 0)
        return;
    mp_stacktree_add(a->t, mp_sites_stack(a->sym, a->snap, r->stack), r->value, r->count, a->old);
}

void mp_stacktree_add_snapshot(mp_stacktree *t, mp_symbolizer *sym,
                               const mp_snapshot *snap, mp_what what, bool old)
{
    add_ctx a = {t, sym, snap, old};
    mp_stacktree_each_value(snap, what, add_rec, &a);
}

static int by_name(const void *a, const void *b, void *nodes)
{
    const mp_stacktree_node *n = nodes;
    return strcmp(n[*(const uint32_t *)a].name, n[*(const uint32_t *)b].name);
}

/* Nodes are created after their parent, so index order visits every parent
 * before its children: one pass sorts and places all without recursion. */
void mp_stacktree_layout(mp_stacktree *t)
{
    uint32_t *kids = mp_xmalloc(t->n * sizeof(*kids));
    for (size_t p = 0; p < t->n; p++) {
        size_t k = 0;
        for (uint32_t c = t->nodes[p].first_child; c != MP_STACKTREE_NONE;
             c = t->nodes[c].next_sibling)
            kids[k++] = c;
        qsort_r(kids, k, sizeof(*kids), by_name, t->nodes);
        uint64_t off = t->nodes[p].offset;
        t->nodes[p].first_child = k ? kids[0] : MP_STACKTREE_NONE;
        for (size_t i = 0; i < k; i++) {
            t->nodes[kids[i]].next_sibling = i + 1 < k ? kids[i + 1] : MP_STACKTREE_NONE;
            t->nodes[kids[i]].offset = off;
            off += t->nodes[kids[i]].total;
        }
    }
    free(kids);
}

uint32_t mp_stacktree_next(const mp_stacktree *t, uint32_t i, bool skip_children)
{
    if (!skip_children && t->nodes[i].first_child != MP_STACKTREE_NONE)
        return t->nodes[i].first_child;
    for (; i != MP_STACKTREE_NONE && i != 0; i = t->nodes[i].parent)
        if (t->nodes[i].next_sibling != MP_STACKTREE_NONE)
            return t->nodes[i].next_sibling;
    return MP_STACKTREE_NONE;
}
