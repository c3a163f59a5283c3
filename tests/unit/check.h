/*
 * check.h - the unit tests' assertion macros. A failed CHECK prints the
 * location and the message and counts; the test goes on so one run shows
 * every failure, and CHECK_DONE() turns the count into the exit status.
 */
#ifndef MEMPROF_TEST_CHECK_H
#define MEMPROF_TEST_CHECK_H

#include <stdio.h>

static int check_failures;

#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            check_failures++;                                                            \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
        }                                                                                \
    } while (0)

#define CHECK_DONE()                                                                     \
    do {                                                                                 \
        if (check_failures) {                                                            \
            fprintf(stderr, "%d check(s) failed\n", check_failures);                     \
            return 1;                                                                    \
        }                                                                                \
        printf("all checks passed\n");                                                   \
        return 0;                                                                        \
    } while (0)

#endif
