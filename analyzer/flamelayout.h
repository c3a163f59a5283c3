/*
 * flamelayout.h - where a flame graph puts a call tree's frames, shared by
 * the SVG flame graph (flame_svg.c) and the call trees the HTML page embeds
 * (html_model.c), so both fold the same frames the same way:
 *
 *   widths  a frame is as wide as its value; in a differential graph as the
 *           larger of its old and new value, widened to hold its callees,
 *           so what shrank to zero still has its old width;
 *   folds   callees narrower than a minimum width are folded into one
 *           "(n small frames)" box per caller, placed after the wide ones
 *           so that the box covers exactly them. The SVG's minimum is a
 *           few pixels; the page's a share of the total, which keeps a page
 *           for a snapshot of 100k stacks small.
 */
#ifndef MEMPROF_FLAMELAYOUT_H
#define MEMPROF_FLAMELAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "stacktree.h"

typedef struct mp_flamelayout {
    const mp_stacktree *t;      /* laid out (mp_stacktree_layout) */
    bool diff;
    uint64_t *w;                /* per node: width, in value units */
    uint64_t *x;                /* per node: start, after mp_flamelayout_place */
    uint64_t max_delta;         /* differential: the largest |new - old| of a
                                   frame other than the root */
    double min;                 /* callees narrower than this fold */
} mp_flamelayout;

/* The widths of t's frames (and max_delta). */
void mp_flamelayout_init(mp_flamelayout *l, const mp_stacktree *t, bool diff);
void mp_flamelayout_free(mp_flamelayout *l);

/* Callees narrower than min (in value units) fold; places every frame:
 * the callees of a frame from its start, the wide ones first in the tree's
 * order, then the ones that fold. */
void mp_flamelayout_place(mp_flamelayout *l, double min);

/* Whether frame i is drawn on its own (the root always is). */
bool mp_flamelayout_wide(const mp_flamelayout *l, uint32_t i);

/* The callees of one frame that fold into its "(n small frames)" box. */
typedef struct mp_flamefold {
    uint32_t n;                 /* how many callees (each with its callees) */
    uint64_t x, width;          /* the box: start and width, value units */
    uint64_t total, old_total, count;   /* their values added up */
} mp_flamefold;

/* Fills fold for frame p; false when none of its callees folds. */
bool mp_flamelayout_fold(const mp_flamelayout *l, uint32_t p, mp_flamefold *fold);

#endif
