/*
 * stacktab.c - the process-wide table of distinct call stacks.
 *
 * Sampling threads insert concurrently without locks: a stack is written
 * into a freshly claimed id and frame range, published, and only then made
 * findable through the hash index by a CAS. Two threads racing on the same
 * new stack may both publish it (under two ids); that wastes one entry but
 * is harmless, since the analyzer merges stacks by their symbolic identity.
 *
 * Everything lives in address space reserved once with MAP_NORESERVE and
 * touched only as it fills, so an idle table costs no memory. Nothing is
 * ever removed: ids stay valid for the life of the process (and in a forked
 * child, which inherits the table copy-on-write).
 */
#include "shim.h"

#include <string.h>
#include <xxhash.h>

#define MAX_STACKS (1u << 20)
#define INDEX_SLOTS (MAX_STACKS * 2)      /* load factor <= 1/2 */
#define MAX_FRAMES (1u << 25)             /* 256 MiB of address space */
#define MAX_PROBES 64

typedef struct stack_entry {
    uint64_t hash;
    uint64_t first_frame;
    uint32_t depth;
    uint32_t generation;
    _Atomic uint32_t ready;
    uint32_t pad;
} stack_entry;

static stack_entry *entries;
static _Atomic uint32_t *index_slots;     /* id + 1, 0 = empty */
static uint64_t *frames_arena;
static _Atomic uint32_t next_id;
static _Atomic uint64_t next_frame;

int mp_stacktab_init(void)
{
    if (entries)
        return 0;
    entries = mp_reserve(sizeof(stack_entry) * (size_t)MAX_STACKS);
    index_slots = mp_reserve(sizeof(uint32_t) * (size_t)INDEX_SLOTS);
    frames_arena = mp_reserve(sizeof(uint64_t) * (size_t)MAX_FRAMES);
    if (!entries || !index_slots || !frames_arena)
        return -1;
    /* Id 0 is the overflow/unknown stack: depth 0, always published. */
    atomic_store(&next_id, 1);
    atomic_store(&entries[0].ready, 1);
    return 0;
}

static bool same_stack(const stack_entry *e, uint64_t hash, const uint64_t *frames, uint32_t depth)
{
    return e->hash == hash && e->depth == depth &&
           memcmp(frames_arena + e->first_frame, frames, depth * sizeof(uint64_t)) == 0;
}

static uint32_t publish(uint64_t hash, const uint64_t *frames, uint32_t depth, uint32_t generation)
{
    uint32_t id = atomic_fetch_add(&next_id, 1);
    uint64_t first = atomic_fetch_add(&next_frame, depth);
    if (id >= MAX_STACKS || first + depth > MAX_FRAMES) {
        MP_COUNT(stack_table_full);
        return MP_OVERFLOW_STACK;
    }
    memcpy(frames_arena + first, frames, depth * sizeof(uint64_t));
    stack_entry *e = &entries[id];
    e->hash = hash;
    e->first_frame = first;
    e->depth = depth;
    e->generation = generation;
    atomic_store_explicit(&e->ready, 1, memory_order_release);
    return id;
}

uint32_t mp_stack_intern(const uint64_t *frames, uint32_t depth, uint32_t generation)
{
    if (!entries || depth == 0)
        return MP_OVERFLOW_STACK;
    uint64_t hash = XXH3_64bits(frames, depth * sizeof(uint64_t));
    uint32_t mine = UINT32_MAX;   /* id we published but have not indexed */
    for (uint32_t i = 0; i < MAX_PROBES; i++) {
        _Atomic uint32_t *slot = &index_slots[(hash + i) & (INDEX_SLOTS - 1)];
        uint32_t v = atomic_load_explicit(slot, memory_order_acquire);
        while (v == 0) {
            if (mine == UINT32_MAX) {
                mine = publish(hash, frames, depth, generation);
                if (mine == MP_OVERFLOW_STACK)
                    return mine;
            }
            if (atomic_compare_exchange_strong(slot, &v, mine + 1))
                return mine;
            /* Lost the slot: v now holds the winner; compare with it. */
        }
        const stack_entry *e = &entries[v - 1];
        if (atomic_load_explicit(&e->ready, memory_order_acquire) &&
            same_stack(e, hash, frames, depth))
            return v - 1;
    }
    MP_COUNT(stack_table_full);
    return mine != UINT32_MAX ? mine : MP_OVERFLOW_STACK;
}

uint32_t mp_stack_count(void)
{
    uint32_t n = atomic_load(&next_id);
    return n > MAX_STACKS ? MAX_STACKS : n;
}

const uint64_t *mp_stack_get(uint32_t id, uint32_t *depth, uint64_t *hash, uint32_t *generation)
{
    if (!entries || id >= mp_stack_count())
        return NULL;
    stack_entry *e = &entries[id];
    if (!atomic_load_explicit(&e->ready, memory_order_acquire))
        return NULL;
    *depth = e->depth;
    *hash = e->hash;
    *generation = e->generation;
    return frames_arena + e->first_frame;
}
