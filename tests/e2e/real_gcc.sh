#!/usr/bin/env bash
# gcc compiling and linking C files (the gcc -> cc1 -> as -> collect2 -> ld
# fork/exec chain), then running the result, with and without the shim.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

command -v gcc >/dev/null || fail "no gcc (run scripts/setup)"

prepare() {
    cat >util.c <<'C'
#include <stdlib.h>
#include <string.h>
char *repeat(const char *s, int n)
{
    size_t len = strlen(s);
    char *r = malloc(len * (size_t)n + 1);
    for (int i = 0; i < n; i++)
        memcpy(r + len * (size_t)i, s, len);
    r[len * (size_t)n] = 0;
    return r;
}
C
    cat >main.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
char *repeat(const char *s, int n);
int main(void)
{
    size_t total = 0;
    for (int i = 1; i <= 2000; i++) {
        char *r = repeat("abc", i % 97 + 1);
        total += strlen(r);
        free(r);
    }
    printf("total %zu\n", total);
    return 0;
}
C
}
real_run gcc 90 prepare -- bash -c 'gcc -O2 -g -Wall -c util.c && gcc -O2 -o prog main.c util.o && ./prog && gcc -pipe -O1 -o prog2 main.c util.c && ./prog2'
