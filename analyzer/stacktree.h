/*
 * stacktree.h - what the export commands (flame, folded, pprof) share:
 *
 *  - mp_what: which measurement a profile shows, and one iterator over the
 *    snapshot records that carry it, so the three exports agree on values;
 *  - mp_stacktree: a call tree built from symbolized stacks, root first, with
 *    frames merged by function name at the same position (flame, folded).
 */
#ifndef MEMPROF_STACKTREE_H
#define MEMPROF_STACKTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analyzer.h"
#include "hashmap.h"

/* MP_WHAT_LOCKS charges each wait to the waiter's stack, MP_WHAT_LOCK_HOLDERS
 * to the stack of the holder whose release let the waiter in (the unlocker,
 * which Go's mutex profile blames); peak: the live heap at the high-water
 * mark (PEAK_SITES); temporary: the bytes of allocations that died young
 * (LIFETIMES). */
typedef enum mp_what {
    MP_WHAT_HEAP, MP_WHAT_ALLOC, MP_WHAT_LOCKS, MP_WHAT_LOCK_HOLDERS, MP_WHAT_PEAK,
    MP_WHAT_TEMPORARY, MP_WHAT_COUNT
} mp_what;

/* One record of the measurement: a stack with its value and count. */
typedef struct mp_value_rec {
    uint32_t stack;             /* index into STACKS, may be MP_NO_STACK */
    uint64_t value;             /* bytes (heap, alloc) or wait ns (locks) */
    uint64_t count;             /* objects, allocations or contentions */
    const mp_heap_site *heap;   /* heap and alloc: the whole record */
    const mp_lock *lock;        /* locks: the lock that was waited for */
} mp_value_rec;

typedef void (*mp_value_fn)(void *ctx, const mp_value_rec *rec);

/*
 * Calls fn for every record of `what`, zero values included (pprof keeps a
 * heap record with no live bytes for its alloc_* columns). For locks these
 * are the waiter stacks of every lock. `stack` is passed on unchecked, like
 * `memprof report` counts it: look it up with mp_sites_stack (NULL = unknown).
 */
void mp_stacktree_each_value(const mp_snapshot *snap, mp_what what, mp_value_fn fn,
                             void *ctx);
/* The words reports use for a view. */
typedef struct mp_what_info {
    const char *name;           /* --what's value: "heap", "alloc", "locks", ... */
    const char *title;          /* a flame graph's title */
    const char *count_word;     /* what a record's count counts: "objects", ... */
    const char *nodata;         /* "this snapshot holds no <nodata>" */
} mp_what_info;
const mp_what_info *mp_stacktree_what_info(mp_what what);
const char *mp_stacktree_what_name(mp_what what);   /* = mp_stacktree_what_info(what)->name */
bool mp_stacktree_what_is_bytes(mp_what what);
bool mp_stacktree_what_is_locks(mp_what what);   /* either lock view */

/* ---- call tree ---- */

#define MP_STACKTREE_NONE UINT32_MAX

typedef struct mp_stacktree_node {
    const char *name;           /* function, or "[module]" when unknown */
    const char *file;           /* first one seen; NULL when unknown */
    const char *module;
    int line;                   /* 0 unknown, -1 merged frames disagree */
    uint32_t parent, first_child, next_sibling;
    uint32_t depth;             /* root = 0 */
    uint64_t total, self, count;/* inclusive value, exclusive value, count */
    uint64_t old_total;         /* differential: inclusive value in OLD */
    uint64_t offset;            /* after mp_stacktree_layout: start in value units */
} mp_stacktree_node;

typedef struct mp_stacktree {
    mp_stacktree_node *nodes;       /* nodes[0] is the root, "all" */
    size_t n, cap;
    uint32_t max_depth;
    mp_hashmap index;           /* (parent, name) -> child */
    struct mp_strtab *names;    /* names made here ("[libfoo.so]") */
    bool lines;                 /* set before adding: one node per function
                                   and line, named "fn (file.c:50)" */
} mp_stacktree;

void mp_stacktree_init(mp_stacktree *t);
void mp_stacktree_free(mp_stacktree *t);
/* Adds one stack (innermost first); `old` adds to old_total only. */
void mp_stacktree_add(mp_stacktree *t, const mp_symstack *st, uint64_t value,
                      uint64_t count, bool old);
/* Adds every non-zero record of `what`. */
void mp_stacktree_add_snapshot(mp_stacktree *t, mp_symbolizer *sym,
                               const mp_snapshot *snap, mp_what what, bool old);
/* Sorts children by name and assigns offsets (children left-aligned). */
void mp_stacktree_layout(mp_stacktree *t);
/* Pre-order walk without recursion: next node after i, or MP_STACKTREE_NONE.
 * skip_children moves on to i's next sibling (or an ancestor's). */
uint32_t mp_stacktree_next(const mp_stacktree *t, uint32_t i, bool skip_children);

#endif
