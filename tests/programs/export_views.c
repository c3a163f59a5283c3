/*
 * export_views - shapes the flame graph, folded and pprof views must draw
 * right; argv[1] picks one, and each takes a snapshot (OLD) midway, the exit
 * snapshot being NEW:
 *   diff   views_grower holds 1 MiB at OLD and 11 MiB at NEW (+10 MiB, the
 *          big change); views_vanish holds 2 MiB at OLD and nothing at NEW;
 *          views_newbie appears at NEW with 64 KiB (new, but small).
 *   deep   10 MiB from views_wide, and 16 KiB at the bottom of a 1000-deep
 *          recursion of views_deep (about 2 px wide, 256 frames tall as
 *          captured at MEMPROF_DEPTH=256, so its stacks do not reach
 *          main); 4 KiB from views_asmall and 8 KiB from views_zsmall,
 *          which sort before and after views_wide: main's two narrow
 *          callees lie on either side of its wide one.
 *   lines  views_two_lines allocates 1 MiB on one line and 3 MiB on another.
 */
#include <stdlib.h>
#include <string.h>

#include "testprog.h"

#define MIB (1024 * 1024)

static void *hold(size_t n)
{
    void *p = malloc(n);
    if (!p)
        abort();
    tp_touch(p, n);
    return p;
}

TP_CULPRIT static void *views_grower(size_t n) { return hold(n); }
TP_CULPRIT static void *views_vanish(size_t n) { return hold(n); }
TP_CULPRIT static void *views_newbie(size_t n) { return hold(n); }
TP_CULPRIT static void *views_wide(size_t n) { return hold(n); }
TP_CULPRIT static void *views_asmall(size_t n) { return hold(n); }
TP_CULPRIT static void *views_zsmall(size_t n) { return hold(n); }

static void *volatile sink;

TP_CULPRIT static int views_deep(int depth)
{
    if (depth == 0) {
        sink = hold(16 * 1024);
        return 0;
    }
    volatile char live = (char)depth;   /* lives across the call: no loop */
    int r = views_deep(depth - 1);
    return r + live;
}

TP_CULPRIT static void views_two_lines(void **a, void **b)
{
    *a = malloc(1 * MIB);
    *b = malloc(3 * MIB);
    if (!*a || !*b)
        abort();
    tp_touch(*a, 1 * MIB);
    tp_touch(*b, 3 * MIB);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "diff") == 0) {
        void *g = views_grower(1 * MIB), *v = views_vanish(2 * MIB);
        tp_snapshot();
        free(v);
        void *g2 = views_grower(10 * MIB), *n = views_newbie(64 * 1024);
        tp_snapshot();
        free(g), free(g2), free(n);
    } else if (strcmp(mode, "deep") == 0) {
        void *a = views_asmall(4 * 1024), *w = views_wide(10 * MIB), *z = views_zsmall(8 * 1024);
        views_deep(1000);
        tp_snapshot();
        free(a), free(w), free(z);
    } else if (strcmp(mode, "lines") == 0) {
        void *a, *b;
        views_two_lines(&a, &b);
        tp_snapshot();
        free(a), free(b);
    } else {
        return 2;
    }
    return 0;
}
