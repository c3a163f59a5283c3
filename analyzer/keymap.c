/*
 * keymap.c - (tag, symbolic key) -> index, over hashmap.h (see keymap.h).
 */
#include "keymap.h"

#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "util.h"

/* Entries in insertion order; the hash table indexes them. */
typedef struct km_entry {
    uint64_t tag;
    const char *key;
    size_t value;
} km_entry;

struct mp_keymap {
    mp_hashmap index;
    km_entry *e;
    size_t n, cap;
};

typedef struct km_key {
    const mp_keymap *m;
    uint64_t tag;
    const char *key;
} km_key;

static bool km_eq(const void *ctx, uint32_t id)
{
    const km_key *k = ctx;
    const km_entry *e = &k->m->e[id];
    return e->tag == k->tag && (e->key == k->key || strcmp(e->key, k->key) == 0);
}

mp_keymap *mp_keymap_new(void)
{
    return mp_xcalloc(1, sizeof(mp_keymap));
}

void mp_keymap_free(mp_keymap *m)
{
    if (m) {
        mp_hashmap_free(&m->index);
        free(m->e);
        free(m);
    }
}

ssize_t mp_keymap_get(const mp_keymap *m, uint64_t tag, const char *key)
{
    km_key k = {m, tag, key};
    uint32_t id = mp_hashmap_find(&m->index, mp_hashmap_hash_str(key, tag), km_eq, &k);
    return id == MP_HASHMAP_NONE ? -1 : (ssize_t)m->e[id].value;
}

size_t mp_keymap_put(mp_keymap *m, uint64_t tag, const char *key, size_t value)
{
    km_key k = {m, tag, key};
    uint64_t h = mp_hashmap_hash_str(key, tag);
    uint32_t id = mp_hashmap_find(&m->index, h, km_eq, &k);
    if (id != MP_HASHMAP_NONE)
        return m->e[id].value;
    mp_grow((void **)&m->e, &m->cap, m->n + 1, sizeof(km_entry));
    m->e[m->n] = (km_entry){tag, key, value};
    mp_hashmap_insert(&m->index, h, (uint32_t)m->n++);
    return value;
}

void mp_keymap_clear(mp_keymap *m)
{
    mp_hashmap_clear(&m->index);
    m->n = 0;
}
