/*
 * term_hostile - functions whose symbols carry terminal escapes (an OSC
 * that retitles the terminal, a CSI that clears it, and C1's CSI in
 * UTF-8): a symbol name is whatever bytes the ELF and DWARF files hold.
 * The OLD snapshot (tp_snapshot) comes before the leak; the leak stays
 * live for the exit snapshot; two threads contend a mutex inside the
 * other hostile function, so locks and diff name them too. Run it with
 * MEMPROF_SAMPLE=1 and MEMPROF_SIGNAL=USR2.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "testprog.h"

void hostile_leak(size_t n) __asm__("\"leak\x1b]0;pwned\x07\x1b[2J\xc2\x9bsite\"");
void *hostile_lock(void *arg) __asm__("\"lock\x1b[31mred\x1b[0msite\"");

void *volatile sink;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

TP_CULPRIT void hostile_leak(size_t n)
{
    sink = malloc(n);
    if (!sink)
        abort();
    tp_touch(sink, n);
}

TP_CULPRIT void *hostile_lock(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&mu);
        struct timespec ms = {0, 200000};
        nanosleep(&ms, NULL);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

int main(void)
{
    tp_snapshot();
    hostile_leak(1 << 20);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, hostile_lock, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    return 0;
}
