/*
 * test_hashmap.c - the analyzer's one hash table (analyzer/hashmap.c) and
 * the two keyed views over it (strtab.c's interning, keymap.c).
 *
 * Checked against a plain array as the model: every inserted id is found
 * again through growth, lookups of absent keys miss, and keys whose 64-bit
 * hashes collide (every key hashed to one value, the worst case for linear
 * probing) are told apart by the caller's equality alone.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hashmap.h"
#include "keymap.h"
#include "strtab.h"

typedef struct key_ctx {
    const uint64_t *keys;
    uint64_t want;
} key_ctx;

static bool key_eq(const void *ctx, uint32_t id)
{
    const key_ctx *k = ctx;
    return k->keys[id] == k->want;
}

static uint32_t find(const mp_hashmap *m, const uint64_t *keys, uint64_t key, bool collide)
{
    key_ctx k = {keys, key};
    return mp_hashmap_find(m, collide ? 42 : mp_hashmap_hash_u64(key), key_eq, &k);
}

/* n distinct keys, inserted then looked up, with real or colliding hashes. */
static void test_index(size_t n, bool collide)
{
    uint64_t *keys = calloc(n, sizeof(*keys));
    mp_hashmap m = {0};
    CHECK(find(&m, keys, 1, collide) == MP_HASHMAP_NONE, "an empty table found something");
    for (size_t i = 0; i < n; i++) {
        keys[i] = (uint64_t)i * 0x10000 + 7;   /* low bits all alike */
        CHECK(find(&m, keys, keys[i], collide) == MP_HASHMAP_NONE, "key %zu found early", i);
        mp_hashmap_insert(&m, collide ? 42 : mp_hashmap_hash_u64(keys[i]), (uint32_t)i);
    }
    CHECK(m.n == n, "n is %zu, not %zu", m.n, n);
    CHECK(m.cap >= 2 * n, "load over 1/2: cap %zu for %zu", m.cap, n);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++)
        wrong += find(&m, keys, keys[i], collide) != i;
    CHECK(wrong == 0, "%zu of %zu keys not found as themselves (collide %d)", wrong, n, collide);
    CHECK(find(&m, keys, 3, collide) == MP_HASHMAP_NONE, "an absent key was found");
    mp_hashmap_clear(&m);
    CHECK(m.n == 0 && find(&m, keys, keys[0], collide) == MP_HASHMAP_NONE,
          "clear left an entry");
    mp_hashmap_free(&m);
    free(keys);
}

/* Interned pointers stay valid and unique while the table grows. */
static void test_strtab(void)
{
    enum { N = 20000 };
    mp_strtab *t = mp_strtab_new();
    const char **p = malloc(N * sizeof(*p));
    char buf[32];
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof(buf), "name%d", i);
        p[i] = mp_strtab_intern(t, buf);
    }
    int wrong = 0;
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof(buf), "name%d", i);
        wrong += mp_strtab_intern(t, buf) != p[i] || strcmp(p[i], buf) != 0;
    }
    CHECK(wrong == 0, "%d interned strings moved or changed", wrong);
    /* Length, not NUL, delimits: "ab" and "ab\0c" (3 bytes) are different. */
    CHECK(mp_strtab_intern_n(t, "abc", 2) == mp_strtab_intern(t, "ab"), "prefix not interned");
    CHECK(mp_strtab_intern_n(t, "ab\0c", 3) != mp_strtab_intern(t, "ab"), "length ignored");
    CHECK(strcmp(mp_strtab_intern_symbol(t, "foo.part.0"), "foo") == 0, "clone suffix kept");
    free(p);
    mp_strtab_free(t);
}

/* The same key under two tags is two entries; put keeps the first value. */
static void test_keymap(void)
{
    mp_keymap *m = mp_keymap_new();
    char a[] = "main;f", b[] = "main;f";   /* equal content, other pointers */
    CHECK(mp_keymap_get(m, 0, a) == -1, "empty map found a key");
    CHECK(mp_keymap_put(m, 0, a, 5) == 5, "first put did not store");
    CHECK(mp_keymap_put(m, 0, b, 9) == 5, "second put of an equal key replaced it");
    CHECK(mp_keymap_put(m, 0x1000, b, 7) == 7, "another tag shared the entry");
    CHECK(mp_keymap_get(m, 0, b) == 5 && mp_keymap_get(m, 0x1000, a) == 7, "wrong values");
    mp_keymap_clear(m);
    CHECK(mp_keymap_get(m, 0, a) == -1, "clear left a key");
    CHECK(mp_keymap_put(m, 0, a, 1) == 1, "put after clear failed");
    mp_keymap_free(m);
}

int main(void)
{
    test_index(100000, false);
    test_index(3000, true);
    test_strtab();
    test_keymap();
    CHECK_DONE();
}
