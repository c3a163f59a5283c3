/*
 * test_lockagg.c - the collector's lock aggregation (preload/lockagg.c):
 * the WAIT/HOLD join that blames holders, and the per-lock and per-site
 * totals a snapshot exports.
 *
 * Lock events are fed through mp_lock_aggregate in the orders the rings
 * deliver them (a waiter's WAIT before or after the HOLD of the release
 * that let it in, readers sharing one release, events of other locks and
 * generations in between) and mp_lock_export's records are checked field by
 * field: contentions, wait and hold times, the first-use site, and which
 * stacks are charged as waiters and as holders, with how much.
 *
 * The application-side counts (acquisitions of a live lock) come from the
 * real lock table (lock_table.c), filled here as lock_hooks.c fills it.
 * Between scenarios the aggregation is reset as in a fork child (the
 * lock table and mp_lock_aggregate_reset).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lockstate.h"

/* ---- events, as lock_hooks.c sends them (lockstate.h) ---- */
static void wait_ev(uint64_t addr, uint32_t gen, uint32_t waiter, uint32_t seq, uint64_t ns)
{
    mp_event ev = {.type = MP_EV_LOCK_WAIT, .kind = MP_LOCK_MUTEX, .gen = gen,
                   .wait = {.addr = addr, .stack = waiter, .seq = seq, .wait_ns = ns}};
    mp_lock_aggregate(&ev);
}

static void hold_ev(uint64_t addr, uint32_t gen, uint32_t holder, uint32_t seq, uint64_t ns)
{
    mp_event ev = {.type = MP_EV_LOCK_HOLD, .kind = MP_LOCK_MUTEX, .gen = gen,
                   .hold = {.addr = addr, .stack = holder, .seq = seq, .hold_ns = ns}};
    mp_lock_aggregate(&ev);
}

static void blamed_ev(uint64_t addr, uint32_t gen, uint32_t waiter, uint32_t holder, uint64_t ns)
{
    mp_event ev = {.type = MP_EV_LOCK_BLAMED, .kind = MP_LOCK_MUTEX, .gen = gen,
                   .blamed = {.addr = addr, .stack = waiter, .holder = holder, .wait_ns = ns}};
    mp_lock_aggregate(&ev);
}

static void site_ev(uint64_t addr, uint32_t gen, uint32_t site)
{
    mp_event ev = {.type = MP_EV_LOCK_SITE, .kind = MP_LOCK_MUTEX, .gen = gen,
                   .site = {.addr = addr, .stack = site}};
    mp_lock_aggregate(&ev);
}

static void holds_ev(uint64_t addr, uint32_t gen, uint32_t holds, uint64_t ns)
{
    mp_event ev = {.type = MP_EV_LOCK_HOLDS, .gen = gen,
                   .holds = {.addr = addr, .holds = holds, .hold_ns = ns}};
    mp_lock_aggregate(&ev);
}

static void dead_ev(uint64_t addr, uint32_t gen, uint64_t acquisitions)
{
    mp_event ev = {.type = MP_EV_LOCK_DEAD, .gen = gen,
                   .dead = {.addr = addr, .acquisitions = acquisitions}};
    mp_lock_aggregate(&ev);
}

/* ---- the export ---- */
typedef struct exported {
    mp_lock *locks;
    mp_lock_site *sites;
    mp_lock_hist *hist;
    size_t n_locks, n_sites, n_hist;
} exported;

static exported export_all(void)
{
    exported x;
    x.n_locks = mp_lock_export(&x.locks, &x.sites, &x.n_sites);
    x.n_hist = mp_lock_export_hist(&x.hist);
    return x;
}

static void export_free(exported *x)
{
    mp_pages_free(x->locks, x->n_locks * sizeof(mp_lock));
    mp_pages_free(x->sites, x->n_sites * sizeof(mp_lock_site));
    mp_pages_free(x->hist, x->n_hist * sizeof(mp_lock_hist));
}

/* What a fork child resets on the collector's side (locks.c's
 * mp_locks_after_fork_child also resets the interposers' per-thread state,
 * which lives with the interposers and is not linked here). */
static void reset(void)
{
    lk_table_after_fork_child();
    mp_lock_aggregate_reset();
}

/* The exported lock at addr whose contentions are `contentions` (two
 * generations of one address are told apart by their counts). */
static const mp_lock *find_lock(const exported *x, uint64_t addr, uint64_t contentions)
{
    for (size_t i = 0; i < x->n_locks; i++)
        if (x->locks[i].address == addr && x->locks[i].contentions == contentions)
            return &x->locks[i];
    return NULL;
}

static const mp_lock_site *find_site(const exported *x, const mp_lock *l, uint32_t stack,
                                     uint32_t role)
{
    for (uint64_t i = 0; i < l->site_count; i++) {
        const mp_lock_site *s = &x->sites[l->first_site + i];
        if (s->stack == stack && s->role == role)
            return s;
    }
    return NULL;
}

/* The site (stack, role) of l has exactly these totals. */
static void check_site(const exported *x, const mp_lock *l, uint32_t stack, uint32_t role,
                       uint64_t contentions, uint64_t wait_ns, int line)
{
    const mp_lock_site *s = find_site(x, l, stack, role);
    CHECK(s != NULL, "line %d: no %s site for stack %u", line,
          role == MP_ROLE_HOLDER ? "holder" : "waiter", stack);
    if (!s)
        return;
    CHECK(s->contentions == contentions && s->wait_ns == wait_ns,
          "line %d: stack %u role %u: %llu contentions / %llu ns, want %llu / %llu", line,
          stack, role, (unsigned long long)s->contentions, (unsigned long long)s->wait_ns,
          (unsigned long long)contentions, (unsigned long long)wait_ns);
}
#define SITE(x, l, stack, role, n, ns) check_site(x, l, stack, role, n, ns, __LINE__)

enum { L1 = 0x10000, L2 = 0x20040, L3 = 0x30080 };

/* Every ordering of one waiter and its release, on one lock. */
static void test_join_orders(void)
{
    reset();
    site_ev(L1, 0, 99);               /* a SITE before any wait names the site */
    wait_ev(L1, 0, 10, 5, 100);       /* WAIT first: parked until its HOLD */
    hold_ev(L1, 0, 20, 5, 1000);
    hold_ev(L1, 0, 21, 6, 2000);      /* HOLD first: remembered for the WAIT */
    wait_ev(L1, 0, 11, 6, 300);
    wait_ev(L1, 0, 12, 0, 50);        /* seq 0: holder unknown, no join */
    wait_ev(L1, 0, 12, 7, 70);        /* its release never comes */
    blamed_ev(L1, 0, 13, 22, 400);    /* the waiter named its holder */
    hold_ev(L1, 0, 23, 8, 500);       /* a HOLD nobody waited for */

    exported x = export_all();
    CHECK(x.n_locks == 1, "%zu locks, want 1", x.n_locks);
    const mp_lock *l = find_lock(&x, L1, 5);
    CHECK(l != NULL, "lock L1 with 5 contentions not exported");
    if (l) {
        CHECK(l->kind == MP_LOCK_MUTEX, "kind %u", l->kind);
        CHECK(l->site_stack == 99, "site %u, want the SITE event's 99", l->site_stack);
        CHECK(l->wait_ns == 100 + 300 + 50 + 70 + 400, "wait_ns %llu",
              (unsigned long long)l->wait_ns);
        CHECK(l->max_wait_ns == 400, "max_wait_ns %llu", (unsigned long long)l->max_wait_ns);
        /* a HOLD is only the join's half: measured holds come in HOLDS */
        CHECK(l->contended_holds == 0 && l->contended_hold_ns == 0,
              "holds %llu / %llu ns, want none from HOLD events",
              (unsigned long long)l->contended_holds, (unsigned long long)l->contended_hold_ns);
        SITE(&x, l, 10, MP_ROLE_WAITER, 1, 100);
        SITE(&x, l, 11, MP_ROLE_WAITER, 1, 300);
        SITE(&x, l, 12, MP_ROLE_WAITER, 2, 120);
        SITE(&x, l, 13, MP_ROLE_WAITER, 1, 400);
        SITE(&x, l, 20, MP_ROLE_HOLDER, 1, 100);   /* WAIT, then HOLD */
        SITE(&x, l, 21, MP_ROLE_HOLDER, 1, 300);   /* HOLD, then WAIT */
        SITE(&x, l, 22, MP_ROLE_HOLDER, 1, 400);   /* blamed directly */
        CHECK(find_site(&x, l, 23, MP_ROLE_HOLDER) == NULL,
              "holder 23 let nobody in and must not be blamed");
        CHECK(l->site_count == 7, "%llu sites, want 7", (unsigned long long)l->site_count);
    }
    export_free(&x);
}

/* Readers let in by one release share its sequence number: the holder is
 * charged with all of them, whichever side arrives first. */
static void test_shared_release(void)
{
    reset();
    wait_ev(L1, 0, 10, 9, 30);
    wait_ev(L1, 0, 11, 9, 40);
    hold_ev(L1, 0, 20, 9, 800);
    wait_ev(L1, 0, 12, 9, 50);        /* a third reader, after the HOLD */

    exported x = export_all();
    const mp_lock *l = find_lock(&x, L1, 3);
    CHECK(l != NULL, "lock L1 with 3 contentions not exported");
    if (l) {
        CHECK(l->site_stack == 10, "site %u, want the first waiter's 10", l->site_stack);
        SITE(&x, l, 20, MP_ROLE_HOLDER, 3, 120);
        SITE(&x, l, 10, MP_ROLE_WAITER, 1, 30);
        SITE(&x, l, 11, MP_ROLE_WAITER, 1, 40);
        SITE(&x, l, 12, MP_ROLE_WAITER, 1, 50);
    }
    export_free(&x);
}

/* The join key is (lock, generation, seq): equal numbers on another lock or
 * another generation of the same address do not meet. */
static void test_join_keys(void)
{
    reset();
    wait_ev(L1, 0, 10, 5, 100);
    hold_ev(L2, 0, 30, 5, 10);        /* same seq, other lock */
    hold_ev(L1, 1, 31, 5, 10);        /* same seq and address, next generation */
    wait_ev(L1, 1, 11, 5, 200);       /* ... which joins with its own HOLD */
    wait_ev(L1, 1, 12, 6, 1);
    hold_ev(L1, 0, 20, 5, 10);        /* L1 gen 0's own release comes last */

    exported x = export_all();
    CHECK(x.n_locks == 3, "%zu locks, want L1 twice (two generations) and L2", x.n_locks);
    const mp_lock *g0 = find_lock(&x, L1, 1), *g1 = find_lock(&x, L1, 2);
    const mp_lock *l2 = find_lock(&x, L2, 0);
    CHECK(g0 && g1 && l2, "missing lock: gen0 %p gen1 %p L2 %p", (const void *)g0,
          (const void *)g1, (const void *)l2);
    if (g0) {
        SITE(&x, g0, 20, MP_ROLE_HOLDER, 1, 100);
        CHECK(g0->site_count == 2, "gen 0: %llu sites, want 2",
              (unsigned long long)g0->site_count);
    }
    if (g1) {
        SITE(&x, g1, 31, MP_ROLE_HOLDER, 1, 200);
        CHECK(find_site(&x, g1, 30, MP_ROLE_HOLDER) == NULL, "L2's holder blamed on L1");
        CHECK(g1->wait_ns == 201 && g1->site_count == 3, "gen 1: %llu ns, %llu sites",
              (unsigned long long)g1->wait_ns, (unsigned long long)g1->site_count);
    }
    if (l2)
        CHECK(l2->site_count == 0 && l2->contended_holds == 0,
              "L2 (a HOLD, no waiter): %llu sites, %llu holds",
              (unsigned long long)l2->site_count, (unsigned long long)l2->contended_holds);
    export_free(&x);
}

/* Acquisitions the application side counted itself: read from the lock
 * table while the lock lives, from DEAD once it died; the holds its
 * threads batched arrive as HOLDS, live or dead. */
static void test_app_counts(void)
{
    reset();
    lk_entry *e = lk_lookup(L3, true);
    CHECK(e != NULL, "lock table refused L3");
    if (!e)
        return;
    atomic_store(&e->gen, 2);
    atomic_store(&e->acquisitions, 1234);
    holds_ev(L3, 2, 7, 7000);         /* a thread's batch */
    blamed_ev(L3, 2, 40, 41, 10);     /* live, generation 2 */
    hold_ev(L3, 2, 41, 3, 500);
    blamed_ev(L1, 0, 42, 43, 20);     /* dies below */
    holds_ev(L1, 0, 4, 900);
    dead_ev(L1, 0, 55);
    blamed_ev(L3, 1, 44, 45, 30);     /* an older generation of L3: the entry's */
    blamed_ev(L3, 1, 44, 45, 30);     /* counts are generation 2's, not its own */

    exported x = export_all();
    const mp_lock *live = find_lock(&x, L3, 1), *dead = find_lock(&x, L1, 1);
    CHECK(live && dead, "missing lock: live %p dead %p", (const void *)live,
          (const void *)dead);
    if (live) {
        CHECK(live->acquisitions == 1234, "acquisitions %llu, want the table's 1234",
              (unsigned long long)live->acquisitions);
        CHECK(live->contended_holds == 7 && live->contended_hold_ns == 7000,
              "holds %llu / %llu ns, want HOLDS' 7 / 7000 (a HOLD counts none)",
              (unsigned long long)live->contended_holds,
              (unsigned long long)live->contended_hold_ns);
        SITE(&x, live, 41, MP_ROLE_HOLDER, 1, 10);
    }
    if (dead) {
        CHECK(dead->acquisitions == 55, "acquisitions %llu, want DEAD's 55",
              (unsigned long long)dead->acquisitions);
        CHECK(dead->contended_holds == 4 && dead->contended_hold_ns == 900,
              "holds %llu / %llu ns, want HOLDS' 4 / 900",
              (unsigned long long)dead->contended_holds,
              (unsigned long long)dead->contended_hold_ns);
    }
    size_t old = 0;
    for (size_t i = 0; i < x.n_locks; i++)
        if (x.locks[i].address == L3 && x.locks[i].contentions == 2 &&
            x.locks[i].acquisitions == 0 && x.locks[i].contended_holds == 0)
            old++;
    CHECK(old == 1, "L3 generation 1 must export without the table's counts (%zu)", old);
    export_free(&x);

    dead_ev(0x999000, 0, 5);          /* DEAD of a lock never seen creates nothing */
    x = export_all();
    CHECK(x.n_locks == 3, "%zu locks after a DEAD of an unknown lock, want 3", x.n_locks);
    export_free(&x);
}

/* Sampled short waits count by their weight (2^weight_log2) everywhere:
 * the lock's totals, the waiter's and holder's sites, the wait histogram;
 * a thread's batch of hold buckets lands in the hold histogram. */
static void test_weights(void)
{
    reset();
    mp_event ev = {.type = MP_EV_LOCK_BLAMED, .kind = MP_LOCK_MUTEX,
                   .blamed = {.addr = L1, .stack = 60, .holder = 61, .wait_ns = 300,
                              .weight_log2 = 3}};
    mp_lock_aggregate(&ev);
    ev = (mp_event){.type = MP_EV_LOCK_WAIT, .kind = MP_LOCK_MUTEX,
                    .wait = {.addr = L1, .stack = 60, .seq = 9, .wait_ns = 100, .weight_log2 = 2}};
    mp_lock_aggregate(&ev);
    hold_ev(L1, 0, 62, 9, 50);        /* the release that let the second in */
    blamed_ev(L1, 0, 60, 61, 5000);   /* unsampled: weight 1 */
    ev = (mp_event){.type = MP_EV_LOCK_HOLDHIST, .kind = MP_LOCK_MUTEX,
                    .holdhist = {.addr = L1, .bucket = mp_lock_hist_bucket(40), .count = 6}};
    mp_lock_aggregate(&ev);
    exported x = export_all();
    const mp_lock *l = find_lock(&x, L1, 8 + 4 + 1);
    CHECK(l != NULL, "no lock with 13 contentions");
    if (l) {
        CHECK(l->wait_ns == 8 * 300 + 4 * 100 + 5000, "wait_ns %llu",
              (unsigned long long)l->wait_ns);
        CHECK(l->max_wait_ns == 5000, "max_wait_ns %llu", (unsigned long long)l->max_wait_ns);
        SITE(&x, l, 60, MP_ROLE_WAITER, 13, 2400 + 400 + 5000);
        SITE(&x, l, 61, MP_ROLE_HOLDER, 9, 2400 + 5000);
        SITE(&x, l, 62, MP_ROLE_HOLDER, 4, 400);
    }
    uint64_t waits = 0, holds40 = 0, hold50 = 0;
    for (size_t i = 0; i < x.n_hist; i++) {
        const mp_lock_hist *h = &x.hist[i];
        if (h->what == MP_HIST_WAIT)
            waits += h->count;
        else if (h->bucket == mp_lock_hist_bucket(40))
            holds40 += h->count;
        else if (h->bucket == mp_lock_hist_bucket(50))
            hold50 += h->count;
    }
    CHECK(waits == 13, "%llu waits in the histogram, want 13", (unsigned long long)waits);
    CHECK(holds40 == 6 && hold50 == 0, "hold histogram: %llu in 40 ns's bucket, %llu in 50's (HOLD adds none)",
          (unsigned long long)holds40, (unsigned long long)hold50);
    export_free(&x);
}

/* Many waits pending at once, far more than one matching cache line: each
 * release still finds its own waiters, as long as the caches hold them. */
static void test_many_pending(void)
{
    reset();
    enum { N = 64 };
    for (uint32_t s = 1; s <= N; s++)
        wait_ev(L2, 0, 100 + s, s, s);
    for (uint32_t s = N; s >= 1; s--)
        hold_ev(L2, 0, 200 + s, s, 1);

    exported x = export_all();
    const mp_lock *l = find_lock(&x, L2, N);
    CHECK(l != NULL, "lock L2 with %d contentions not exported", N);
    if (l) {
        uint64_t blamed = 0, blamed_ns = 0;
        for (uint64_t i = 0; i < l->site_count; i++) {
            const mp_lock_site *st = &x.sites[l->first_site + i];
            if (st->role != MP_ROLE_HOLDER)
                continue;
            CHECK(st->contentions == 1 && st->wait_ns == st->stack - 200,
                  "holder %u charged %llu / %llu ns, want its own waiter's 1 / %u", st->stack,
                  (unsigned long long)st->contentions, (unsigned long long)st->wait_ns,
                  st->stack - 200);
            blamed += st->contentions;
            blamed_ns += st->wait_ns;
        }
        /* A collision in the direct-mapped cache may lose a pairing (the
         * wait stays the waiter's alone), never misattribute one; with 64
         * keys in 4096 slots nearly all must pair. */
        CHECK(blamed >= N - 4, "only %llu of %d waits blamed", (unsigned long long)blamed, N);
        CHECK(blamed_ns <= (uint64_t)N * (N + 1) / 2, "%llu ns blamed",
              (unsigned long long)blamed_ns);
    }
    export_free(&x);
}

int main(void)
{
    test_join_orders();
    test_shared_release();
    test_join_keys();
    test_app_counts();
    test_weights();
    test_many_pending();
    reset();
    exported x = export_all();
    CHECK(x.n_locks == 0 && x.locks == NULL, "the fork-child reset left %zu locks", x.n_locks);
    CHECK_DONE();
}
