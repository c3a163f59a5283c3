/*
 * flamelayout.c - flame graph widths, placement and the folding of narrow
 * callees (see flamelayout.h).
 */
#include "flamelayout.h"

#include <stdlib.h>

#include "util.h"

/* Children have higher indices than their parent (stacktree.c creates a
 * node after its parent), so one backward pass sums the widths. */
void mp_flamelayout_init(mp_flamelayout *l, const mp_stacktree *t, bool diff)
{
    *l = (mp_flamelayout){.t = t, .diff = diff};
    l->w = mp_xcalloc(t->n ? t->n : 1, sizeof(*l->w));
    l->x = mp_xcalloc(t->n ? t->n : 1, sizeof(*l->x));
    for (size_t i = t->n; i-- > 0;) {
        const mp_stacktree_node *n = &t->nodes[i];
        uint64_t sum = 0, v = n->total;
        for (uint32_t c = n->first_child; c != MP_STACKTREE_NONE; c = t->nodes[c].next_sibling)
            sum += l->w[c];
        if (diff && n->old_total > v)
            v = n->old_total;
        l->w[i] = v > sum ? v : sum;
        uint64_t d = n->total > n->old_total ? n->total - n->old_total : n->old_total - n->total;
        if (diff && i > 0 && d > l->max_delta)
            l->max_delta = d;
    }
}

void mp_flamelayout_free(mp_flamelayout *l)
{
    free(l->w);
    free(l->x);
    l->w = l->x = NULL;
}

bool mp_flamelayout_wide(const mp_flamelayout *l, uint32_t i)
{
    return i == 0 || (double)l->w[i] >= l->min;
}

/* A callee that folds: narrow, but not empty (an empty one is not drawn). */
static bool folds(const mp_flamelayout *l, uint32_t c)
{
    return !mp_flamelayout_wide(l, c) && l->w[c] > 0;
}

/* A forward pass places parents before their children: wide callees from
 * the caller's start, then the narrow ones, contiguous under their box. */
void mp_flamelayout_place(mp_flamelayout *l, double min)
{
    const mp_stacktree *t = l->t;
    l->min = min;
    for (size_t p = 0; p < t->n; p++) {
        uint64_t off = l->x[p];
        for (int narrow = 0; narrow < 2; narrow++)
            for (uint32_t c = t->nodes[p].first_child; c != MP_STACKTREE_NONE;
                 c = t->nodes[c].next_sibling) {
                if (!mp_flamelayout_wide(l, c) != narrow)
                    continue;
                l->x[c] = off;
                off += l->w[c];
            }
    }
}

bool mp_flamelayout_fold(const mp_flamelayout *l, uint32_t p, mp_flamefold *fold)
{
    const mp_stacktree *t = l->t;
    *fold = (mp_flamefold){.x = UINT64_MAX};
    for (uint32_t c = t->nodes[p].first_child; c != MP_STACKTREE_NONE;
         c = t->nodes[c].next_sibling) {
        if (!folds(l, c))
            continue;
        const mp_stacktree_node *n = &t->nodes[c];
        fold->n++;
        fold->width += l->w[c];
        fold->total += n->total;
        fold->old_total += n->old_total;
        fold->count += n->count;
        if (l->x[c] < fold->x)
            fold->x = l->x[c];
    }
    return fold->n > 0;
}
