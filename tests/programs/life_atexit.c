/*
 * life_atexit - allocation during exit: an atexit handler leaks exactly
 * 3 x 7000 bytes in atexit_leak (it runs before the shared-object
 * destructors, so the exit snapshot must hold it), a destructor of the
 * program allocates, and a thread keeps allocating through exit until the
 * process is gone, so allocations also arrive after the shim's final
 * snapshot. liblife_late.so, when preloaded too, allocates in its own
 * destructor. Output is written before exit; the exit status is 0.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile sink;

__attribute__((noinline)) static void atexit_leak(void)
{
    for (int i = 0; i < 3; i++) {
        char *p = malloc(7000);
        memset(p, 1, 7000);
        sink = p;
    }
    void *t = malloc(100);
    free(t);
    static const char msg[] = "atexit handler ran\n";
    if (write(1, msg, sizeof(msg) - 1) < 0)
        _exit(9);
}

__attribute__((destructor)) static void program_destructor(void)
{
    char *p = malloc(333);
    memset(p, 2, 333);
    free(p);
    p = strdup("destructor");
    sink = p;
    static const char msg[] = "program destructor ran\n";
    if (write(1, msg, sizeof(msg) - 1) < 0)
        _exit(9);
}

static void *spinner(void *arg)
{
    (void)arg;
    for (;;) {   /* until exit_group takes the process down */
        void *p = malloc(64);
        sink = p;
        free(p);
    }
    return NULL;
}

int main(void)
{
    atexit(atexit_leak);
    pthread_t t;
    pthread_create(&t, NULL, spinner, NULL);
    usleep(20 * 1000);
    printf("main returns\n");
    fflush(stdout);
    return 0;
}
