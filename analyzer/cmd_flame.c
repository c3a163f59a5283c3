/*
 * cmd_flame.c - `memprof flame [OLD] FILE [--what heap|alloc|locks] [-o OUT.svg]`:
 * an interactive SVG flame graph (flame_svg.c draws it).
 *
 * With OLD it is differential: the tree is NEW's, with OLD's values added
 * as old_total. Stacks are matched by function names along the path (the
 * call tree merges by name), which holds across pids and ASLR.
 */
#include "cmd.h"
#include "flame_svg.h"
#include "stacktree.h"

int cmd_flame_main(const mp_opts *o)
{
    bool diff = o->n_files == 2;
    mp_snapshot snaps[2];
    for (size_t i = 0; i < o->n_files; i++)
        mp_snapshot_load_or_die(o->files[i], &snaps[i]);
    const mp_snapshot *cur = &snaps[o->n_files - 1], *old = diff ? &snaps[0] : NULL;
    mp_symbolizer *sym = mp_symbolizer_new();
    mp_stacktree t;
    mp_stacktree_init(&t);
    t.lines = o->lines;
    mp_stacktree_add_snapshot(&t, sym, cur, o->what, false);
    if (old)
        mp_stacktree_add_snapshot(&t, sym, old, o->what, true);
    mp_stacktree_layout(&t);
    int rc = MP_EXIT_USAGE;
    FILE *out = mp_opts_open_out(o);
    if (out) {
        mp_flame_svg_write(out, &t, o->what, old, cur);
        rc = mp_opts_close_out(o, out);
    }
    mp_stacktree_free(&t);
    mp_symbolizer_free(sym);
    for (size_t i = 0; i < o->n_files; i++)
        mp_snapshot_free(&snaps[i]);
    return rc;
}
