/*
 * snapshot.c - turning the collector's aggregates into a snapshot file.
 *
 * Only stacks that the heap or lock data reference are written, renumbered
 * densely. The file is assembled in shim-mapped memory and handed to
 * snapfile.c, which writes it under a random temporary name and renames it
 * into place without replacing anything, so a reader never sees a partial
 * file under a final name, even if the disk fills or the process is killed
 * mid-write. Writers are serialized here; the seq is claimed under the lock.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "format_write.h"

#define STRINGS_MAX (1u << 20)

static _Atomic uint32_t seq;

static mp_spinlock writer;

/* Fork child: a new process, and the writer (another thread of the
 * parent) does not exist here. */
void mp_snapshot_reset_seq(void)
{
    atomic_store(&seq, 0);
    mp_spin_unlock(&writer);
}

static void read_cmdline(char *buf, size_t cap)
{
    ssize_t n = mp_read_small_file("/proc/self/cmdline", buf, cap);
    if (n <= 0)
        return;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == 0)
            buf[i] = ' ';
    while (n > 0 && buf[n - 1] == ' ')
        n--;
    buf[n] = 0;
}

/* Scratch arrays for one snapshot, all from mp_pages, filled in place in
 * the sections the file is written from. */
typedef struct build {
    uint32_t n_ids;
    uint32_t *remap;            /* stack id -> file index, UINT32_MAX = unused */
    size_t frames_cap, strings_cap;
    mp_meta meta;
    mp_peak peak;
    size_t peak_sites_cap;
    mp_sections_out out;
} build;

/* Offset of s in STRINGS; "" (0) when full: better a missing name than a
 * broken file. */
static uint32_t add_string(build *b, const char *s)
{
    size_t len = strlen(s) + 1, used = b->out.n_strings;
    if (used + len > b->strings_cap)
        return 0;
    memcpy(b->out.strings + used, s, len);
    b->out.n_strings += len;
    return (uint32_t)used;
}

static uint32_t use_stack(build *b, uint32_t id)
{
    if (id == MP_NO_STACK || id >= b->n_ids)
        return MP_NO_STACK;
    if (b->remap[id] != UINT32_MAX)
        return b->remap[id];
    uint32_t depth = 0, gen = 0;
    uint64_t hash = 0;
    const uint64_t *frames = mp_stack_get(id, &depth, &hash, &gen);
    mp_sections_out *o = &b->out;
    if (!frames || o->n_frames + depth > b->frames_cap)
        depth = 0;
    mp_stack *s = &o->stacks[o->n_stacks];
    s->hash = hash;
    s->first_frame = o->n_frames;
    s->depth = depth;
    s->generation = gen;
    if (depth)
        memcpy(o->frames + o->n_frames, frames, depth * sizeof(uint64_t));
    o->n_frames += depth;
    return b->remap[id] = (uint32_t)o->n_stacks++;
}

static uint64_t nonneg(int64_t v) { return v > 0 ? (uint64_t)v : 0; }

static uint64_t count_of(int64_t fx)
{
    return fx > 0 ? ((uint64_t)fx + MP_COUNT_ONE / 2) / MP_COUNT_ONE : 0;
}

static void collect_heap(build *b)
{
    for (uint32_t id = 0; id < b->n_ids; id++) {
        const mp_heap_agg *a = mp_heap_agg_get(id);
        if (!a || (a->alloc_samples == 0 && a->live_samples == 0))
            continue;
        mp_heap_site *h = &b->out.heap[b->out.n_heap++];
        h->stack = use_stack(b, id);
        h->live_samples = nonneg(a->live_samples);
        h->live_bytes = nonneg(a->live_bytes);
        h->live_count = count_of(a->live_count_fx);
        h->alloc_samples = a->alloc_samples;
        h->alloc_bytes = a->alloc_bytes;
        h->alloc_count = count_of((int64_t)a->alloc_count_fx);
    }
}

/* The peak, its live set, the series and the size histogram (issue 12). */
static void collect_peak(build *b)
{
    mp_sections_out *o = &b->out;
    const mp_peak_site *src;
    size_t n;
    mp_heap_peak_export(&b->peak, &src, &n);
    o->peak = &b->peak;
    o->n_peak = 1;
    o->peak_sites = mp_reserve((n + 1) * sizeof(mp_peak_site));
    b->peak_sites_cap = n + 1;
    for (size_t i = 0; o->peak_sites && i < n; i++) {
        uint32_t st = use_stack(b, src[i].stack);
        if (st == MP_NO_STACK)
            continue;
        o->peak_sites[o->n_peak_sites] = src[i];
        o->peak_sites[o->n_peak_sites++].stack = st;
    }
    if (o->series)
        o->n_series = mp_heap_series_export(o->series);
    if (o->sizes)
        o->n_sizes = mp_heap_sizes_export(o->sizes);
}

/* Lifetimes of the stacks whose blocks died; in HEAP's order, after it. */
static void collect_lifetimes(build *b)
{
    mp_sections_out *o = &b->out;
    o->lifetimes = mp_reserve((size_t)(b->n_ids + 1) * sizeof(mp_lifetime_site));
    for (uint32_t id = 0; o->lifetimes && id < b->n_ids; id++) {
        mp_lifetime_site *l = &o->lifetimes[o->n_lifetimes];
        if (!mp_heap_life_export(id, l))
            continue;
        l->stack = use_stack(b, id);
        if (l->stack != MP_NO_STACK)
            o->n_lifetimes++;
    }
}

static void collect_locks(build *b)
{
    mp_sections_out *o = &b->out;
    o->n_locks = mp_lock_export(&o->locks, &o->lock_sites, &o->n_lock_sites);
    o->n_lock_hist = o->n_locks ? mp_lock_export_hist(&o->lock_hist) : 0;
    for (size_t i = 0; i < o->n_locks; i++)
        o->locks[i].site_stack = use_stack(b, o->locks[i].site_stack);
    for (size_t i = 0; i < o->n_lock_sites; i++) {
        uint32_t s = use_stack(b, o->lock_sites[i].stack);
        o->lock_sites[i].stack = s == MP_NO_STACK ? use_stack(b, MP_OVERFLOW_STACK) : s;
    }
}

static void collect_modules(build *b)
{
    mp_sections_out *o = &b->out;
    mp_modules_lock();
    o->n_modules = mp_modules_count();
    o->modules = mp_pages(sizeof(mp_module) * (o->n_modules + 1));
    for (size_t i = 0; o->modules && i < o->n_modules; i++) {
        const char *path;
        o->modules[i] = *mp_modules_get(i, &path);
        o->modules[i].path = add_string(b, path);
    }
    if (!o->modules)
        o->n_modules = 0;
    mp_modules_unlock();
}

static void fill_meta(build *b, int trigger, uint32_t this_seq)
{
    char text[4096];
    mp_meta *m = &b->meta;
    memset(m, 0, sizeof(*m));
    b->out.meta = m;
    b->out.n_meta = 1;
    m->pid = (uint64_t)mp_pid;
    m->ppid = (uint64_t)getppid();
    m->seq = this_seq;
    m->trigger = (uint64_t)trigger;
    m->time_ns = mp_realtime_ns();
    m->start_time_ns = mp_start_realtime_ns();   /* an attached process's: the attach */
    m->flags = atomic_load(&mp_attached) ? MP_META_ATTACHED : 0;
    if (mp_cfg.locks)
        m->flags |= (uint64_t)MP_LOCK_HOLD_RATE_LOG2 << MP_META_HOLD_RATE_SHIFT;
    m->sample_bytes = mp_cfg.sample_bytes;
    m->max_depth = (uint64_t)mp_cfg.depth;
    m->lock_profiling = mp_cfg.locks ? 1ull << MP_LOCK_EXACT_LOG2 : 0;
    m->generation = atomic_load(&mp_module_generation);
    m->prog = add_string(b, mp_cfg.prog);
    ssize_t n = readlink("/proc/self/exe", text, sizeof(text) - 1);
    text[n > 0 ? n : 0] = 0;
    m->exe = add_string(b, text);
    read_cmdline(text, sizeof(text));
    m->cmdline = add_string(b, text);
    if (mp_cfg.malloc_provider[0])
        m->malloc_provider = add_string(b, mp_cfg.malloc_provider);
    mp_counters *c = &m->counters;
    c->samples = MP_STAT_TOTAL(samples);
    c->sampled_frees = MP_STAT_TOTAL(sampled_frees);
    c->events_stalled = MP_STAT_TOTAL(events_stalled);
    c->events_dropped = MP_STAT_TOTAL(events_dropped);
    c->unwind_failures = MP_STAT_TOTAL(unwind_failures);
    c->unwind_mismatches = MP_STAT_TOTAL(unwind_mismatches);
    c->stack_table_full = MP_STAT_TOTAL(stack_table_full);
    c->addrset_full = MP_STAT_TOTAL(addrset_full);
    c->lock_contentions = MP_STAT_TOTAL(lock_contentions);
    c->lock_events_dropped = MP_STAT_TOTAL(lock_events_dropped);
    c->threads_seen = MP_STAT_TOTAL(threads_seen);
    c->modules_forgotten = mp_modules_forgotten();
    c->dormant_ns = mp_dormant_ns();
}

static bool build_alloc(build *b)
{
    b->n_ids = mp_stack_count();
    size_t ids = (size_t)b->n_ids + 1;
    b->frames_cap = ids * (size_t)mp_cfg.depth;
    /* Reserved, not touched: only what is filled costs memory. */
    mp_sections_out *o = &b->out;
    b->remap = mp_reserve(ids * sizeof(uint32_t));
    o->stacks = mp_reserve(ids * sizeof(mp_stack));
    o->frames = mp_reserve(b->frames_cap * sizeof(uint64_t));
    o->heap = mp_reserve(ids * sizeof(mp_heap_site));
    o->series = mp_reserve((MP_SERIES_MAX + 1) * sizeof(mp_series_point));
    o->sizes = mp_reserve(64 * sizeof(mp_size_bucket));
    b->strings_cap = STRINGS_MAX;
    o->strings = mp_reserve(STRINGS_MAX);
    if (!b->remap || !o->stacks || !o->frames || !o->heap || !o->strings)
        return false;
    memset(b->remap, 0xff, ids * sizeof(uint32_t));
    o->n_strings = 1;   /* offset 0 is "" */
    return true;
}

static void build_free(build *b)
{
    size_t ids = (size_t)b->n_ids + 1;
    mp_sections_out *o = &b->out;
    mp_pages_free(b->remap, ids * sizeof(uint32_t));
    mp_pages_free(o->stacks, ids * sizeof(mp_stack));
    mp_pages_free(o->frames, b->frames_cap * sizeof(uint64_t));
    mp_pages_free(o->heap, ids * sizeof(mp_heap_site));
    mp_pages_free(o->strings, STRINGS_MAX);
    mp_pages_free(o->modules, sizeof(mp_module) * (o->n_modules + 1));
    mp_pages_free(o->locks, sizeof(mp_lock) * o->n_locks);
    mp_pages_free(o->lock_sites, sizeof(mp_lock_site) * o->n_lock_sites);
    mp_pages_free(o->lock_hist, sizeof(mp_lock_hist) * o->n_lock_hist);
    mp_pages_free(o->series, (MP_SERIES_MAX + 1) * sizeof(mp_series_point));
    mp_pages_free(o->sizes, 64 * sizeof(mp_size_bucket));
    mp_pages_free(o->peak_sites, b->peak_sites_cap * sizeof(mp_peak_site));
    mp_pages_free(o->lifetimes, ids * sizeof(mp_lifetime_site));
}

/* Warn once per failure streak, so a full disk prints one line, not one a
 * minute, and the next failure after a success is reported again. */
static _Atomic int failing;

/* A directory of thousands of bytes keeps its end in the line, so that
 * mp_warn's 512 bytes still hold the reason. */
#define WHERE_SHOWN_MAX 200

static void report_failure(const char *what, const char *where, const char *why)
{
    size_t len = strlen(where);
    const char *cut = len > WHERE_SHOWN_MAX ? "..." : "";
    if (!atomic_exchange(&failing, 1))
        mp_warn("cannot %s %s%s: %s; snapshot skipped, the program is unaffected", what, cut,
                where + (*cut ? len - WHERE_SHOWN_MAX : 0), why);
}

/* One writer at a time (the collector, a request, the exit): the seq is
 * claimed under it. The exit path waits for a collector still writing
 * (bounded: a writer stuck on a dead disk must not keep the process). */
#define WRITER_WAIT_NS 10000000000ull

static bool writer_lock(void)
{
    uint64_t deadline = 0;
    while (!mp_spin_trylock(&writer)) {
        uint64_t now = mp_now_ns();
        if (!deadline)
            deadline = now + WRITER_WAIT_NS;
        else if (now >= deadline)
            return false;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    return true;
}

/* Builds and writes one snapshot into dirfd under seq this_seq. */
static int build_and_write(int dirfd, int trigger, uint32_t this_seq, char *name, size_t cap)
{
    build b;
    memset(&b, 0, sizeof(b));
    int err = ENOMEM;
    if (build_alloc(&b)) {
        collect_heap(&b);
        collect_lifetimes(&b);
        collect_peak(&b);
        collect_locks(&b);
        collect_modules(&b);
        fill_meta(&b, trigger, this_seq);
        size_t size = mp_format_size(&b.out.view);
        uint8_t *buf = mp_pages(size);
        if (buf) {
            mp_format_write(&b.out.view, buf);
            err = mp_snapfile_write(dirfd, buf, size, this_seq, name, cap);
            mp_pages_free(buf, size);
        }
    }
    build_free(&b);
    return err;
}

/* The seq of the next snapshot: one past the last one written, or past it
 * to the next name nobody has taken (an earlier program with this pid). */
static int write_locked(int trigger, char *path_out, size_t path_len)
{
    char why[512], dir[sizeof(mp_cfg.out_dir) + 32], name[400];
    mp_snapfile_dir_shown(dir, sizeof(dir));
    int dirfd = mp_snapfile_open_dir(why, sizeof(why));
    if (dirfd < 0) {
        report_failure("write a snapshot in", dir, why[0] ? why : mp_strerror(errno));
        snprintf(path_out, path_len, "cannot write snapshot in %s: %s", dir,
                 why[0] ? why : mp_strerror(errno));
        return -1;
    }
    uint32_t this_seq = mp_snapfile_free_seq(dirfd, atomic_load(&seq) + 1);
    int err = this_seq ? build_and_write(dirfd, trigger, this_seq, name, sizeof(name)) : errno;
    close(dirfd);
    if (this_seq && (err == 0 || err == EEXIST))
        atomic_store(&seq, this_seq);   /* taken, by us or by whoever won the name */
    if (err) {
        const char *why_text = err == EEXIST ? "its name was taken meanwhile" : mp_strerror(err);
        report_failure("write a snapshot in", dir, why_text);
        snprintf(path_out, path_len, "cannot write snapshot in %s: %s", dir, why_text);
        return -1;
    }
    atomic_store(&failing, 0);
    snprintf(path_out, path_len, "%s/%s", dir, name);
    return 0;
}

int mp_write_snapshot(int trigger, char *path_out, size_t path_len)
{
    char text[4600];
    if (!path_out) {
        path_out = text;
        path_len = sizeof(text);
    }
    mp_modules_refresh();
    if (!writer_lock()) {
        mp_warn("a snapshot is still being written after 10 s; this one is skipped");
        snprintf(path_out, path_len, "a snapshot is still being written");
        return -1;
    }
    int rc = write_locked(trigger, path_out, path_len);
    mp_spin_unlock(&writer);
    return rc;
}
