/*
 * lockagg.c - the collector-thread side of lock profiling: folds the lock
 * events (lockstate.h describes their fields) into per-lock and per-stack
 * totals, and exports them for a snapshot.
 *
 * Everything here runs on one thread (the collector, or the exiting thread
 * after the collector stopped), so nothing is locked. Memory comes from
 * mp_pages and grows by copying into a larger mapping.
 *
 * A lock is (address, generation): destroy/init of an address starts a new
 * lock, while the old one keeps its totals (counters are cumulative since
 * process start, so a diff of two snapshots gives the window).
 *
 * Holder blame: mostly the waiter names the holder itself (LOCK_BLAMED, the
 * holder published its stack before unlocking; see lockstate.h). Otherwise
 * a WAIT carries the sequence number of the release that let the waiter
 * in, and a HOLD carries its own number and the unlocker's stack.
 * Rings are drained one after the other, so the two meet up to a ring's
 * worth of events apart, in either order. Two direct-mapped caches keyed by
 * (lock, seq) bridge that: recent releases (-> holder stack) and waits that
 * have not met their release yet (summed per key, since readers let in
 * together share one release). A collision overwrites; a wait whose release
 * never comes (the holder saw no waiters at unlock) or was overwritten stays
 * charged to its waiter only.
 */
#include "lockstate.h"

#include <string.h>

#define LA_MATCH_BITS 12   /* entries per matching cache: only the fallback
                              (see lockstate.h) goes through them */

typedef struct la_lock {
    uint64_t addr;          /* key part 1 */
    uint64_t gen;           /* key part 2 */
    uint32_t kind, site;
    uint64_t contentions, wait_ns, max_wait_ns, hold_ns, holds;
    uint64_t dead_acquisitions;   /* final count, once the lock is dead */
    uint32_t dead, nsites;        /* nsites: scratch for the export */
    uint64_t first_site;          /* scratch for the export */
} la_lock;

typedef struct la_site {
    uint64_t key1;          /* lock index << 32 | stack */
    uint64_t key2;          /* role */
    uint64_t contentions, wait_ns;
} la_site;

/* A dense, growable array of records whose first 16 bytes are their key,
 * indexed by an open-addressed hash of slot -> record index + 1. */
typedef struct la_store {
    char *items;
    uint32_t *slots;
    size_t n, cap, nslots, isz;
} la_store;

typedef struct la_hist {
    uint64_t key1;          /* lock index << 32 | mp_lock_hist_what */
    uint64_t key2;          /* bucket */
    uint64_t count;
} la_hist;

static la_store la_locks = {.isz = sizeof(la_lock)};
static la_store la_sites = {.isz = sizeof(la_site)};
static la_store la_hists = {.isz = sizeof(la_hist)};

/* The matching caches; key = lock index + 1 (0 = empty slot). */
typedef struct la_release { uint32_t lock, seq, stack, pad; } la_release;
typedef struct la_pending { uint32_t lock, seq, count, pad; uint64_t wait_ns; } la_pending;
static la_release *la_releases;
static la_pending *la_pendings;
#define LA_MATCH_SIZE ((size_t)1 << LA_MATCH_BITS)

static uint64_t la_mix(uint64_t k1, uint64_t k2)
{
    uint64_t h = (k1 ^ (k2 * 0xff51afd7ed558ccdull)) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static void *la_item(la_store *s, size_t i)
{
    return s->items + i * s->isz;
}

static void la_store_free(la_store *s)
{
    mp_pages_free(s->items, s->cap * s->isz);
    mp_pages_free(s->slots, s->nslots * sizeof(uint32_t));
    s->items = NULL;
    s->slots = NULL;
    s->n = s->cap = s->nslots = 0;
}

static void la_index_put(la_store *s, size_t idx)
{
    const uint64_t *key = la_item(s, idx);
    size_t mask = s->nslots - 1, i = la_mix(key[0], key[1]) & mask;
    while (s->slots[i])
        i = (i + 1) & mask;
    s->slots[i] = (uint32_t)idx + 1;
}

/* Doubles capacity; the index keeps at most half its slots used. */
static bool la_grow(la_store *s)
{
    size_t cap = s->cap ? s->cap * 2 : 256, nslots = cap * 2;
    char *items = mp_pages(cap * s->isz);
    uint32_t *slots = mp_pages(nslots * sizeof(uint32_t));
    if (!items || !slots) {
        mp_pages_free(items, cap * s->isz);
        mp_pages_free(slots, nslots * sizeof(uint32_t));
        return false;
    }
    if (s->n)
        memcpy(items, s->items, s->n * s->isz);
    size_t n = s->n;
    la_store_free(s);
    *s = (la_store){items, slots, n, cap, nslots, s->isz};
    for (size_t i = 0; i < n; i++)
        la_index_put(s, i);
    return true;
}

/* The record with this key, created zeroed (key set) when absent and
 * create is set; NULL when absent or out of memory. */
static void *la_get(la_store *s, uint64_t k1, uint64_t k2, bool create)
{
    if (s->nslots) {
        size_t mask = s->nslots - 1;
        for (size_t i = la_mix(k1, k2) & mask; s->slots[i]; i = (i + 1) & mask) {
            uint64_t *key = la_item(s, s->slots[i] - 1);
            if (key[0] == k1 && key[1] == k2)
                return key;
        }
    }
    if (!create || (s->n == s->cap && !la_grow(s)))
        return NULL;
    uint64_t *key = la_item(s, s->n);
    key[0] = k1;
    key[1] = k2;
    la_index_put(s, s->n++);
    return key;
}

static la_lock *la_lock_get(const mp_event *ev, bool create)
{
    /* Every lock member of the event starts with the address. */
    la_lock *l = la_get(&la_locks, ev->site.addr, ev->gen, create);
    if (l && !l->kind) {
        l->kind = ev->kind;
        l->site = MP_NO_STACK;
    }
    return l;
}

static uint32_t la_lock_index(const la_lock *l)
{
    return (uint32_t)(((const char *)l - la_locks.items) / sizeof(la_lock));
}

static void la_charge(const la_lock *l, uint32_t stack, uint32_t role, uint64_t n,
                      uint64_t wait_ns)
{
    la_site *s = la_get(&la_sites, (uint64_t)la_lock_index(l) << 32 | stack, role, true);
    if (s) {
        s->contentions += n;
        s->wait_ns += wait_ns;
    }
}

/* n more individual waits or holds of l in one bucket of its histogram
 * (sparse: a lock's waits usually fill a handful of buckets). */
static void la_hist_add(const la_lock *l, unsigned what, unsigned bucket, uint64_t n)
{
    la_hist *h = la_get(&la_hists, (uint64_t)la_lock_index(l) << 32 | what, bucket, true);
    if (h)
        h->count += n;
}

/* The cache slot for (lock, seq), or -1 when the caches cannot be had. */
static long la_match_slot(uint32_t lock, uint32_t seq)
{
    if (!la_releases) {
        la_releases = mp_pages(LA_MATCH_SIZE * sizeof(la_release));
        la_pendings = mp_pages(LA_MATCH_SIZE * sizeof(la_pending));
        if (!la_releases || !la_pendings)
            return -1;
    }
    return (long)(la_mix(lock, seq) >> (64 - LA_MATCH_BITS));
}

/* A recorded wait of wait_ns standing for n waits (a sampled short one:
 * n > 1, lockstate.h): the totals grow by n and n * wait_ns. */
static void la_count_wait(la_lock *l, uint32_t stack, uint64_t wait_ns, uint64_t n)
{
    l->contentions += n;
    l->wait_ns += n * wait_ns;
    if (wait_ns > l->max_wait_ns)
        l->max_wait_ns = wait_ns;
    if (l->site == MP_NO_STACK)
        l->site = stack;   /* first contention is the first use we saw */
    la_charge(l, stack, MP_ROLE_WAITER, n, n * wait_ns);
    la_hist_add(l, MP_HIST_WAIT, mp_lock_hist_bucket(wait_ns), n);
}

static void la_on_wait(la_lock *l, const mp_event *ev)
{
    uint32_t seq = ev->wait.seq;
    uint64_t n = 1ull << ev->wait.weight_log2, wait_ns = n * ev->wait.wait_ns;
    la_count_wait(l, ev->wait.stack, ev->wait.wait_ns, n);
    uint32_t key = la_lock_index(l) + 1;
    long i = seq ? la_match_slot(key, seq) : -1;
    if (i < 0)
        return;
    if (la_releases[i].lock == key && la_releases[i].seq == seq) {
        la_charge(l, la_releases[i].stack, MP_ROLE_HOLDER, n, wait_ns);
        return;
    }
    la_pending *p = &la_pendings[i];
    if (p->lock != key || p->seq != seq)
        *p = (la_pending){.lock = key, .seq = seq};
    p->count += (uint32_t)n;
    p->wait_ns += wait_ns;
}

static void la_on_hold(la_lock *l, const mp_event *ev)
{
    /* Only the join's half: measured holds come in HOLDS batches. */
    uint32_t seq = ev->hold.seq;
    uint32_t key = la_lock_index(l) + 1;
    long i = seq ? la_match_slot(key, seq) : -1;
    if (i < 0)
        return;
    la_releases[i] = (la_release){.lock = key, .seq = seq, .stack = ev->hold.stack};
    la_pending *p = &la_pendings[i];
    if (p->lock == key && p->seq == seq) {
        la_charge(l, ev->hold.stack, MP_ROLE_HOLDER, p->count, p->wait_ns);
        *p = (la_pending){0};
    }
}

void mp_lock_aggregate(const mp_event *ev)
{
    la_lock *l = la_lock_get(ev, ev->type != MP_EV_LOCK_DEAD);
    if (!l)
        return;
    switch (ev->type) {
    case MP_EV_LOCK_WAIT:
        la_on_wait(l, ev);
        break;
    case MP_EV_LOCK_BLAMED: {
        uint64_t n = 1ull << ev->blamed.weight_log2;
        la_count_wait(l, ev->blamed.stack, ev->blamed.wait_ns, n);
        la_charge(l, ev->blamed.holder, MP_ROLE_HOLDER, n, n * ev->blamed.wait_ns);
        /* The hold itself went into the entry; its bucket comes with the
         * waiter it let in, so it is sampled with that wait. */
        if (ev->blamed.hold_bucket)
            la_hist_add(l, MP_HIST_HOLD, ev->blamed.hold_bucket - 1u, n);
        break;
    }
    case MP_EV_LOCK_HOLD:
        la_on_hold(l, ev);
        break;
    case MP_EV_LOCK_HOLDS:
        l->hold_ns += ev->holds.hold_ns;
        l->holds += ev->holds.holds;
        break;
    case MP_EV_LOCK_HOLDHIST:
        la_hist_add(l, MP_HIST_HOLD, ev->holdhist.bucket, ev->holdhist.count);
        break;
    case MP_EV_LOCK_SITE:
        if (l->site == MP_NO_STACK)
            l->site = ev->site.stack;
        break;
    case MP_EV_LOCK_DEAD:
        l->dead = 1;
        l->dead_acquisitions = ev->dead.acquisitions;
        break;
    }
}

/* Numbers each lock's sites and sets first_site; returns the site total. */
static size_t la_layout_sites(void)
{
    for (size_t i = 0; i < la_locks.n; i++)
        ((la_lock *)la_item(&la_locks, i))->nsites = 0;
    for (size_t i = 0; i < la_sites.n; i++) {
        const la_site *s = la_item(&la_sites, i);
        ((la_lock *)la_item(&la_locks, s->key1 >> 32))->nsites++;
    }
    size_t next = 0;
    for (size_t i = 0; i < la_locks.n; i++) {
        la_lock *l = la_item(&la_locks, i);
        l->first_site = next;
        next += l->nsites;
        l->nsites = 0;   /* becomes the fill cursor */
    }
    return next;
}

/* Contended holds are sampled (lk_hold_pick): their weighted total is an
 * estimate, which on a lock held nearly all the time can come out a
 * little above what is physically possible. One lock is held at most the
 * process's run time so far. */
static uint64_t la_hold_bound(uint64_t hold_ns)
{
    uint64_t now = mp_realtime_ns(), start = mp_start_realtime_ns();
    uint64_t run = now > start ? now - start : 0;
    return run && hold_ns > run ? run : hold_ns;
}

static void la_export_lock(const la_lock *l, mp_lock *out)
{
    uint64_t acquisitions =
        l->dead ? l->dead_acquisitions : lk_app_acquisitions(l->addr, (uint32_t)l->gen);
    *out = (mp_lock){
        .address = l->addr,
        .kind = l->kind,
        .site_stack = l->site,
        .contentions = l->contentions,
        .wait_ns = l->wait_ns,
        .max_wait_ns = l->max_wait_ns,
        .contended_hold_ns = la_hold_bound(l->hold_ns),
        .contended_holds = l->holds,
        .acquisitions = acquisitions,
        .first_site = l->first_site,
        .site_count = 0,
    };
}

size_t mp_lock_export(mp_lock **locks, mp_lock_site **sites, size_t *n_sites)
{
    *locks = NULL;
    *sites = NULL;
    *n_sites = 0;
    if (la_locks.n == 0)
        return 0;
    size_t ns = la_layout_sites();
    mp_lock *lo = mp_pages(la_locks.n * sizeof(mp_lock));
    mp_lock_site *so = ns ? mp_pages(ns * sizeof(mp_lock_site)) : NULL;
    if (!lo || (ns && !so)) {
        mp_pages_free(lo, la_locks.n * sizeof(mp_lock));
        mp_pages_free(so, ns * sizeof(mp_lock_site));
        return 0;
    }
    for (size_t i = 0; i < la_locks.n; i++)
        la_export_lock(la_item(&la_locks, i), &lo[i]);
    for (size_t i = 0; i < la_sites.n; i++) {
        const la_site *s = la_item(&la_sites, i);
        size_t li = s->key1 >> 32;
        la_lock *l = la_item(&la_locks, li);
        so[l->first_site + l->nsites++] = (mp_lock_site){
            .stack = (uint32_t)s->key1, .role = (uint32_t)s->key2,
            .contentions = s->contentions, .wait_ns = s->wait_ns};
        lo[li].site_count++;
    }
    *locks = lo;
    *sites = so;
    *n_sites = ns;
    return la_locks.n;
}

size_t mp_lock_export_hist(mp_lock_hist **hist)
{
    *hist = la_hists.n ? mp_pages(la_hists.n * sizeof(mp_lock_hist)) : NULL;
    if (!*hist)
        return 0;
    for (size_t i = 0; i < la_hists.n; i++) {
        const la_hist *h = la_item(&la_hists, i);
        (*hist)[i] = (mp_lock_hist){.lock = (uint32_t)(h->key1 >> 32),
                                    .what = (uint16_t)h->key1, .bucket = (uint16_t)h->key2,
                                    .count = h->count};
    }
    return la_hists.n;
}

/* Fork child: the parent's totals are not the child's. */
void mp_lock_aggregate_reset(void)
{
    la_store_free(&la_locks);
    la_store_free(&la_sites);
    la_store_free(&la_hists);
    mp_pages_free(la_releases, LA_MATCH_SIZE * sizeof(la_release));
    mp_pages_free(la_pendings, LA_MATCH_SIZE * sizeof(la_pending));
    la_releases = NULL;
    la_pendings = NULL;
}
