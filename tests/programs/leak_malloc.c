/* Planted leak: plain malloc of mixed sizes in leak_plain_malloc. */
#include <stdlib.h>

#include "testprog.h"

TP_CULPRIT static void leak_plain_malloc(tp_tally *t, size_t bytes)
{
    uint64_t seed = 1;
    TP_LEAK_MIXED(t, bytes, &seed);
}

TP_PLANTED_MAIN(leak_plain_malloc)
