/*
 * modindex.c - which module record holds an address in a generation
 * (see modindex.h).
 *
 * A record is valid for generations [gen_loaded, gen_unloaded), 0 meaning
 * still loaded. Walking the generations in order, the records valid at
 * the current one are kept in a balanced tree (glibc's tsearch) ordered by
 * address; since they do not overlap, "the record containing pc" is a
 * tree search. Every record enters and leaves the tree once and every
 * query is one search, so a sweep costs O((modules + queries) log modules)
 * whatever the file claims: 20,000 records spanning the whole address
 * space cost 20,000 insertions, not 20,000 steps per frame.
 *
 * Overlap between records valid at the same time: two records first seen
 * in the same generation cannot overlap in a real process (one scan of the
 * loaded objects), so that is refused as corrupt. A record seen later that
 * overlaps an older one is the shim noticing a reload between two scans
 * (the old record's unload is only seen one generation later): the newer
 * record wins from its first generation on, as it did before the index.
 */
#include "modindex.h"

#include <search.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util.h"

typedef struct mi_rec {
    uint64_t start, end;   /* [start, end), never empty */
    uint64_t gen_loaded;
    uint32_t index;        /* into the snapshot's modules */
    bool in_tree;
} mi_rec;

/* An event of the sweep: a record leaving (0) or entering (1) the tree,
   or a query (2), in that order within one generation. */
typedef struct mi_event {
    uint64_t gen;
    uint32_t kind;
    uint32_t id;           /* record or query */
} mi_event;

static int cmp_range(const void *a, const void *b)
{
    const mi_rec *x = a, *y = b;
    if (x->end <= y->start)
        return -1;
    return y->end <= x->start ? 1 : 0;   /* overlapping compares equal */
}

static int cmp_event(const void *a, const void *b)
{
    const mi_event *x = a, *y = b;
    if (x->gen != y->gen)
        return x->gen < y->gen ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void no_free(void *p) { (void)p; }

struct mp_modindex_live {
    void *root;
};

long mp_modindex_find(const mp_modindex_live *live, uint64_t pc)
{
    if (pc == UINT64_MAX)
        return -1;
    mi_rec key = {.start = pc, .end = pc + 1};
    void *const *node = tfind(&key, &live->root, cmp_range);
    return node ? (long)((const mi_rec *)*node)->index : -1;
}

/* Puts r in the tree, first taking out older records it overlaps. */
static int insert(mp_modindex_live *live, mi_rec *r, uint32_t *a, uint32_t *b)
{
    for (;;) {
        void **node = tsearch(r, &live->root, cmp_range);
        if (!node)
            mp_xmalloc(SIZE_MAX);   /* reports out of memory and exits */
        mi_rec *old = *node;
        if (old == r) {
            r->in_tree = true;
            return 0;
        }
        if (old->gen_loaded == r->gen_loaded) {
            *a = old->index;
            *b = r->index;
            return -1;
        }
        tdelete(old, &live->root, cmp_range);
        old->in_tree = false;
    }
}

static size_t add_events(const mp_module *mods, size_t n, mi_rec *recs, mi_event *ev)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const mp_module *m = &mods[i];
        recs[i] = (mi_rec){m->start, m->end, m->gen_loaded, (uint32_t)i, false};
        bool never = m->gen_unloaded && m->gen_unloaded <= m->gen_loaded;
        if (m->start >= m->end || never)
            continue;   /* holds no address in any generation */
        ev[k++] = (mi_event){m->gen_loaded, 1, (uint32_t)i};
        if (m->gen_unloaded)
            ev[k++] = (mi_event){m->gen_unloaded, 0, (uint32_t)i};
    }
    return k;
}

int mp_modindex_sweep(const mp_module *mods, size_t n, const uint64_t *query_gen,
                      size_t n_queries, mp_modindex_visit visit, void *ctx,
                      uint32_t overlap[2])
{
    mi_rec *recs = mp_xcalloc(n, sizeof(mi_rec));
    mi_event *ev = mp_xcalloc(2 * n + n_queries, sizeof(mi_event));
    size_t k = add_events(mods, n, recs, ev);
    for (size_t q = 0; q < n_queries; q++)
        ev[k++] = (mi_event){query_gen[q], 2, (uint32_t)q};
    qsort(ev, k, sizeof(mi_event), cmp_event);
    mp_modindex_live live = {NULL};
    int rc = 0;
    for (size_t i = 0; i < k && rc == 0; i++) {
        mi_rec *r = &recs[ev[i].id];
        if (ev[i].kind == 2)
            visit(ctx, ev[i].id, &live);
        else if (ev[i].kind == 1)
            rc = insert(&live, r, &overlap[0], &overlap[1]);
        else if (r->in_tree) {
            tdelete(r, &live.root, cmp_range);
            r->in_tree = false;
        }
    }
    tdestroy(live.root, no_free);
    free(ev);
    free(recs);
    return rc;
}
