/*
 * idle_sleep SECONDS [THREADS [STOPFILE]] - a program that does nothing:
 * allocates a little (so the shim has something to hold), starts THREADS
 * (default 0) threads that block on a condition variable, prints "ready",
 * then sleeps SECONDS in one-second naps, allocating and freeing 64 bytes
 * after each (the sampled rate of a quiet server: far below a ring's
 * wake-up threshold), and exits 0; sooner, after the nap in which
 * STOPFILE appears (so a test's window cannot outlast the program however
 * slowly a loaded machine runs the test). tests/e2e/idle_wakeups.sh counts the shim's
 * wake-ups meanwhile; scripts/bench's `idle` row its CPU time.
 * With IDLE_SLEEP_TITLE=1 in its environment it first writes a title over
 * its arguments and environment and zeroes the rest, as nginx's and
 * postgres's setproctitle do (tests/e2e/life_solo.sh).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *volatile sink;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static int done;

static void *blocked_worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!done)
        pthread_cond_wait(&never, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;
}

extern char **environ;

static void write_title(char **argv)
{
    char *end = argv[0] + strlen(argv[0]);
    for (char **a = argv; *a; a++)
        end = *a + strlen(*a);
    for (char **e = environ; *e; e++)
        end = *e + strlen(*e);
    const char title[] = "idle_sleep: titled";
    size_t room = (size_t)(end - argv[0]);
    size_t n = sizeof(title) - 1 < room ? sizeof(title) - 1 : room;
    memcpy(argv[0], title, n);
    memset(argv[0] + n, 0, room - n);
}

__attribute__((noinline)) static void idle_keep(void)
{
    sink = malloc(100000);
    memset(sink, 1, 100000);
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 10;
    int threads = argc > 2 ? atoi(argv[2]) : 0;
    const char *stopfile = argc > 3 ? argv[3] : NULL;
    pthread_t tids[64];
    if (threads > 64)
        threads = 64;
    const char *titled = getenv("IDLE_SLEEP_TITLE");
    if (titled && strcmp(titled, "1") == 0) {
        stopfile = stopfile ? strdup(stopfile) : NULL;   /* argv is written over */
        write_title(argv);
    }
    idle_keep();
    for (int i = 0; i < threads; i++)
        pthread_create(&tids[i], NULL, blocked_worker, NULL);
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < seconds; i++) {
        struct timespec one = {1, 0};
        nanosleep(&one, NULL);
        sink = malloc(64);   /* through sink: the compiler drops free(malloc(n)) */
        free(sink);
        if (stopfile && access(stopfile, F_OK) == 0)
            break;
    }
    pthread_mutex_lock(&lock);
    done = 1;
    pthread_cond_broadcast(&never);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < threads; i++)
        pthread_join(tids[i], NULL);
    return 0;
}
