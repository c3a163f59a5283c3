/* liblife_plug_b.so - like liblife_plug_a.so, but 256-byte blocks in
 * plug_b_leak, and extra code so the two functions sit at different
 * offsets: when b is mapped where a was, addresses must not be confused. */
#include <stdlib.h>
#include <string.h>

void *volatile plug_b_sink;

__attribute__((noinline)) int plug_b_padding(int x)
{
    int r = 0;
    for (int i = 0; i < x; i++)
        r += i * x ^ (r >> 3);
    return r;
}

__attribute__((noinline)) void plug_b_leak(int n)
{
    for (int i = 0; i < n; i++) {
        char *p = malloc(256);
        memset(p, 'b', 256);
        plug_b_sink = p;
    }
}
