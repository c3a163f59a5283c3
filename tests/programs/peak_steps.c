/*
 * The heap over time: climb_steps allocates STEP every 100 ms for 1.5 s,
 * then everything is freed and the program idles 0.5 s before exiting.
 * The exit snapshot's series must show the climb and the fall at a few
 * points a second, and the peak must be the top of the climb (STEPS line:
 * the bytes held at the top).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "testprog.h"

#define STEPS 15
#define STEP (8 * MiB)
#define BLOCK (64 * 1024)

static void *blocks[STEPS * (STEP / BLOCK)];

static void nap_ms(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000}, NULL);
}

TP_CULPRIT static void climb_steps(void)
{
    size_t n = 0;
    for (int s = 0; s < STEPS; s++) {
        for (size_t i = 0; i < STEP / BLOCK; i++) {
            blocks[n] = malloc(BLOCK);
            if (!blocks[n])
                abort();
            tp_touch(blocks[n++], BLOCK);
        }
        nap_ms(100);
    }
}

int main(void)
{
    climb_steps();
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
        free(blocks[i]);
    nap_ms(500);
    printf("STEPS bytes=%zu\n", (size_t)STEPS * STEP);
    return 0;
}
