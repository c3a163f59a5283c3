/*
 * html_model.c - the data model `memprof html` embeds in its page: one JSON
 * object that the page's script (analyzer/html/report.js) renders.
 *
 *   files     every snapshot in the order given: its meta and counters (as
 *             `report --json` has them), start time, command line, and its
 *             live-heap and allocation totals. A file may later also carry
 *             "series" [{t_ns, heap_bytes, rss_bytes}] and "peak" {bytes,
 *             time_ns, rss_bytes}; the page draws them when present.
 *   growth    the `diff --json` document of all files (null for one file)
 *   flames    call trees: heap (live, last file), diff (first -> last, with
 *             what vanished), alloc (cumulative, last file), locks (wait
 *             time, last file; null without contention); the page also
 *             draws a "peak" tree when one is present
 *   locks     the last file's contended locks as `locks --json` lists them
 *
 * Trees are flat: nodes in pre-order, each [parent, name, file, line,
 * value, old_value, count], parent -1 for the root, name and file indexes
 * into the tree's "strings" (file -1 when unknown, line -1 when merged
 * frames disagree). Flat arrays keep JSON.parse free of deep nesting.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "html.h"
#include "keymap.h"
#include "stacktree.h"
#include "timeline.h"
#include "util.h"

static void model_file(FILE *out, const mp_html_input *in, size_t f)
{
    const mp_snapshot *s = &in->snaps[f];
    const mp_meta *m = s->meta;
    const mp_site *tot = &in->sites[f].total;
    fputs("{\"file\": ", out);
    mp_json_string(out, in->paths[f]);
    fputs(", ", out);
    mp_fmt_json_meta(out, s);
    fprintf(out, ", \"ppid\": %" PRIu64 ", \"start_time_ns\": %" PRIu64
            ", \"lock_profiling\": %s, \"exe\": ", m->ppid, m->start_time_ns,
            m->lock_profiling ? "true" : "false");
    mp_json_string(out, mp_snapshot_str(s, m->exe));
    fputs(", \"cmdline\": ", out);
    mp_json_string(out, mp_snapshot_str(s, m->cmdline));
    fprintf(out, ",\n   \"heap\": {\"bytes\": %" PRIu64 ", \"count\": %" PRIu64
            ", \"samples\": %" PRIu64 "}, \"alloc\": {\"bytes\": %" PRIu64
            ", \"count\": %" PRIu64 "},\n   ",
            tot->live_bytes, tot->live_count, tot->live_samples, tot->alloc_bytes,
            tot->alloc_count);
    mp_timeline_json_one(out, s);   /* "peak", "series" */
    fputc('}', out);
}

/* ---- call trees ---- */

/* Index of s in the tree's string table, added on first use. */
static size_t tree_str(mp_keymap *map, const char **strs, size_t *n, const char *s)
{
    size_t i = mp_keymap_put(map, 0, s, *n);
    if (i == *n)
        strs[(*n)++] = s;
    return i;
}

static void model_tree(FILE *out, mp_stacktree *t, const char *unit)
{
    mp_stacktree_layout(t);
    uint32_t *order = mp_xmalloc(t->n * sizeof(*order));   /* node id -> pre-order */
    const char **strs = mp_xmalloc(2 * t->n * sizeof(*strs));
    size_t n_strs = 0, k = 0;
    mp_keymap *map = mp_keymap_new();
    fprintf(out, "{\"unit\": \"%s\", \"nodes\": [", unit);
    for (uint32_t i = 0; i != MP_STACKTREE_NONE; i = mp_stacktree_next(t, i, false)) {
        const mp_stacktree_node *n = &t->nodes[i];
        order[i] = (uint32_t)k;
        long parent = n->parent == MP_STACKTREE_NONE ? -1 : (long)order[n->parent];
        long file = n->file ? (long)tree_str(map, strs, &n_strs, n->file) : -1;
        fprintf(out, "%s[%ld, %zu, %ld, %d, %" PRIu64 ", %" PRIu64 ", %" PRIu64 "]",
                k++ ? ",\n  " : "\n  ", parent, tree_str(map, strs, &n_strs, n->name), file,
                n->line, n->total, n->old_total, n->count);
    }
    fputs("],\n \"strings\": [", out);
    for (size_t i = 0; i < n_strs; i++) {
        if (i)
            fputs(", ", out);
        mp_json_string(out, strs[i]);
    }
    fputs("]}", out);
    mp_keymap_free(map);
    free(strs);
    free(order);
}

/* One tree of `what` in `cur`, differential against `old` when given. */
static void model_flame(FILE *out, const mp_html_input *in, const mp_snapshot *cur,
                        const mp_snapshot *old, mp_what what)
{
    mp_stacktree t;
    mp_stacktree_init(&t);
    mp_stacktree_add_snapshot(&t, in->sym, cur, what, false);
    if (old)
        mp_stacktree_add_snapshot(&t, in->sym, old, what, true);
    model_tree(out, &t, mp_stacktree_what_is_bytes(what) ? "bytes" : "ns");
    mp_stacktree_free(&t);
}

static void model_flames(FILE *out, const mp_html_input *in, const mp_locktab *locks)
{
    const mp_snapshot *first = &in->snaps[0], *last = &in->snaps[in->nf - 1];
    fputs("{\"heap\": ", out);
    model_flame(out, in, last, NULL, MP_WHAT_HEAP);
    fputs(",\n \"diff\": ", out);
    if (in->nf > 1)
        model_flame(out, in, last, first, MP_WHAT_HEAP);
    else
        fputs("null", out);
    fputs(",\n \"alloc\": ", out);
    model_flame(out, in, last, NULL, MP_WHAT_ALLOC);
    fputs(",\n \"locks\": ", out);
    if (locks->wait_ns)
        model_flame(out, in, last, NULL, MP_WHAT_LOCKS);
    else
        fputs("null", out);
    fputs(",\n \"peak\": ", out);
    if (last->n_peak_sites)
        model_flame(out, in, last, NULL, MP_WHAT_PEAK);
    else
        fputs("null", out);
    fputc('}', out);
}

/* ---- locks ---- */

static void model_locks(FILE *out, const mp_html_input *in, const mp_locktab *t)
{
    size_t last = in->nf - 1;
    size_t shown = in->top == 0 || in->top > t->n ? t->n : in->top;
    fputs("{\"file\": ", out);
    mp_json_string(out, in->paths[last]);
    fprintf(out, ", \"lock_profiling\": %s, \"total\": {\"locks\": %zu, \"contentions\": %"
            PRIu64 ", \"wait_ns\": %" PRIu64 "},\n \"locks\": [",
            in->snaps[last].meta->lock_profiling ? "true" : "false", t->n, t->contentions,
            t->wait_ns);
    for (size_t i = 0; i < shown; i++) {
        if (i)
            fputc(',', out);
        cmd_locks_json_lock(out, &t->v[i], i + 1);
    }
    fputs("]}", out);
}

void mp_html_model(FILE *out, const mp_html_input *in)
{
    mp_locktab locks;
    mp_locktab_build(&locks, in->sym, &in->snaps[in->nf - 1]);
    mp_locktab_drop_uncontended(&locks);
    mp_locktab_sort(&locks);

    fputs("{\"generator\": \"memprof html\", \"model\": 1,\n\"files\": [", out);
    for (size_t f = 0; f < in->nf; f++) {
        fputs(f ? ",\n  " : "\n  ", out);
        model_file(out, in, f);
    }
    fputs("],\n\"growth\": ", out);
    if (in->nf > 1)
        cmd_diff_json(out, in->snaps, in->sites, in->nf, in->paths, in->top);
    else
        fputs("null", out);
    fputs(",\n\"flames\": ", out);
    model_flames(out, in, &locks);
    fputs(",\n\"locks\": ", out);
    model_locks(out, in, &locks);
    fputs("}\n", out);
    mp_locktab_free(&locks);
}
