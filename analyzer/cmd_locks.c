/*
 * cmd_locks.c - `memprof locks [OLD] FILE [--top N] [--json]`: contended locks
 * ranked by total wait time.
 *
 * The shim's lock counters are cumulative since process start, so with OLD
 * (an earlier snapshot of the same process) we report only the window
 * between the two: see mp_locktab_subtract in sites.h. A lock is the same
 * lock in both files when it has the same address and the same first-use
 * stack key; an address reused by a lock created elsewhere is a new lock.
 *
 * max_wait_ns over a window is not derivable from two cumulative maxima.
 * If it changed, the new maximum happened inside the window (exact). If it
 * did not change but there were contentions in the window, the window's
 * maximum is at most that value: we report it and mark it as a bound
 * ("max_wait_exact": false in JSON, "<=" in text).
 */
#include "cmd.h"
#include "fmt.h"
#include "locktab.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CALLERS 3
#define TEXT_STACKS 3    /* waiter and holder stacks shown per lock in text */

static const char *kind_name(uint32_t kind)
{
    switch (kind) {
    case MP_LOCK_MUTEX: return "mutex";
    case MP_LOCK_RWLOCK: return "rwlock";
    case MP_LOCK_SPIN: return "spinlock";
    default: return "lock";
    }
}

/* ---- JSON ---- */

static void json_stacks(FILE *out, const char *name, const mp_lockstack *v, size_t n)
{
    fprintf(out, ",\n   \"%s\": [", name);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s{\"contentions\": %" PRIu64 ", \"wait_ns\": %" PRIu64 ", \"frames\": ",
                i ? ",\n    " : "\n    ", v[i].contentions, v[i].wait_ns);
        mp_fmt_json_frames(out, v[i].stack);
        fputc('}', out);
    }
    fputc(']', out);
}

/* ", "name": {"p50": .., "p90": .., "p99": .., "p999": ..}" */
static void json_percentiles(FILE *out, const char *name, const uint64_t p[MP_LOCK_NPCT])
{
    fprintf(out, ", \"%s\": {\"p50\": %" PRIu64 ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64
            ", \"p999\": %" PRIu64 "}", name, p[0], p[1], p[2], p[3]);
}

static void json_lock(FILE *out, const mp_lockrec *r, size_t rank)
{
    uint64_t p[MP_LOCK_NPCT];
    fprintf(out, "\n  {\"rank\": %zu, \"address\": \"0x%" PRIx64 "\", \"kind\": \"%s\""
            ", \"contentions\": %" PRIu64 ", \"wait_ns\": %" PRIu64
            ", \"max_wait_ns\": %" PRIu64 ", \"max_wait_exact\": %s"
            ", \"avg_wait_ns\": %" PRIu64 ", \"hold_ns\": %" PRIu64
            ", \"contended_holds\": %" PRIu64,
            rank, r->address, kind_name(r->kind), r->contentions, r->wait_ns,
            r->max_wait_ns, r->max_wait_exact ? "true" : "false",
            r->contentions ? r->wait_ns / r->contentions : 0, r->hold_ns,
            r->contended_holds);
    mp_locktab_percentiles(r, 0, r->max_wait_ns, p);
    json_percentiles(out, "percentiles_ns", p);
    if (mp_locktab_percentiles(r, 1, 0, p))
        json_percentiles(out, "hold_percentiles_ns", p);
    fputs(", \"frames\": ", out);
    mp_fmt_json_frames(out, r->site);
    json_stacks(out, "sites", r->waiters, r->n_waiters);
    json_stacks(out, "holders", r->holders, r->n_holders);
    fputc('}', out);
}

static void print_json(const char *path, const char *old_path, const mp_snapshot *snap,
                       const mp_locktab *t, size_t shown)
{
    FILE *out = stdout;
    fputs("{\"file\": ", out);
    mp_json_string(out, path);
    fputs(", \"old\": ", out);
    if (old_path)
        mp_json_string(out, old_path);
    else
        fputs("null", out);
    fputs(", ", out);
    mp_fmt_json_meta(out, snap);
    fprintf(out, ", \"lock_profiling\": %s, \"waits_sampled_below_ns\": %" PRIu64
            ", \"holds_sampled_1_in\": %" PRIu64
            ",\n \"total\": {\"locks\": %zu, \"contentions\": %" PRIu64
            ", \"wait_ns\": %" PRIu64 "},\n \"locks\": [",
            snap->meta->lock_profiling ? "true" : "false",
            snap->meta->lock_profiling > 1 ? snap->meta->lock_profiling : 0,
            snap->meta->lock_profiling ? mp_fmt_hold_rate(snap->meta) : 0, t->n, t->contentions,
            t->wait_ns);
    for (size_t i = 0; i < shown; i++) {
        if (i)
            fputc(',', out);
        json_lock(out, &t->v[i], i + 1);
    }
    fputs("]}\n", out);
}

/* ---- text ---- */

static void text_stacks(FILE *out, const char *title, const char *noun,
                        const mp_lockstack *v, size_t n)
{
    char b[32];
    if (!n)
        return;
    fprintf(out, "      %s:\n", title);
    size_t show = n < TEXT_STACKS ? n : TEXT_STACKS;
    for (size_t i = 0; i < show; i++) {
        fprintf(out, "      %10" PRIu64 " x %10s  ", v[i].contentions, mp_fmt_ns(b, v[i].wait_ns));
        mp_fmt_stack(out, v[i].stack, CALLERS, 6 + 10 + 3 + 10 + 2);
    }
    if (n > show)
        fprintf(out, "      ... %zu more %s (see --json)\n", n - show, noun);
}

/* "waits p50 1.0 us, p90 ..." when the lock has a histogram of what. */
static void text_percentiles(FILE *out, const char *title, const mp_lockrec *r, int what,
                             uint64_t max)
{
    static const char *const names[MP_LOCK_NPCT] = {"p50", "p90", "p99", "p99.9"};
    uint64_t p[MP_LOCK_NPCT];
    char b[32];
    if (!mp_locktab_percentiles(r, what, max, p))
        return;
    fprintf(out, "%s", title);
    for (int k = 0; k < MP_LOCK_NPCT; k++)
        fprintf(out, "%s %s %s", k ? "," : "", names[k], mp_fmt_ns(b, p[k]));
}

static void text_lock(FILE *out, const mp_lockrec *r, size_t rank)
{
    char w[32], mx[32], avg[32], h[32];
    fprintf(out, "#%-3zu %s 0x%" PRIx64 ": %" PRIu64 " contentions, wait %s total, max %s%s, avg %s",
            rank, kind_name(r->kind), r->address, r->contentions, mp_fmt_ns(w, r->wait_ns),
            r->max_wait_exact ? "" : "<=", mp_fmt_ns(mx, r->max_wait_ns),
            mp_fmt_ns(avg, r->contentions ? r->wait_ns / r->contentions : 0));
    if (r->hold_ns)
        fprintf(out, "; held %s while contended", mp_fmt_ns(h, r->hold_ns));
    if (r->hist[0] || r->hist[1]) {
        fputs("\n     ", out);
        text_percentiles(out, " waits", r, 0, r->max_wait_ns);
        text_percentiles(out, r->hist[0] ? "; holds" : " holds", r, 1, 0);
    }
    fputs("\n      first used at ", out);
    mp_fmt_stack(out, r->site, CALLERS, 6 + 14);
    text_stacks(out, "waiters (contentions x wait suffered)", "waiter stacks",
                r->waiters, r->n_waiters);
    text_stacks(out, "holders (contentions x wait caused)", "holder stacks",
                r->holders, r->n_holders);
}

static void print_text(const char *old_path, const mp_snapshot *old, const mp_snapshot *snap,
                       const mp_locktab *t, size_t shown)
{
    FILE *out = stdout;
    char b[32];
    mp_fmt_header(out, "locks", snap);
    mp_fmt_counters(out, snap);
    if (old) {
        fprintf(out, "window: since snapshot %" PRIu64 " (", old->meta->seq);
        mp_put_text(out, old_path);
        fprintf(out, "), %s\n", mp_fmt_ns(b, snap->meta->time_ns > old->meta->time_ns
                                              ? snap->meta->time_ns - old->meta->time_ns : 0));
    }
    if (!snap->meta->lock_profiling)
        fputs("lock profiling was off in this process (MEMPROF_LOCKS=0)\n", out);
    fprintf(out, "%zu contended lock%s, %" PRIu64 " contentions, %s total wait", t->n,
            t->n == 1 ? "" : "s", t->contentions, mp_fmt_ns(b, t->wait_ns));
    if (shown < t->n)
        fprintf(out, "; top %zu shown", shown);
    fputc('\n', out);
    for (size_t i = 0; i < shown; i++)
        text_lock(out, &t->v[i], i + 1);
    mp_fmt_unnamed_note(out);
}

/* ---- command ---- */

/* A window only makes sense between two snapshots of one process, in order. */
static int check_window(const char *old_path, const mp_snapshot *old, const char *path,
                        const mp_snapshot *snap)
{
    const mp_meta *o = old->meta, *n = snap->meta;
    if (o->pid != n->pid || o->start_time_ns != n->start_time_ns) {
        mp_error("locks: %s (pid %" PRIu64 ") and %s (pid %" PRIu64 ") are not snapshots "
                 "of the same process; OLD must be an earlier snapshot of FILE's process",
                 old_path, o->pid, path, n->pid);
        return -1;
    }
    if (o->seq > n->seq) {
        mp_error("locks: OLD %s (snapshot %" PRIu64 ") is newer than FILE %s (snapshot %"
                 PRIu64 "); swap them", old_path, o->seq, path, n->seq);
        return -1;
    }
    return 0;
}

int cmd_locks_main(const mp_opts *o)
{
    const char *path = o->files[o->n_files - 1];
    const char *old_path = o->n_files == 2 ? o->files[0] : NULL;
    mp_snapshot snap, old = {0};
    if (old_path)
        mp_snapshot_load_or_die(old_path, &old);
    mp_snapshot_load_or_die(path, &snap);
    if (old_path && check_window(old_path, &old, path, &snap) < 0) {
        mp_snapshot_free(&old);
        mp_snapshot_free(&snap);
        return MP_EXIT_USAGE;
    }

    mp_symbolizer *sym = mp_symbolizer_new();
    mp_locktab t;
    mp_locktab_build(&t, sym, &snap);
    if (old_path) {
        mp_locktab ot;
        mp_locktab_build(&ot, sym, &old);
        mp_locktab_subtract(&t, &ot);
        mp_locktab_free(&ot);
    } else {
        mp_locktab_drop_uncontended(&t);
    }
    mp_locktab_sort(&t);
    size_t shown = mp_opts_limit(o, t.n);
    if (o->json)
        print_json(path, old_path, &snap, &t, shown);
    else
        print_text(old_path, old_path ? &old : NULL, &snap, &t, shown);
    int rc = mp_opts_close_out(o, stdout);   /* a full disk is no success */

    mp_locktab_free(&t);
    mp_symbolizer_free(sym);
    if (old_path)
        mp_snapshot_free(&old);
    mp_snapshot_free(&snap);
    return rc;
}

/* memprof html: one lock as `locks --json` lists it. */
void cmd_locks_json_lock(FILE *out, const mp_lockrec *r, size_t rank)
{
    json_lock(out, r, rank);
}
