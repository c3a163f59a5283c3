/*
 * addrset.c - the set of live sampled blocks, keyed by address.
 *
 * free() must ask "was this block sampled?" on every call, and the answer is
 * almost always no. A 64 Ki-bit filter (mp_filter_bits, indexed by address
 * bits, see shim.h) answers that with one load and no lock: a clear bit
 * means no sampled block maps there. Behind each bit is a count of the live
 * sampled blocks that map to it; the bit is set while the count is non-zero. Only on a hit (a sampled block, or a rare
 * false positive) do we take one of 64 shard spinlocks and probe the shard's
 * open-addressed table, which holds the block's stack and weights so the
 * free event can subtract exactly what the sample added.
 *
 * Callers update the set synchronously, in the allocating/freeing thread:
 * remove before the real free/realloc, insert after the real allocation, so
 * an address handed out again to another thread can never be confused.
 * A signal handler that frees or allocates while its thread holds a shard
 * lock only tries the lock (see shard_lock), so it cannot self-deadlock.
 *
 * In exact mode (MEMPROF_SAMPLE=1) every block is sampled, so the filter
 * cannot say no: its bits are all set for good (filter_all) and the counts
 * are not kept. Keeping them was two loads and stores into the 128 KiB
 * of counts, at random places, per allocation and per free: 7 of the
 * address set's 47 ns per free and malloc pair on leak_slow's pattern.
 * A free of a block that was never sampled (made before start-up or by
 * the collector) then costs one failed lookup.
 */
#include "shim.h"

#include <string.h>

#define N_SHARDS 64
#define SHARD_INITIAL 128   /* one page: most shards of most programs hold a few blocks */
#define KEY_EMPTY 0
#define KEY_MIN_VALID 2   /* 0 is the empty key; 0 and 1 are never blocks */

typedef struct shard {
    _Alignas(64) mp_spinlock lock;   /* one shard per cache line */
    size_t cap, used;   /* linear probing, no tombstones (see delete_at) */
    mp_block *slots;
} shard;

_Atomic uint64_t mp_filter_bits[(1u << MP_FILTER_BITS) / 64];

/*
 * A filter slot's count is only ever changed under the lock of the shard
 * its index selects, so count and bit cannot disagree. The shard is the
 * filter word's (all 64 bits of a word are one shard's), so a word too
 * is only changed under its shard's lock, and needs no locked
 * instruction (two of them per allocation at MEMPROF_SAMPLE=1): one
 * unlocked or/and, which a signal handler on this thread cannot split
 * (mp_addrset_pin may change a word without the lock when it interrupted
 * this thread inside the set). Readers (free) load the word whole.
 */
static uint16_t filter_count[1u << MP_FILTER_BITS];
/* Exact mode: every bit set, no counts (see the top). Changed only by
 * mp_addrset_init and _clear, when no block is in the set. */
static _Atomic bool filter_all;
/* A shard is a function of the filter word (i / 64): the word's region
 * (its top MP_FILTER_REGION_BITS, see shim.h) picks the shard's group, so
 * threads in different regions share no shard, and the word's low bits
 * the shard within it. */
#define REGION_SHARDS (N_SHARDS >> MP_FILTER_REGION_BITS)
#define SHARD_OF_INDEX(i)                                                                   \
    ((((i) >> (MP_FILTER_BITS - MP_FILTER_REGION_BITS)) * REGION_SHARDS) |                   \
     (((i) / 64) & (REGION_SHARDS - 1)))
#define SHARD_OF(p) SHARD_OF_INDEX(mp_filter_index(p))
static shard shards[N_SHARDS];

/* Sets (on) or clears one bit of a filter word, its shard's lock held. */
static inline void word_change(_Atomic uint64_t *w, uint64_t bit, bool on)
{
#if defined(__x86_64__)
    if (on)
        __asm__ volatile("orq %1, %0" : "+m"(*w) : "r"(bit) : "cc");
    else
        __asm__ volatile("andq %1, %0" : "+m"(*w) : "r"(~bit) : "cc");
#else
    if (on)
        atomic_fetch_or_explicit(w, bit, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(w, ~bit, memory_order_relaxed);
#endif
}

/* Both under the lock of the slot's shard. A count saturates rather than
 * wraps: a stuck bit costs lookups, a wrong clear bit would lose frees. */
static void filter_add(size_t i)
{
    if (atomic_load_explicit(&filter_all, memory_order_relaxed) || filter_count[i] == UINT16_MAX)
        return;
    if (filter_count[i]++ == 0)
        word_change(&mp_filter_bits[i / 64], 1ull << (i % 64), true);
}

static void filter_remove(size_t i)
{
    if (atomic_load_explicit(&filter_all, memory_order_relaxed) || filter_count[i] == UINT16_MAX)
        return;
    if (--filter_count[i] == 0)
        word_change(&mp_filter_bits[i / 64], 1ull << (i % 64), false);
}
static MP_TLS int in_addrset;   /* this thread holds a shard lock */

/*
 * A signal handler may interrupt this thread while it holds a shard lock
 * and then free or allocate itself. Waiting for the lock would deadlock, so
 * a nested call only tries (briefly, another thread may hold it) and gives
 * up; the caller counts what that loses.
 */
static inline __attribute__((always_inline)) bool shard_lock(shard *s)
{
    /* Marked before acquiring: a handler that interrupts us between taking
     * the lock and marking it would otherwise wait for it forever. */
    int outer = in_addrset++ == 0;
    atomic_signal_fence(memory_order_seq_cst);   /* mark first, then lock */
    if (outer) {
        if (!mp_spin_trylock(&s->lock))   /* free, nearly always: no call */
            mp_spin_lock(&s->lock);
        return true;
    }
    for (int tries = 0; !mp_spin_trylock(&s->lock); tries++) {
        if (tries > 1000) {
            in_addrset--;
            return false;
        }
        mp_cpu_relax();
    }
    return true;
}

/* Unlock first, then unmark, for the same reason. */
static inline __attribute__((always_inline)) void shard_unlock(shard *s)
{
    mp_spin_unlock(&s->lock);
    atomic_signal_fence(memory_order_seq_cst);
    in_addrset--;
}

static inline uint64_t mix(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* The filter's bits as its mode wants them with no block in the set: all
 * set in exact mode, else only the pinned ones. */
static void filter_reset(void)
{
    bool all = mp_cfg.sample_bytes <= 1;
    atomic_store(&filter_all, all);
    for (size_t i = 0; i < (1u << MP_FILTER_BITS); i++) {
        bool pinned = filter_count[i] == UINT16_MAX;
        if (!pinned)
            filter_count[i] = 0;
        if (i % 64 == 0)
            atomic_store_explicit(&mp_filter_bits[i / 64], all ? ~0ull : 0, memory_order_relaxed);
        if (pinned)
            atomic_fetch_or_explicit(&mp_filter_bits[i / 64], 1ull << (i % 64),
                                     memory_order_relaxed);
    }
}

/* At start-up (mp_cfg read) and at each attach, whose configuration may
 * differ; the set is empty then (an attach after the first clears it). */
int mp_addrset_init(void)
{
    if (atomic_load(&filter_all) != (mp_cfg.sample_bytes <= 1))
        filter_reset();
    return 0;
}

/* The slot holding addr, or else the empty slot where it would go (NULL
 * when the table is full of other keys). */
static mp_block *probe(shard *s, uint64_t addr, uint64_t h)
{
    size_t mask = s->cap - 1;
    for (size_t i = 0; i < s->cap; i++) {
        mp_block *b = &s->slots[(h + i) & mask];
        if (b->addr == addr || b->addr == KEY_EMPTY)
            return b;
    }
    return NULL;
}

static bool grow(shard *s)
{
    size_t ncap = s->cap ? s->cap * 2 : SHARD_INITIAL;
    mp_block *fresh = mp_pages(ncap * sizeof(mp_block));
    if (!fresh)
        return false;
    mp_block *old = s->slots;
    size_t ocap = s->cap;
    s->slots = fresh;
    s->cap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i].addr != KEY_EMPTY)
            *probe(s, old[i].addr, mix((void *)(uintptr_t)old[i].addr)) = old[i];
    }
    mp_pages_free(old, ocap * sizeof(mp_block));
    return true;
}

/*
 * Empties slot i and closes the gap: each following key of the run moves
 * back into the hole unless its home lies cyclically in (hole, its slot].
 * Churn (exact sampling frees as often as it allocates) would otherwise
 * fill the table with tombstones and lengthen every probe.
 */
static void delete_at(shard *s, size_t hole)
{
    size_t mask = s->cap - 1;
    for (size_t j = (hole + 1) & mask; s->slots[j].addr != KEY_EMPTY; j = (j + 1) & mask) {
        size_t home = mix((void *)(uintptr_t)s->slots[j].addr) & mask;
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            s->slots[hole] = s->slots[j];
            hole = j;
        }
    }
    s->slots[hole].addr = KEY_EMPTY;
}

/* Field by field, as the caller built it (track_new: each field its own
 * store): a 16-byte load over several narrower stores just made cannot
 * take its data from the store buffer and waits for them to reach the
 * cache, which was most of this function's time at MEMPROF_SAMPLE=1. */
static inline void block_copy(mp_block *to, const mp_block *from)
{
    to->addr = from->addr;
    to->stack = from->stack;
    to->born = from->born;
    to->w.bytes = from->w.bytes;
    to->w.count_fx = from->w.count_fx;
}

int mp_addrset_insert(const mp_block *b, mp_block *stale)
{
    if (b->addr < KEY_MIN_VALID)
        return -1;
    uint64_t h = mix((void *)(uintptr_t)b->addr);
    shard *s = &shards[SHARD_OF((void *)(uintptr_t)b->addr)];
    int rc = -1;
    if (!shard_lock(s)) {
        MP_COUNT(addrset_full);
        return -1;
    }
    if ((s->used + 1) * 2 > s->cap && !grow(s))
        goto out;
    mp_block *slot = probe(s, b->addr, h);
    if (!slot)
        goto out;
    if (slot->addr == b->addr) {
        *stale = *slot;
        rc = 1;
    } else {
        s->used++;
        filter_add(mp_filter_index((void *)(uintptr_t)b->addr));
        rc = 0;
    }
    block_copy(slot, b);
out:
    shard_unlock(s);
    if (rc < 0)
        MP_COUNT(addrset_full);
    return rc;
}

bool mp_addrset_remove(const void *p, mp_block *out)
{
    /* free(NULL) gets here when its filter bit is set; 0 is the empty key,
     * and a probe for it would "find" an empty slot. */
    if ((uintptr_t)p < KEY_MIN_VALID)
        return false;
    uint64_t h = mix(p);
    shard *s = &shards[SHARD_OF(p)];
    bool found = false;
    if (!shard_lock(s)) {
        MP_COUNT(events_dropped);   /* a sampled block's free may be lost */
        return false;
    }
    mp_block *slot = s->cap ? probe(s, (uint64_t)(uintptr_t)p, h) : NULL;
    if (slot && slot->addr != KEY_EMPTY) {
        *out = *slot;
        delete_at(s, (size_t)(slot - s->slots));
        s->used--;
        filter_remove(mp_filter_index(p));
        found = true;
    }
    shard_unlock(s);
    return found;
}

/* Makes p's filter bit stick: free(p) then always reaches its slow path
 * (see free() in malloc_hooks.c: bootstrap blocks). A saturated count is
 * never decremented. */
void mp_addrset_pin(const void *p)
{
    size_t i = mp_filter_index(p);
    shard *s = &shards[SHARD_OF_INDEX(i)];
    bool locked = shard_lock(s);
    filter_count[i] = UINT16_MAX;
    word_change(&mp_filter_bits[i / 64], 1ull << (i % 64), true);
    if (locked)
        shard_unlock(s);
}

/* Forked child: forget the parent's blocks (and any lock held mid-fork),
 * but not the pinned (saturated) filter slots. The old tables are left
 * mapped: they are the parent's pages, shared copy-on-write, and unmapping
 * them buys nothing. */
void mp_addrset_clear(void)
{
    for (int i = 0; i < N_SHARDS; i++) {
        shards[i].slots = NULL;
        shards[i].cap = shards[i].used = 0;
        atomic_store(&shards[i].lock.v, 0);
    }
    filter_reset();
}
