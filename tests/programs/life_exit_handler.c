/*
 * life_exit_handler.c - a single-threaded program that allocates and frees
 * without pause until a SIGALRM handler calls exit(0), after argv[1]
 * microseconds (default 3000). Not async-signal-safe by POSIX, and
 * programs do it anyway: under the shim at MEMPROF_SAMPLE=1 the handler
 * lands inside the shim's own work on nearly every run (the fold of an
 * event, with the consumer lock held, on a program without a collector
 * thread), and the exit snapshot must still be written, without waiting
 * for what the interrupted code holds.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>

static void on_alarm(int sig)
{
    (void)sig;
    exit(0);
}

int main(int argc, char **argv)
{
    long us = argc > 1 ? atol(argv[1]) : 3000;
    signal(SIGALRM, on_alarm);
    struct itimerval it = {{0, 0}, {us / 1000000, us % 1000000}};
    setitimer(ITIMER_REAL, &it, NULL);
    void *slot[64] = {0};
    for (unsigned long i = 0;; i++) {
        unsigned k = (unsigned)(i * 2654435761u) >> 26;
        free(slot[k]);
        slot[k] = malloc(16 + (i & 1023));
    }
}
