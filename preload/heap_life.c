/*
 * heap_life.c - how long the sampled blocks lived, per stack.
 *
 * A FREE event of a sampled block carries its lifetime in ticks (the
 * freeing thread subtracts the birth tick the address set kept, see
 * malloc_hooks.c); frees whose moment we did not see (a stale entry
 * replaced, an untrackable sample taken back) carry MP_LIFETIME_UNKNOWN and
 * are not counted here. Each known lifetime adds the block's count weight
 * to its log4 bucket (memprof_format.h: MP_LIFE_BUCKETS) and, under
 * MP_TEMPORARY_TICKS, to the stack's temporary allocations. Records are
 * reserved per stack id and touched only for stacks whose blocks died.
 */
#include "shim.h"

#define MAX_LIFE_STACKS (1u << 20)

/* Per stack id; the stack field is unused here (snapshot.c sets the file's). */
static mp_lifetime_site *life;

int mp_heap_life_init(void)
{
    if (!life)
        life = mp_reserve(sizeof(mp_lifetime_site) * MAX_LIFE_STACKS);
    return life ? 0 : -1;
}

void mp_heap_life_reset(void)
{
    if (life)
        mp_pages_free(life, sizeof(mp_lifetime_site) * MAX_LIFE_STACKS);
    life = NULL;
    mp_heap_life_init();
}

/* 0: under a tick; k: [4^(k-1), 4^k) ticks; the last: longer. */
static unsigned bucket_of(uint32_t ticks)
{
    if (ticks == 0)
        return 0;
    unsigned bits = 32u - (unsigned)__builtin_clz(ticks);   /* ticks < 2^bits */
    unsigned k = (bits + 1) / 2;                            /* ticks < 4^k */
    return k < MP_LIFE_BUCKETS - 1 ? k : MP_LIFE_BUCKETS - 1;
}

static uint64_t objects(uint64_t fx)
{
    return (fx + MP_COUNT_ONE / 2) / MP_COUNT_ONE;
}

void mp_heap_life_add(const mp_event *ev)
{
    uint32_t stack = ev->heap.stack;
    if (!life || stack >= MAX_LIFE_STACKS || ev->heap.ticks == MP_LIFETIME_UNKNOWN)
        return;
    mp_lifetime_site *l = &life[stack];
    /* hist[] and the counts hold fixed-point weights until exported. */
    l->freed_samples++;
    l->freed_count += ev->heap.count_fx;
    l->hist[bucket_of(ev->heap.ticks)] += ev->heap.count_fx;
    if (ev->heap.ticks < MP_TEMPORARY_TICKS) {
        l->temp_samples++;
        l->temp_count += ev->heap.count_fx;
        l->temp_bytes += ev->heap.bytes;
    }
}

bool mp_heap_life_export(uint32_t stack, mp_lifetime_site *out)
{
    if (!life || stack >= MAX_LIFE_STACKS || life[stack].freed_samples == 0)
        return false;
    const mp_lifetime_site *l = &life[stack];
    *out = *l;
    out->freed_count = objects(l->freed_count);
    out->temp_count = objects(l->temp_count);
    for (unsigned k = 0; k < MP_LIFE_BUCKETS; k++)
        out->hist[k] = objects(l->hist[k]);
    return true;
}
