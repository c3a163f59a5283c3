/*
 * life_deepbind LIB - dlopen(LIB, RTLD_DEEPBIND) and cross the allocator
 * boundary both ways many times: blocks from the library's malloc (unseen by
 * the shim) freed by the program, and blocks from the program's malloc
 * (seen) freed by the library (unseen), with address reuse in between.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    void *(*deep_alloc)(size_t) = (void *(*)(size_t))dlsym(h, "deep_alloc");
    void (*deep_free)(void *) = (void (*)(void *))dlsym(h, "deep_free");
    char *(*deep_dup)(const char *) = (char *(*)(const char *))dlsym(h, "deep_dup");
    if (!deep_alloc || !deep_free || !deep_dup)
        return 2;
    unsigned long sum = 0;
    for (int i = 0; i < 20000; i++) {
        size_t n = 16 + (size_t)(i % 700);
        char *p = deep_alloc(n);        /* library malloc, program free */
        sum += (unsigned char)p[n - 1];
        p = realloc(p, n * 2);          /* program realloc of a foreign block */
        free(p);
        char *q = malloc(n);            /* program malloc, library free */
        memset(q, 'm', n);
        sum += (unsigned char)q[0];
        deep_free(q);
        char *s = deep_dup("deepbind");
        sum += strlen(s);
        free(s);
    }
    dlclose(h);
    printf("sum %lu\n", sum);
    return 0;
}
