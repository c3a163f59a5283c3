/*
 * flame_svg.h - rendering a call tree (stacktree.h) as an SVG flame graph.
 */
#ifndef MEMPROF_FLAME_SVG_H
#define MEMPROF_FLAME_SVG_H

#include <stdio.h>

#include "analyzer.h"
#include "stacktree.h"

/*
 * Writes t, already laid out (mp_stacktree_layout), as one SVG document of
 * measurement `what`; the titles name cur's snapshot. With old (not NULL)
 * the graph is differential: t's old_total values must come from old.
 */
void mp_flame_svg_write(FILE *out, const mp_stacktree *t, mp_what what, const mp_snapshot *old,
                        const mp_snapshot *cur);

#endif
