/*
 * hashmap.c - open-addressing (hash, id) index (see hashmap.h).
 */
#include "hashmap.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "util.h"

#define MIN_CAP 64

static void put_slot(mp_hashmap *m, uint64_t hash, uint32_t id1)
{
    size_t mask = m->cap - 1, i = hash & mask;
    while (m->slots[i].id1)
        i = (i + 1) & mask;
    m->slots[i] = (mp_hashmap_slot){.hash = hash, .id1 = id1};
}

static void resize(mp_hashmap *m, size_t cap)
{
    mp_hashmap old = *m;
    m->cap = cap;
    m->slots = mp_xcalloc(cap, sizeof(*m->slots));
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].id1)
            put_slot(m, old.slots[i].hash, old.slots[i].id1);
    free(old.slots);
}

void mp_hashmap_init(mp_hashmap *m, size_t expect)
{
    memset(m, 0, sizeof(*m));
    size_t cap = MIN_CAP;
    while (cap / 2 < expect && cap < SIZE_MAX / 4)
        cap *= 2;
    if (expect)
        resize(m, cap);
}

void mp_hashmap_free(mp_hashmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

void mp_hashmap_clear(mp_hashmap *m)
{
    if (m->cap)
        memset(m->slots, 0, m->cap * sizeof(*m->slots));
    m->n = 0;
}

void mp_hashmap_insert(mp_hashmap *m, uint64_t hash, uint32_t id)
{
    if (2 * (m->n + 1) > m->cap)   /* keep the load under 1/2 */
        resize(m, m->cap ? 2 * m->cap : MIN_CAP);
    put_slot(m, hash, id + 1);
    m->n++;
}

uint64_t mp_hashmap_hash_bytes(const void *p, size_t n, uint64_t seed)
{
    return XXH3_64bits_withSeed(p, n, seed);
}

uint64_t mp_hashmap_hash_str(const char *s, uint64_t seed)
{
    return XXH3_64bits_withSeed(s, strlen(s), seed);
}

uint64_t mp_hashmap_hash_u64(uint64_t v)
{
    v ^= v >> 30;
    v *= 0xbf58476d1ce4e5b9ull;
    v ^= v >> 27;
    v *= 0x94d049bb133111ebull;
    return v ^ (v >> 31);
}
