/*
 * life_oom - exhausts memory under an address-space limit and checks that
 * every failing allocation call fails the way glibc's does: NULL (or
 * ENOMEM) with errno ENOMEM, realloc leaving the old block intact, and that
 * allocation works again once memory is freed. Prints one line per check
 * ("ok ..." or "FAIL ...") and exits 1 if any failed. The limit is raised
 * only by LIMIT_MB (default 512) over what is mapped at start, so the
 * shim's own reservations are not what runs out.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static int failed;
/* volatile: sizes the compiler must not reason about (no -Walloc-size warnings) */
static volatile size_t huge = SIZE_MAX, half = SIZE_MAX / 2, near_max = SIZE_MAX - 4095;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "ok" : "FAIL", what);
    if (!ok)
        failed = 1;
}

static size_t vm_size(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return pages * 4096;
}

int main(void)
{
    const char *lim = getenv("LIMIT_MB");
    size_t limit = vm_size() + (size_t)(lim ? atoi(lim) : 512) * 1024 * 1024;
    struct rlimit rl = {limit, limit};
    if (setrlimit(RLIMIT_AS, &rl) != 0) {
        perror("setrlimit");
        return 2;
    }
    /* Exhaust with 1 MiB blocks (mmapped by malloc), then small ones. */
    enum { MAXB = 4096 };
    static void *blocks[MAXB];
    int n = 0;
    errno = 0;
    while (n < MAXB && (blocks[n] = malloc(1 << 20)) != NULL)
        n++;
    check(n > 0 && n < MAXB && errno == ENOMEM, "malloc(1 MiB) fails with ENOMEM under the limit");
    void **small = NULL;
    size_t ns = 0;
    for (;;) {
        void **p = malloc(4000);
        if (!p)
            break;
        *p = small;
        small = p;
        ns++;
    }
    check(ns > 0, "small blocks until exhaustion");
    /* Every entry point, out of memory and with impossible sizes. */
    errno = 0;
    check(malloc(huge) == NULL && errno == ENOMEM, "malloc(huge) is NULL, ENOMEM");
    errno = 0;
    check(malloc(1 << 20) == NULL && errno == ENOMEM, "malloc(1 MiB) stays NULL");
    errno = 0;
    check(calloc(half, 4) == NULL && errno == ENOMEM, "calloc overflow is NULL, ENOMEM");
    errno = 0;
    check(calloc(1, 1 << 20) == NULL, "calloc(1 MiB) is NULL");
    check(reallocarray(NULL, half, 4) == NULL && errno == ENOMEM,
          "reallocarray overflow is NULL, ENOMEM");
    void *out = (void *)0x1;
    int rc = posix_memalign(&out, 64, half);
    check(rc == ENOMEM && out == (void *)0x1, "posix_memalign huge is ENOMEM, out untouched");
    errno = 0;
    check(aligned_alloc(64, near_max) == NULL, "aligned_alloc huge is NULL");
    errno = 0;
    check(memalign(4096, half) == NULL, "memalign huge is NULL");
    check(valloc(half) == NULL, "valloc huge is NULL");
    check(pvalloc(half) == NULL, "pvalloc huge is NULL");
    /* realloc failing keeps the old block */
    char *volatile keep = (char *)small;   /* a live 4000-byte block */
    memset(keep + sizeof(void *), 'k', 100);
    errno = 0;
    char *r = realloc(keep, 1u << 30);
    check(r == NULL && errno == ENOMEM, "realloc to 1 GiB is NULL, ENOMEM");
    int intact = 1;
    for (int i = 0; i < 100; i++)
        intact &= keep[sizeof(void *) + (size_t)i] == 'k';
    check(intact, "realloc failure leaves the old block intact");
    /* Free everything: allocation works again. */
    for (int i = 0; i < n; i++)
        free(blocks[i]);
    small = (void **)keep;   /* realloc failed: still the same live block */
    while (small) {
        void **next = *small;
        free(small);
        small = next;
    }
    void *again = malloc(1 << 20);
    check(again != NULL, "malloc works again after freeing");
    free(again);
    return failed;
}
