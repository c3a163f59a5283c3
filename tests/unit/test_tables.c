/*
 * test_tables.c - the shim's shared tables under concurrent use.
 *
 * Stack table: several threads intern overlapping sets of stacks at once
 * (as sampling threads do); every id returned must give back exactly the
 * frames that were interned, and the same stack must not be stored more
 * often than there are racing threads.
 *
 * Sampled-address set: several threads insert and remove their own
 * addresses, interleaved, as allocating and freeing threads do; every
 * inserted address must be found with its own payload until removed, the
 * filter must never say "certainly not sampled" for a live entry, and when
 * everything is removed the filter must be all zero again. In exact mode
 * (MEMPROF_SAMPLE=1) the same holds with every filter bit set throughout,
 * and the default rate's filter comes back all zero after it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "shim.h"

#define THREADS 4
#define STACKS 20000
#define ROUNDS 3
#define ADDRS_PER_THREAD 50000

static _Atomic int failures;

static uint32_t stack_depth(uint32_t s) { return 1 + s % 40; }

static void make_stack(uint32_t s, uint64_t *frames)
{
    for (uint32_t i = 0; i < stack_depth(s); i++)
        frames[i] = 0x400000u + (uint64_t)s * 4096 + i * 8 + 1;
}

static void *intern_worker(void *arg)
{
    uint32_t offset = (uint32_t)(uintptr_t)arg;
    uint64_t frames[64];
    for (int round = 0; round < ROUNDS; round++) {
        for (uint32_t k = 0; k < STACKS; k++) {
            uint32_t s = (k * 7 + offset * 5003) % STACKS;
            make_stack(s, frames);
            uint32_t id = mp_stack_intern(frames, stack_depth(s), 7);
            uint32_t depth, gen;
            uint64_t hash;
            const uint64_t *got = mp_stack_get(id, &depth, &hash, &gen);
            if (!got || depth != stack_depth(s) || gen != 7 ||
                memcmp(got, frames, depth * sizeof(uint64_t)) != 0)
                atomic_fetch_add(&failures, 1);
        }
    }
    return NULL;
}

static void test_stack_table(void)
{
    CHECK(mp_stacktab_init() == 0, "stack table reserves its memory");
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, intern_worker, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK(atomic_load(&failures) == 0, "%d lookups returned other frames", atomic_load(&failures));
    uint32_t stored = mp_stack_count() - 1;   /* id 0 is the overflow stack */
    CHECK(stored >= STACKS && stored <= (uint32_t)STACKS * THREADS,
          "%u stacks stored for %u distinct", stored, STACKS);
    uint64_t frames[64];
    make_stack(123, frames);
    uint32_t a = mp_stack_intern(frames, stack_depth(123), 7);
    uint32_t b = mp_stack_intern(frames, stack_depth(123), 7);
    CHECK(a == b && a != MP_OVERFLOW_STACK, "a known stack is found again (%u, %u)", a, b);
}

static uint64_t addr_of(uint32_t thread, uint32_t i)
{
    /* Spread like heap blocks: 16-byte aligned, interleaved between threads. */
    return 0x10000000u + ((uint64_t)i * THREADS + thread) * 48;
}

static void *addr_worker(void *arg)
{
    uint32_t me = (uint32_t)(uintptr_t)arg;
    for (uint32_t i = 0; i < ADDRS_PER_THREAD; i++) {
        mp_block b = {.addr = addr_of(me, i), .stack = me * 1000000 + i,
                      .w = {.bytes = i, .count_fx = me}};
        mp_block stale;
        if (mp_addrset_insert(&b, &stale) != 0)
            atomic_fetch_add(&failures, 1);
        /* Free every other block right away, the rest later. */
        if (i % 2 == 0) {
            mp_block out;
            void *p = (void *)(uintptr_t)b.addr;
            if (!mp_addrset_maybe(p) || !mp_addrset_remove(p, &out) ||
                out.stack != b.stack || out.w.bytes != i || out.w.count_fx != me)
                atomic_fetch_add(&failures, 1);
        }
    }
    for (uint32_t i = 1; i < ADDRS_PER_THREAD; i += 2) {
        void *p = (void *)(uintptr_t)addr_of(me, i);
        mp_block out;
        if (!mp_addrset_maybe(p) || !mp_addrset_remove(p, &out) ||
            out.stack != me * 1000000 + i)
            atomic_fetch_add(&failures, 1);
        if (mp_addrset_remove(p, &out))   /* a second free finds nothing */
            atomic_fetch_add(&failures, 1);
    }
    return NULL;
}

static void test_addrset(void)
{
    atomic_store(&failures, 0);
    CHECK(mp_addrset_init() == 0, "address set init");
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, addr_worker, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK(atomic_load(&failures) == 0, "%d address set operations went wrong",
          atomic_load(&failures));
    size_t nonzero = 0;
    for (size_t i = 0; i < (1u << MP_FILTER_BITS) / 64; i++)
        nonzero += atomic_load(&mp_filter_bits[i]) != 0;
    CHECK(nonzero == 0, "%zu filter words left non-zero after every removal", nonzero);

    /* free(NULL) consults filter slot 0; with a live block there it must
     * not remove anything (0 is the empty key of the table). */
    /* bits 4..12 cancel against 17..25 in the fold (shim.h), region 0 */
    uint64_t zero_slot = (0x123ull << 17) | (0x123ull << 4);
    mp_block z = {.addr = zero_slot, .stack = 9}, zout;
    CHECK(mp_filter_index((void *)(uintptr_t)zero_slot) == 0, "test address maps to slot 0");
    mp_addrset_insert(&z, &zout);
    CHECK(mp_addrset_maybe(NULL), "slot 0 is marked");
    CHECK(!mp_addrset_remove(NULL, &zout), "removing NULL finds nothing");
    CHECK(mp_addrset_maybe((void *)(uintptr_t)zero_slot), "the live block is still marked");
    CHECK(mp_addrset_remove((void *)(uintptr_t)zero_slot, &zout) && zout.stack == 9,
          "the live block is still found");

    mp_block b = {.addr = 0x7000, .stack = 1}, stale;
    mp_addrset_insert(&b, &stale);
    b.stack = 2;
    CHECK(mp_addrset_insert(&b, &stale) == 1 && stale.stack == 1,
          "re-inserting a live address hands back the stale entry");
}

/*
 * Deletion closes gaps by moving keys back (no tombstones); a wrong move
 * loses a key or leaves a duplicate. Random inserts and removes on a pool
 * of addresses that all land in one shard, checked against a plain array.
 */
/* Blocks of different 64 MiB regions (glibc's per-thread arena heaps)
 * never share a filter word, so two threads' sets do not share cache
 * lines; within a region, blocks spread over its words, page-aligned
 * ones too. */
static void test_filter_regions(void)
{
    int wrong = 0;
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (int n = 0; n < 100000; n++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t a = x >> 16;
        size_t i = mp_filter_index((void *)(uintptr_t)a);
        wrong += i >= (1u << MP_FILTER_BITS) ||
                 i >> (MP_FILTER_BITS - MP_FILTER_REGION_BITS) !=
                     ((a >> MP_FILTER_REGION_SHIFT) & ((1u << MP_FILTER_REGION_BITS) - 1));
    }
    CHECK(wrong == 0, "%d addresses indexed outside their region's part of the filter", wrong);
    static bool seen[(1u << MP_FILTER_BITS) / 64];
    size_t words = 0;
    for (uint64_t page = 0; page < 4096; page++) {
        size_t w = mp_filter_index((void *)(uintptr_t)(0x7f0004000000ull + page * 4096)) / 64;
        words += !seen[w];
        seen[w] = true;
    }
    CHECK(words >= 64, "4096 pages of one region fall in %zu filter words", words);
}

static void test_addrset_model(void)
{
    enum { POOL = 120, OPS = 200000 };
    static uint64_t pool[POOL];
    static bool live[POOL];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int n = 0; n < POOL;) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t a = (x >> 12) << 4;
        if (a >= 2 && mp_filter_index((void *)(uintptr_t)a) / 64 == 5)   /* one word: one shard */
            pool[n++] = a;
    }
    int wrong = 0;
    for (int op = 0; op < OPS; op++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int k = (int)((x >> 33) % POOL);
        void *p = (void *)(uintptr_t)pool[k];
        mp_block out, stale;
        if ((x >> 20) & 1) {
            mp_block b = {.addr = pool[k], .stack = (uint32_t)k + 1};
            int rc = mp_addrset_insert(&b, &stale);
            wrong += rc != (live[k] ? 1 : 0) || (rc == 1 && stale.stack != (uint32_t)k + 1);
            live[k] = true;
        } else {
            bool found = mp_addrset_remove(p, &out);
            wrong += found != live[k] || (found && out.stack != (uint32_t)k + 1);
            live[k] = false;
        }
    }
    for (int k = 0; k < POOL; k++) {
        mp_block out;
        bool found = mp_addrset_remove((void *)(uintptr_t)pool[k], &out);
        wrong += found != live[k];
        live[k] = false;   /* the set is empty again: the model too */
    }
    CHECK(wrong == 0, "%d address set answers differ from the model", wrong);
}

/* Exact mode keeps no filter counts: every bit stays set, lookups alone
 * answer; going back to sampling (an attach with another rate) clears it. */
static size_t filter_words_equal(uint64_t v)
{
    size_t n = 0;
    for (size_t i = 0; i < (1u << MP_FILTER_BITS) / 64; i++)
        n += atomic_load(&mp_filter_bits[i]) == v;
    return n;
}

static void test_addrset_exact(void)
{
    const size_t words = (1u << MP_FILTER_BITS) / 64;
    uint64_t rate = mp_cfg.sample_bytes;
    mp_cfg.sample_bytes = 1;
    mp_addrset_clear();
    CHECK(filter_words_equal(~0ull) == words, "exact mode: every filter bit set");
    atomic_store(&failures, 0);
    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, addr_worker, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK(atomic_load(&failures) == 0, "exact mode: %d address set operations went wrong",
          atomic_load(&failures));
    CHECK(filter_words_equal(~0ull) == words, "exact mode: the filter stays all set");
    mp_block out;
    CHECK(mp_addrset_maybe((void *)0x5000) && !mp_addrset_remove((void *)0x5000, &out),
          "exact mode: an address never inserted is looked up and not found");
    test_addrset_model();

    mp_cfg.sample_bytes = rate;
    CHECK(mp_addrset_init() == 0 && filter_words_equal(0) == words,
          "back to sampling: the filter is all clear again");
    mp_block b = {.addr = 0x9000, .stack = 3}, stale;
    CHECK(mp_addrset_insert(&b, &stale) == 0 && mp_addrset_maybe((void *)0x9000) &&
              mp_addrset_remove((void *)0x9000, &out) && !mp_addrset_maybe((void *)0x9000),
          "back to sampling: the filter counts again");
}

int main(void)
{
    test_stack_table();
    test_addrset();
    test_filter_regions();
    test_addrset_model();
    test_addrset_exact();
    CHECK_DONE();
}
