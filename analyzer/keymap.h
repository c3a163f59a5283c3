/*
 * keymap.h - (tag, symbolic key) -> index: how sites, locks and diff rows
 * find the entry of a stack key. A keyed view over the one hash table
 * (hashmap.h), not a table of its own.
 */
#ifndef MEMPROF_KEYMAP_H
#define MEMPROF_KEYMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Keys are compared by content (not pointer) so tables built by different
 * symbolizers still match; the string itself is not copied and must
 * outlive the map.
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

#endif
