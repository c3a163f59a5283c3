/*
 * lock_table.c - the application side's record of which locks have been
 * contended: a 64 KiB byte map every acquire and release consults (a clear
 * byte means "never contended, nothing to do"), and behind it a lock-free
 * open-addressed table of lk_entry (lockstate.h), one per contended lock,
 * claimed on first contention and never released.
 */
#include "lockstate.h"

#include <string.h>

#define LK_MAX_PROBE 64
_Atomic uint8_t lk_map[1u << LK_MAP_BITS];
static lk_entry *_Atomic lk_table;

static lk_entry *lk_table_get(bool create)
{
    lk_entry *t = atomic_load_explicit(&lk_table, memory_order_acquire);
    if (t || !create)
        return t;
    lk_entry *fresh = mp_pages(LK_TABLE_SIZE * sizeof(lk_entry));
    if (!fresh)
        return NULL;
    if (!atomic_compare_exchange_strong(&lk_table, &t, fresh)) {
        mp_pages_free(fresh, LK_TABLE_SIZE * sizeof(lk_entry));
        return t;
    }
    return fresh;
}

/* Finds addr's entry, claiming a free slot for it when create is set
 * (linear probing, slots are never released, so a lookup may stop at the
 * first free slot). NULL when absent or the probe window is full. */
lk_entry *lk_lookup(uint64_t addr, bool create)
{
    lk_entry *t = lk_table_get(create);
    if (!t)
        return NULL;
    uint32_t i = lk_hash(addr, LK_TABLE_BITS);
    for (int probe = 0; probe < LK_MAX_PROBE; probe++, i = (i + 1) & (LK_TABLE_SIZE - 1)) {
        uint64_t cur = atomic_load_explicit(&t[i].addr, memory_order_acquire);
        if (cur == addr)
            return &t[i];
        if (cur != 0)
            continue;
        if (!create)
            return NULL;
        if (atomic_compare_exchange_strong(&t[i].addr, &cur, addr) || cur == addr) {
            atomic_store(&lk_map[lk_slot(addr)], 1);
            return &t[i];
        }
    }
    return NULL;
}

uint64_t lk_app_acquisitions(uint64_t addr, uint32_t gen)
{
    lk_entry *e = lk_lookup(addr, false);
    if (!e || atomic_load_explicit(&e->gen, memory_order_relaxed) != gen)
        return 0;
    return atomic_load_explicit(&e->acquisitions, memory_order_relaxed);
}

/* Fork child: the other threads are gone, and with them every waiter and
 * holder the table counted. */
void lk_table_after_fork_child(void)
{
    lk_entry *t = atomic_exchange(&lk_table, NULL);
    mp_pages_free(t, LK_TABLE_SIZE * sizeof(lk_entry));
    memset(lk_map, 0, sizeof(lk_map));
}
