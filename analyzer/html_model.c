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
 *
 * Trees are pruned: callees below MIN_SHARE of the total are folded into
 * one node per caller, [parent, "(n small frames)", -1, 0, value,
 * old_value, count, n], last among its siblings, as the SVG flame graph
 * folds narrow frames (flamelayout.c does both). The tree's "pruned" says
 * how many frames were left out, so a snapshot of 100k stacks gives a page
 * of a few hundred kilobytes, not tens of megabytes; with --lines
 * ("lines": true at the top) a frame is one function and line.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "flamelayout.h"
#include "fmt.h"
#include "html.h"
#include "keymap.h"
#include "stacktree.h"
#include "strtab.h"
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

/* Callees under 0.1% of the tree's total fold: at the page's 1280 px a
 * frame that narrow is under 1.3 px, too thin to read before zooming in. */
#define MIN_SHARE 0.001

typedef struct tree_out {
    FILE *out;
    mp_stacktree *t;
    mp_flamelayout lay;
    uint32_t *order;            /* node id -> its row, for written nodes */
    const char **strs;          /* the tree's string table */
    size_t n_strs, cap_strs, k; /* k: rows written */
    mp_keymap *map;
} tree_out;

/* Index of s in the tree's string table, added on first use. */
static size_t tree_str(tree_out *o, const char *s)
{
    size_t i = mp_keymap_put(o->map, 0, s, o->n_strs);
    if (i == o->n_strs) {
        mp_grow((void **)&o->strs, &o->cap_strs, o->n_strs + 1, sizeof(*o->strs));
        o->strs[o->n_strs++] = s;
    }
    return i;
}

static void tree_row(tree_out *o, uint32_t i)
{
    const mp_stacktree_node *n = &o->t->nodes[i];
    long parent = n->parent == MP_STACKTREE_NONE ? -1 : (long)o->order[n->parent];
    long file = n->file ? (long)tree_str(o, n->file) : -1;
    o->order[i] = (uint32_t)o->k;
    fprintf(o->out, "%s[%ld, %zu, %ld, %d, %" PRIu64 ", %" PRIu64 ", %" PRIu64 "]",
            o->k++ ? ",\n  " : "\n  ", parent, tree_str(o, n->name), file, n->line, n->total,
            n->old_total, n->count);
}

/* After the callees of p: the one node its narrow callees fold into. */
static void tree_fold(tree_out *o, uint32_t p)
{
    mp_flamefold f;
    if (!mp_flamelayout_fold(&o->lay, p, &f))
        return;
    char label[48];
    snprintf(label, sizeof(label), "(%u small frame%s)", f.n, f.n == 1 ? "" : "s");
    const char *name = mp_strtab_intern(o->t->names, label);
    fprintf(o->out, ",\n  [%u, %zu, -1, 0, %" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %u]",
            o->order[p], tree_str(o, name), f.total, f.old_total, f.count, f.n);
    o->k++;
}

/* Pre-order over the frames wide enough to keep; a caller's fold node is
 * written when the walk leaves it, after its last wide callee's subtree. */
static size_t tree_rows(tree_out *o)
{
    const mp_stacktree *t = o->t;
    uint32_t *open = mp_xmalloc((t->max_depth + 1) * sizeof(*open));
    size_t n_open = 0, kept = 0;
    for (uint32_t i = 0; i != MP_STACKTREE_NONE;) {
        bool keep = mp_flamelayout_wide(&o->lay, i);
        if (keep) {
            while (n_open && t->nodes[open[n_open - 1]].depth >= t->nodes[i].depth)
                tree_fold(o, open[--n_open]);
            tree_row(o, i);
            open[n_open++] = i;
            kept++;
        }
        i = mp_stacktree_next(t, i, !keep);
    }
    while (n_open)
        tree_fold(o, open[--n_open]);
    free(open);
    return kept;
}

static void model_tree(FILE *out, mp_stacktree *t, const char *unit, bool diff)
{
    mp_stacktree_layout(t);
    tree_out o = {.out = out, .t = t, .map = mp_keymap_new()};
    o.order = mp_xmalloc(t->n * sizeof(*o.order));
    mp_flamelayout_init(&o.lay, t, diff);
    mp_flamelayout_place(&o.lay, MIN_SHARE * (double)o.lay.w[0]);
    fprintf(out, "{\"unit\": \"%s\", \"nodes\": [", unit);
    size_t kept = tree_rows(&o);
    fprintf(out, "],\n \"pruned\": {\"min_share\": %g, \"frames\": %zu},\n \"strings\": [",
            MIN_SHARE, t->n - kept);
    for (size_t i = 0; i < o.n_strs; i++) {
        if (i)
            fputs(", ", out);
        mp_json_string(out, o.strs[i]);
    }
    fputs("]}", out);
    mp_flamelayout_free(&o.lay);
    mp_keymap_free(o.map);
    free(o.strs);
    free(o.order);
}

/* One tree of `what` in `cur`, differential against `old` when given. */
static void model_flame(FILE *out, const mp_html_input *in, const mp_snapshot *cur,
                        const mp_snapshot *old, mp_what what)
{
    mp_stacktree t;
    mp_stacktree_init(&t);
    t.lines = in->lines;
    mp_stacktree_add_snapshot(&t, in->sym, cur, what, false);
    if (old)
        mp_stacktree_add_snapshot(&t, in->sym, old, what, true);
    model_tree(out, &t, mp_stacktree_what_is_bytes(what) ? "bytes" : "ns", old != NULL);
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

    fprintf(out, "{\"generator\": \"memprof html\", \"model\": 1, \"lines\": %s,\n\"files\": [",
            in->lines ? "true" : "false");
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
