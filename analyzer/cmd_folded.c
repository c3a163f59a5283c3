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
#include "procset.h"
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

/* Several files add up, one snapshot per process (procset.h); how many is
 * said on stderr, the output being only folded lines. */
int cmd_folded_main(const mp_opts *o)
{
    mp_procset ps;
    mp_procset_load(&ps, o->files, o->n_files);
    mp_symbolizer *sym = mp_symbolizer_new();
    mp_stacktree t;
    mp_stacktree_init(&t);
    t.lines = o->lines;
    for (size_t i = 0; i < ps.n; i++)
        mp_stacktree_add_snapshot(&t, sym, &ps.snaps[i], o->what, false);
    mp_stacktree_layout(&t);
    if (ps.n_files > 1) {
        char d[128];
        mp_error("folded: added up %s", mp_procset_describe(&ps, d, sizeof(d)));
    }
    write_folded(stdout, &t);
    int rc = mp_opts_close_out(o, stdout);
    mp_stacktree_free(&t);
    mp_symbolizer_free(sym);
    mp_procset_free(&ps);
    return rc;
}
