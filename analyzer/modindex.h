/*
 * modindex.h - the module record that holds an address in a given module
 * generation, for every stack of a snapshot in O((modules + stacks) log
 * modules) (modindex.c). The reader runs it without queries to refuse
 * records that overlap within one generation; the symbolizer runs it with
 * one query per stack.
 */
#ifndef MEMPROF_MODINDEX_H
#define MEMPROF_MODINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "memprof_format.h"

/* The records valid in the generation being visited. */
typedef struct mp_modindex_live mp_modindex_live;

/* Index of the record containing pc, or -1. */
long mp_modindex_find(const mp_modindex_live *live, uint64_t pc);

/* Called once per query, in generation order, with that generation's
   records; `live` is only valid during the call. */
typedef void (*mp_modindex_visit)(void *ctx, size_t query, const mp_modindex_live *live);

/*
 * Sweeps the generations of mods[0..n), visiting query q at generation
 * query_gen[q]. Returns 0, or -1 (with overlap[] naming the two records)
 * when two records first seen in the same generation overlap.
 */
int mp_modindex_sweep(const mp_module *mods, size_t n, const uint64_t *query_gen,
                      size_t n_queries, mp_modindex_visit visit, void *ctx,
                      uint32_t overlap[2]);

#endif
