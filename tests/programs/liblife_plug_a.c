/* liblife_plug_a.so - loaded and unloaded in a loop by life_dlopen; leaks
 * n blocks of 128 bytes in plug_a_leak, a frame inside this library. */
#include <stdlib.h>
#include <string.h>

void *volatile plug_a_sink;

__attribute__((noinline)) void plug_a_leak(int n)
{
    for (int i = 0; i < n; i++) {
        char *p = malloc(128);
        memset(p, 'a', 128);
        plug_a_sink = p;
    }
}
