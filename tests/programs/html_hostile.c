/*
 * html_hostile - a function whose symbol is markup: the HTML report must
 * show the name as text, and nothing in it may end the page's data element,
 * open an element or run. The e2e test also starts this program with an
 * argv[0] full of markup, which reaches the page as the program name and
 * command line. The block stays live, so the exit snapshot names the
 * function (run it with MEMPROF_SAMPLE=1).
 */
#include <stdlib.h>

#include "testprog.h"

void hostile_site(size_t n)
    __asm__("\"</script><img src=x onerror=window.__pwned=1><!--<script>\"");

static void *sink;

TP_CULPRIT void hostile_site(size_t n)
{
    sink = malloc(n);
    if (!sink)
        abort();
    tp_touch(sink, n);
}

int main(void)
{
    hostile_site(4096);
    return 0;
}
