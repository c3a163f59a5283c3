/*
 * hashmap.h - the analyzer's one hash table: open addressing with linear
 * probing over (hash, id) slots, the load kept under 1/2.
 *
 * The table stores only a key's 64-bit hash and a 32-bit id; the entries
 * themselves live in the caller's dense array, indexed by id. That keeps
 * one implementation for every kind of key (a u64, a string, a composite
 * such as (parent node, name) or (ELF file, address)): the caller hashes
 * its key with one of the mp_hashmap_hash_* helpers and says how to compare
 * it with entry `id`. Entries never move when the table grows, and the
 * caller's array gives insertion order for free.
 *
 * Users: the string table (util.c), the symbolizer's address cache
 * (symbolize.c), the site and lock key maps (sites.c), the call tree
 * (stacktree.c) and the pprof string/function/location tables.
 */
#ifndef MEMPROF_HASHMAP_H
#define MEMPROF_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MP_HASHMAP_NONE UINT32_MAX

typedef struct mp_hashmap_slot {
    uint64_t hash;
    uint32_t id1;               /* id + 1; 0 = empty slot */
} mp_hashmap_slot;

typedef struct mp_hashmap {
    mp_hashmap_slot *slots;
    size_t cap, n;              /* cap is 0 or a power of two */
} mp_hashmap;

/* Does the caller's key (ctx) equal entry `id`? Called only on a full
 * 64-bit hash match, so usually once per successful lookup. */
typedef bool (*mp_hashmap_eq)(const void *ctx, uint32_t id);

/* An all-zero mp_hashmap is a valid empty table; init only presizes it for
 * about `expect` entries (0 = grow from the default). */
void mp_hashmap_init(mp_hashmap *m, size_t expect);
void mp_hashmap_free(mp_hashmap *m);
/* Empties the table, keeping its memory (for re-indexing after a sort). */
void mp_hashmap_clear(mp_hashmap *m);
/* Adds id under hash; the caller has checked it is not there yet. */
void mp_hashmap_insert(mp_hashmap *m, uint64_t hash, uint32_t id);

/* The id whose hash matches and eq accepts, or MP_HASHMAP_NONE. Inline so
 * that the compiler can inline the caller's eq into the probe loop. */
static inline uint32_t mp_hashmap_find(const mp_hashmap *m, uint64_t hash,
                                       mp_hashmap_eq eq, const void *ctx)
{
    if (!m->cap)
        return MP_HASHMAP_NONE;
    size_t mask = m->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        const mp_hashmap_slot *s = &m->slots[i];
        if (!s->id1)
            return MP_HASHMAP_NONE;
        if (s->hash == hash && eq(ctx, s->id1 - 1))
            return s->id1 - 1;
    }
}

/* Hashes for keys. The table indexes by the low bits, so every input bit
 * must reach them: bytes go through XXH3, integers through splitmix64's
 * finalizer. Seeds let a composite key fold in a second part. */
uint64_t mp_hashmap_hash_bytes(const void *p, size_t n, uint64_t seed);
uint64_t mp_hashmap_hash_str(const char *s, uint64_t seed);
uint64_t mp_hashmap_hash_u64(uint64_t v);

#endif
