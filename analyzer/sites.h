/*
 * sites.h - a snapshot's records merged by *symbolic* stack, plus the small
 * presentation helpers that report, diff and locks share.
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

/* ---- key map: (tag, symbolic key) -> index ---- */

/*
 * Keys are compared by content (not pointer) so tables built by different
 * symbolizers still match; the string itself is not copied. A keyed view
 * over the one hash table (hashmap.h), not a table of its own.
 */
typedef struct mp_keymap mp_keymap;
mp_keymap *mp_keymap_new(void);
void mp_keymap_free(mp_keymap *m);
/* Index stored for (tag, key), or -1. */
ssize_t mp_keymap_get(const mp_keymap *m, uint64_t tag, const char *key);
/* Stores (tag, key) -> value unless present; returns the stored value. */
size_t mp_keymap_put(mp_keymap *m, uint64_t tag, const char *key, size_t value);
/* Forgets every key, keeping the memory (re-indexing after a sort). */
void mp_keymap_clear(mp_keymap *m);

/* Symbolized stack of a record, or NULL for MP_NO_STACK / a bad index. */
const mp_symstack *mp_site_stack(mp_symbolizer *sym, const mp_snapshot *snap,
                                 uint32_t stack_index);
/* The key of a possibly-NULL stack ("" when there is none). */
const char *mp_site_key(const mp_symstack *st);

/* ---- heap sites ---- */

typedef struct mp_site {
    const char *key;              /* symbolic identity, "" when unknown */
    const mp_symstack *stack;     /* first stack seen with the key; may be NULL */
    uint64_t live_bytes, live_count, live_samples;
    uint64_t alloc_bytes, alloc_count, alloc_samples;
} mp_site;

typedef struct mp_sites {
    mp_site *v;
    size_t n;
    mp_site total;                /* sums over every site; key "" stack NULL */
    mp_keymap *map;               /* key -> index into v (private) */
} mp_sites;

/* Merges snap's HEAP records by key. Never fails (aborts on OOM). */
void mp_sites_build(mp_sites *s, mp_symbolizer *sym, const mp_snapshot *snap);
/* Site with this key, or NULL. */
const mp_site *mp_sites_find(const mp_sites *s, const char *key);
enum mp_site_order { MP_BY_LIVE_BYTES, MP_BY_ALLOC_BYTES };
/* Sorts v descending (ties by key, so output is deterministic); find keeps working. */
void mp_sites_sort(mp_sites *s, enum mp_site_order order);
void mp_sites_free(mp_sites *s);

/* ---- locks ---- */

typedef struct mp_lockstack {
    const char *key;
    const mp_symstack *stack;     /* may be NULL */
    uint64_t contentions;         /* waits suffered (waiter) / caused (holder) */
    uint64_t wait_ns;
} mp_lockstack;

typedef struct mp_lockrec {
    uint64_t address;
    uint32_t kind;                /* mp_lock_kind */
    const char *key;              /* key of the first-use stack, "" when none */
    const mp_symstack *site;      /* first-use stack, NULL when none */
    uint64_t contentions, wait_ns, max_wait_ns;
    uint64_t hold_ns, contended_holds, acquisitions;
    int max_wait_exact;           /* 0: a window could only bound max_wait_ns */
    mp_lockstack *waiters;        /* role MP_ROLE_WAITER, merged by key */
    size_t n_waiters;
    mp_lockstack *holders;        /* role MP_ROLE_HOLDER, merged by key */
    size_t n_holders;
} mp_lockrec;

typedef struct mp_locktab {
    mp_lockrec *v;
    size_t n;
    uint64_t contentions, wait_ns;  /* totals over v */
    mp_keymap *map;               /* (address, key) -> index (private) */
} mp_locktab;

/*
 * Merges snap's LOCKS by (address, first-use key) and each lock's
 * LOCK_SITES by (role, key). Locks are kept even with zero contentions.
 */
void mp_locktab_build(mp_locktab *t, mp_symbolizer *sym, const mp_snapshot *snap);
const mp_lockrec *mp_locktab_find(const mp_locktab *t, uint64_t address, const char *key);
/*
 * Turns t's cumulative counters into the window since `old` (an earlier
 * snapshot of the same process): subtracts old's counters lock by lock and
 * stack by stack (clamped at 0), then drops locks and stacks with no
 * contention left. max_wait_ns: when it changed it happened in the window and
 * is exact; when it did not change the window's maximum is only known to be
 * <= it, so it is kept and max_wait_exact is cleared.
 */
void mp_locktab_subtract(mp_locktab *t, const mp_locktab *old);
/* Drops locks with zero contentions (the "contended" in "contended locks"). */
void mp_locktab_drop_uncontended(mp_locktab *t);
/* Locks by wait_ns descending, and each lock's stacks likewise. */
void mp_locktab_sort(mp_locktab *t);
void mp_locktab_free(mp_locktab *t);

/* ---- launcher.c's option helpers: opts.h's mp_opts_bytes and
 * mp_opts_value under their old names, until launcher.c's split lands. ---- */

int mp_rep_parse_u64(const char *s, uint64_t *out, int suffixes);
int mp_rep_opt_value(int argc, char **argv, int *i, const char *name, const char **val);

/* ---- shared text and JSON output (sites_fmt.c) ---- */

/* "1.5 MiB"; with plus, non-negative values get a leading '+'. */
const char *mp_rep_bytes(char buf[32], int64_t v, int plus);
/* Compact form for series columns: "512", "1.5K", "12M". */
const char *mp_rep_bytes_short(char buf[16], int64_t v);
/* "850 ns", "12.3 ms", "4.56 s", "2m03s". */
const char *mp_rep_ns(char buf[32], uint64_t ns);
/* "function (file:line)", or "function (module)" when the line is unknown. */
void mp_rep_frame(FILE *out, const mp_frame *f);
/*
 * The innermost frame on the current line, then up to `callers` callers on
 * their own lines, each indented by `indent` spaces and prefixed "<- ".
 * Ends with a newline. A NULL or empty stack prints "(unknown stack)".
 */
void mp_rep_stack(FILE *out, const mp_symstack *st, int callers, int indent);
/* One line: program, pid, seq, trigger, time, sampling rate; prefixed
 * "memprof CMD: " unless cmd is NULL. */
void mp_rep_header(FILE *out, const char *cmd, const mp_snapshot *snap);
/* Lines warning that counters show lost or partial data; nothing if clean. */
void mp_rep_counters(FILE *out, const mp_snapshot *snap);
/* JSON helpers: frames of a possibly-NULL stack, the meta and counters objects. */
void mp_rep_json_frames(FILE *out, const mp_symstack *st);
void mp_rep_json_meta(FILE *out, const mp_snapshot *snap);

#endif
