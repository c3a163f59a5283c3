/*
 * sites.h - a snapshot's heap records merged by *symbolic* stack (sites.c).
 * locktab.h merges lock records the same way; fmt.h holds the presentation
 * helpers the commands share.
 *
 * Why merge by symbolic key (mp_symstack.key) and not by stack index: two
 * raw stacks that differ only in addresses inside the allocator or the shim
 * (frames the symbolizer drops), or that come from different processes
 * under ASLR, are the same site to a user. Every command that ranks "sites"
 * goes through here so they all agree on what a site is.
 *
 * Lifetime: every `key` and `stack` pointer below is owned by the
 * mp_symbolizer that built the table; keep it alive while the table is used.
 */
#ifndef MEMPROF_SITES_H
#define MEMPROF_SITES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "analyzer.h"

/* Symbolized stack of a record, or NULL for MP_NO_STACK / a bad index. */
const mp_symstack *mp_sites_stack(mp_symbolizer *sym, const mp_snapshot *snap,
                                  uint32_t stack_index);
/* The key of a possibly-NULL stack ("" when there is none). */
const char *mp_sites_key(const mp_symstack *st);

/* ---- heap sites ---- */

typedef struct mp_site {
    const char *key;              /* symbolic identity, "" when unknown */
    const mp_symstack *stack;     /* first stack seen with the key; may be NULL */
    uint64_t live_bytes, live_count, live_samples;
    uint64_t alloc_bytes, alloc_count, alloc_samples;
    /* LIFETIMES: frees seen with their lifetime, the temporary ones among
     * them (memprof_format.h), and the lifetime histogram. */
    uint64_t freed_count, freed_samples, temp_count, temp_bytes, temp_samples;
    uint64_t life_hist[MP_LIFE_BUCKETS];
} mp_site;

typedef struct mp_sites {
    mp_site *v;
    size_t n, cap;
    mp_site total;                /* sums over every site; key "" stack NULL */
    struct mp_keymap *map;        /* key -> index into v (private) */
} mp_sites;

/* Merges snap's HEAP and LIFETIMES records by key. Never fails (aborts on OOM). */
void mp_sites_build(mp_sites *s, mp_symbolizer *sym, const mp_snapshot *snap);
/* The same in steps, to add up several snapshots: init, then add each
 * (from_peak: its PEAK_SITES as the live heap instead of HEAP). */
void mp_sites_init(mp_sites *s);
void mp_sites_add(mp_sites *s, mp_symbolizer *sym, const mp_snapshot *snap, int from_peak);
/* Site with this key, or NULL. */
const mp_site *mp_sites_find(const mp_sites *s, const char *key);
enum mp_site_order { MP_BY_LIVE_BYTES, MP_BY_ALLOC_BYTES, MP_BY_TEMP_COUNT };
/* Sorts v descending (ties by key, so output is deterministic); find keeps working. */
void mp_sites_sort(mp_sites *s, enum mp_site_order order);
void mp_sites_free(mp_sites *s);

/* ---- counters: saturating, so a corrupt count cannot wrap a total ---- */

static inline uint64_t mp_sites_sat_add(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

static inline uint64_t mp_sites_sub0(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

/* qsort order for "largest first". */
static inline int mp_sites_cmp_desc(uint64_t a, uint64_t b)
{
    return a < b ? 1 : a > b ? -1 : 0;
}

/* ---- launcher.c's option helpers: opts.h's mp_opts_bytes and
 * mp_opts_value under their old names, until launcher.c's split lands. ---- */

int mp_rep_parse_u64(const char *s, uint64_t *out, int suffixes);
int mp_rep_opt_value(int argc, char **argv, int *i, const char *name, const char **val);

#endif
