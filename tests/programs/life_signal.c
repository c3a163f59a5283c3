/*
 * life_signal - signal handlers that allocate, delivered while the shim's
 * hooks run. A 100 us SIGALRM timer is delivered only to thread A (the other
 * threads block it). Thread A never calls glibc's allocator outside the
 * handler (that alone could self-deadlock in glibc, shim or not), and blocks
 * the signal before it exits (thread exit frees its tcache); it spins
 * through the shim's lock hooks (a mutex contended with thread B, a rwlock)
 * and free(NULL). The handler mallocs, callocs, reallocs and frees, takes a
 * handler-only mutex, and leaks one 48-byte block in handler_leak for each of
 * its first 256 runs. Thread B allocates and locks hard; when MEMPROF_SIGNAL
 * is set the program also raises SIGUSR2 at itself now and then, so
 * snapshots are requested mid-allocation. Bounded by iteration counts.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define A_ROUNDS 3000000L
#define B_ROUNDS 400000L

static atomic_int deliveries;
static pthread_mutex_t contended = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static void *volatile sink;
static void *volatile leaked[256];   /* volatile: the compiler must not drop the malloc */

__attribute__((noinline)) static void handler_leak(int k)
{
    leaked[k] = malloc(48);
}

static void on_alarm(int sig)
{
    (void)sig;
    void *p = malloc(200);
    sink = p;
    free(p);
    void *q = calloc(3, 40);
    q = realloc(q, 500);
    free(q);
    pthread_mutex_lock(&handler_lock);
    int k = atomic_fetch_add(&deliveries, 1);
    if (k < 256)
        handler_leak(k);
    pthread_mutex_unlock(&handler_lock);
}

static void *thread_a(void *arg)
{
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    for (long i = 0; i < A_ROUNDS; i++) {
        pthread_mutex_lock(&contended);
        pthread_mutex_unlock(&contended);
        if (i % 4 == 0) {
            pthread_rwlock_rdlock(&rw);
            pthread_rwlock_unlock(&rw);
        }
        free(NULL);
    }
    /* Thread exit frees this thread's tcache through glibc's free; a handler
     * that mallocs on top of that would deadlock in glibc itself. */
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    return NULL;
}

static void *thread_b(void *arg)
{
    (void)arg;
    int raise_usr2 = getenv("MEMPROF_SIGNAL") != NULL;
    for (long i = 0; i < B_ROUNDS; i++) {
        void *p = malloc(16 + (size_t)(i % 2000));
        pthread_mutex_lock(&contended);
        sink = p;
        pthread_mutex_unlock(&contended);
        free(p);
        if (i % 8 == 0) {
            pthread_rwlock_wrlock(&rw);
            pthread_rwlock_unlock(&rw);
        }
        if (raise_usr2 && i % 50000 == 0)
            kill(getpid(), SIGUSR2);
    }
    return NULL;
}

int main(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &s, NULL);   /* inherited by thread B */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    pthread_t a, b;
    pthread_create(&a, NULL, thread_a, NULL);
    pthread_create(&b, NULL, thread_b, NULL);
    struct itimerval it = {{0, 100}, {0, 100}};
    setitimer(ITIMER_REAL, &it, NULL);
    pthread_join(a, NULL);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    pthread_join(b, NULL);
    int d = atomic_load(&deliveries);
    printf("signal handlers ran: %s\n", d > 0 ? "yes" : "no");
    fprintf(stderr, "handler_leak blocks=%d\n", d < 256 ? d : 256);
    return 0;
}
