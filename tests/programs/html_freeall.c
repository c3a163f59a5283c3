/*
 * html_freeall - a program whose exit snapshot holds no live heap: it
 * allocates in html_temporary, takes a snapshot while the blocks are live,
 * then frees every one of them before it returns. The HTML report's live
 * heap flame graph of the exit snapshot must say it has no data.
 */
#include <stdlib.h>

#include "testprog.h"

#define BLOCKS 256

static void *blocks[BLOCKS];

TP_CULPRIT static void html_temporary(void)
{
    uint64_t seed = 5;
    for (int i = 0; i < BLOCKS; i++) {
        size_t s = tp_mixed_size(&seed);
        blocks[i] = malloc(s);
        if (!blocks[i])
            abort();
        tp_touch(blocks[i], s);
    }
}

int main(void)
{
    html_temporary();
    tp_snapshot();
    for (int i = 0; i < BLOCKS; i++)
        free(blocks[i]);
    return 0;
}
