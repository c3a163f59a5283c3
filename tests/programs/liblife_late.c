/* liblife_late.so - preloaded by life_atexit.sh after the shim, so that its
 * destructor runs after the shim's (LD_DEBUG=files shows the fini order):
 * allocation after the final snapshot must still work. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((destructor)) static void late_destructor(void)
{
    char *p = malloc(1000);
    memset(p, 3, 1000);
    p = realloc(p, 5000);
    free(p);
    p = calloc(10, 10);
    free(p);
    static const char msg[] = "late destructor ran\n";
    if (write(1, msg, sizeof(msg) - 1) < 0)
        _exit(9);
}
