/*
 * html_manystacks - one snapshot holding 100,000 distinct allocation
 * stacks, for the size of a `memprof html` page: each stack is a path of
 * LEVELS calls through four functions (ms_a..ms_d, picked by the base-4
 * digits of the path number), ending in a 64-byte block that stays live.
 * Beside them, ms_culprit holds 8 MiB, more than all the small blocks
 * together. Each small stack is 0.0004% of the live heap, so the page's
 * call trees fold everything below the fourth level into "(n small
 * frames)" nodes, while `memprof folded` lists every stack.
 */
#include <stdlib.h>

#include "testprog.h"

#define STACKS 100000
#define LEVELS 9            /* 4^9 = 262144 paths, STACKS of them taken */
#define SMALL 64
#define CULPRIT_BYTES (8u << 20)

static void *blocks[STACKS];
static size_t n_blocks;
static volatile int after_call;   /* keeps each call a call, not a jump */

typedef void step_fn(unsigned path, int level);
static step_fn ms_a, ms_b, ms_c, ms_d;
static step_fn *const steps[4] = {ms_a, ms_b, ms_c, ms_d};

static void step(unsigned path, int level)
{
    if (level == LEVELS) {
        void *p = malloc(SMALL);
        if (!p)
            abort();
        tp_touch(p, SMALL);
        blocks[n_blocks++] = p;
        return;
    }
    steps[(path >> (2 * level)) & 3](path, level + 1);
    after_call++;
}

TP_CULPRIT static void ms_a(unsigned path, int level) { step(path, level); after_call++; }
TP_CULPRIT static void ms_b(unsigned path, int level) { step(path, level); after_call++; }
TP_CULPRIT static void ms_c(unsigned path, int level) { step(path, level); after_call++; }
TP_CULPRIT static void ms_d(unsigned path, int level) { step(path, level); after_call++; }

TP_CULPRIT static void *ms_culprit(void)
{
    void *p = malloc(CULPRIT_BYTES);
    if (!p)
        abort();
    tp_touch(p, CULPRIT_BYTES);
    return p;
}

int main(void)
{
    void *big = ms_culprit();
    for (unsigned i = 0; i < STACKS; i++)
        step(i, 0);
    tp_snapshot();
    for (size_t i = 0; i < n_blocks; i++)
        free(blocks[i]);
    free(big);
    return 0;
}
