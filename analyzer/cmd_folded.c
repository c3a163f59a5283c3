/*
 * cmd_folded.c - `memprof folded FILE [--what heap|alloc|locks]`: folded stacks
 * ("root;...;leaf value" per line) for flamegraph.pl, inferno and speedscope.
 *
 * Lines come from the call tree's exclusive values, so stacks that differ
 * only in addresses or lines of the same functions are merged, and the sum
 * of all lines equals the sum of the snapshot's per-site values (the
 * rounded estimates `memprof report` totals).
 */
#include "cmd.h"
#include "stacktree.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>

/* ';' separates frames, newline separates lines and the last space
 * separates the value, so none may survive in a name; other control
 * characters would only confuse the tools that read this. */
static void put_name(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        fputc(c == ';' || c < 0x20 || c == 0x7f ? '_' : c, out);
    }
}

static void write_folded(FILE *out, const mp_stacktree *t)
{
    uint32_t *path = mp_xmalloc((t->max_depth + 1) * sizeof(*path));
    for (uint32_t i = mp_stacktree_next(t, 0, false); i != MP_STACKTREE_NONE;
         i = mp_stacktree_next(t, i, false)) {
        const mp_stacktree_node *n = &t->nodes[i];
        path[n->depth] = i;
        if (n->self == 0)
            continue;
        for (uint32_t d = 1; d <= n->depth; d++) {
            if (d > 1)
                fputc(';', out);
            put_name(out, t->nodes[path[d]].name);
        }
        fprintf(out, " %" PRIu64 "\n", n->self);
    }
    free(path);
}

int cmd_folded_main(const mp_opts *o)
{
    mp_snapshot snap;
    mp_snapshot_load_or_die(o->files[0], &snap);
    mp_symbolizer *sym = mp_symbolizer_new();
    mp_stacktree t;
    mp_stacktree_init(&t);
    t.lines = o->lines;
    mp_stacktree_add_snapshot(&t, sym, &snap, o->what, false);
    mp_stacktree_layout(&t);
    write_folded(stdout, &t);
    int rc = mp_opts_close_out(o, stdout);
    mp_stacktree_free(&t);
    mp_symbolizer_free(sym);
    mp_snapshot_free(&snap);
    return rc;
}
