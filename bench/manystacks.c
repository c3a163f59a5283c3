/*
 * bench/manystacks.c - allocate from N distinct call stacks, for
 * scripts/bench-analyzer.
 *
 *   manystacks N [SIGNAL_AT_HALF]
 *
 * Path i (0 <= i < N) is spelled in base 10 with six digits; each digit
 * picks one of ten functions f0..f9 for one level of recursion, below a
 * fixed chain of twelve pad frames. Every path therefore has a distinct
 * stack about 20 frames deep, and its leaf allocates one object that stays
 * live (every call is kept out of tail position, so no frame is lost). Run under MEMPROF_SAMPLE=1 so that every stack is recorded. With a
 * second argument of 1 the program raises SIGUSR2 once half the paths are
 * done and pauses two seconds (run with MEMPROF_SIGNAL=USR2), so that a
 * first snapshot holds N/2 stacks and the exit snapshot N.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, used))

typedef unsigned long (*fn)(int level, unsigned long path);
static fn tab[10];
static void **objs;
static unsigned long nobj;

static NOINLINE unsigned long leaf(unsigned long path)
{
    void *p = malloc(24 + path % 97);
    objs[nobj++] = p;
    return (unsigned long)p & 1;
}

#define F(n)                                                     \
    static NOINLINE unsigned long f##n(int level, unsigned long path) \
    {                                                            \
        unsigned long v = level == 0 ? leaf(path)                \
                                     : tab[path % 10](level - 1, path / 10); \
        __asm__ volatile("" : "+r"(v));                          \
        return v + n;                                            \
    }
F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9)

static NOINLINE unsigned long pad(int k, unsigned long path, unsigned long orig)
{
    unsigned long v = k ? pad(k - 1, path, orig) : tab[path % 10](5, path / 10);
    __asm__ volatile("" : "+r"(v));
    return v + (orig & 1);
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    int sig_half = argc > 2 && atoi(argv[2]) == 1;
    fn t[10] = {f0, f1, f2, f3, f4, f5, f6, f7, f8, f9};
    for (int i = 0; i < 10; i++)
        tab[i] = t[i];
    objs = calloc(n + 1, sizeof *objs);
    if (!objs)
        return 1;
    unsigned long sum = 0;
    for (unsigned long i = 0; i < n; i++) {
        /* path i: six digits select the functions; the leaf size varies too */
        sum += pad(12, i * 10 + (i / 100000) % 10, i);
        if (sig_half && i + 1 == n / 2) {
            raise(SIGUSR2);
            sleep(2);
        }
    }
    printf("manystacks %lu objects, %lu\n", nobj, sum);
    return 0;
}
