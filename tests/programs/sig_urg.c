/*
 * sig_urg.c - a program that uses SIGURG itself, the shim's doorbell
 * signal (tests/e2e/sig_urg.sh). The collector reads its doorbell through
 * a signalfd, which also dequeues process-directed signals: these must
 * still reach the program.
 *
 *   sig_urg oob N [hold]  a TCP server told of out-of-band data by SIGURG
 *                         (F_SETOWN to the process, handler on the main
 *                         thread, as telnetd and ftpd are); a second thread
 *                         sends N OOB bytes, one at a time, each waited for
 *                         (0.5 s) while it allocates. Then it leaks 100 blocks
 *                         of 4000 bytes in oob_leak and prints
 *                         "unnoticed M of N"; with hold, "holding" and
 *                         sleeps 30 s (a request may come). Exit 0 iff M=0.
 *   sig_urg wait          every thread blocks SIGURG; main sends it to the
 *                         process three times and waits for each with
 *                         sigtimedwait (5 s) while a thread allocates;
 *                         prints "got K of 3", exit 0 iff K=3.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "support/testprog.h"

static volatile sig_atomic_t hits;
static int client_fd, rounds;
static bool hold;
static void *volatile sink[100];

static void on_urg(int sig)
{
    (void)sig;
    hits++;
}

static void urg_churn(int n)
{
    for (int i = 0; i < n; i++) {
        void *volatile p = malloc(64 + (size_t)(i % 512));
        free(p);
    }
}

TP_CULPRIT static void oob_leak(void)
{
    for (int i = 0; i < 100; i++)
        sink[i] = malloc(4000);
}

static void *oob_sender(void *arg)
{
    (void)arg;
    int missed = 0;
    for (int i = 0; i < rounds; i++) {
        sig_atomic_t before = hits;
        if (send(client_fd, "!", 1, MSG_OOB) != 1) {
            perror("send");
            exit(2);
        }
        for (int w = 0; hits == before && w < 500; w++) {
            urg_churn(20);
            usleep(1000);
        }
        missed += hits == before;
    }
    oob_leak();
    printf("unnoticed %d of %d\n", missed, rounds);
    fflush(stdout);
    if (hold) {
        printf("holding\n");
        fflush(stdout);
        sleep(30);
    }
    exit(missed ? 1 : 0);
}

static int oob_main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_urg;
    sigaction(SIGURG, &sa, NULL);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in ad = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(ad);
    if (l < 0 || bind(l, (struct sockaddr *)&ad, sizeof(ad)) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&ad, &len) != 0) {
        perror("listen");
        return 2;
    }
    client_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client_fd, (struct sockaddr *)&ad, sizeof(ad)) != 0) {
        perror("connect");
        return 2;
    }
    int s = accept(l, NULL, NULL);
    fcntl(s, F_SETOWN, getpid());
    /* Only the main thread takes SIGURG, as a server that handles it
     * where it polls. */
    sigset_t urg;
    sigemptyset(&urg);
    sigaddset(&urg, SIGURG);
    pthread_sigmask(SIG_BLOCK, &urg, NULL);
    pthread_t t;
    pthread_create(&t, NULL, oob_sender, NULL);
    pthread_sigmask(SIG_UNBLOCK, &urg, NULL);
    for (;;) {
        char c;
        pause();
        while (recv(s, &c, 1, MSG_OOB | MSG_DONTWAIT) == 1)
            ;
    }
}

static void *wait_worker(void *arg)
{
    (void)arg;
    for (;;) {
        urg_churn(200);
        usleep(1000);
    }
    return NULL;
}

static int wait_main(void)
{
    sigset_t urg;
    sigemptyset(&urg);
    sigaddset(&urg, SIGURG);
    pthread_sigmask(SIG_BLOCK, &urg, NULL);   /* inherited: every thread */
    pthread_t t;
    pthread_create(&t, NULL, wait_worker, NULL);
    usleep(100000);   /* the collector runs */
    int got = 0;
    for (int i = 0; i < 3; i++) {
        struct timespec to = {5, 0};
        kill(getpid(), SIGURG);
        got += sigtimedwait(&urg, NULL, &to) == SIGURG;
    }
    printf("got %d of 3\n", got);
    fflush(stdout);
    _exit(got == 3 ? 0 : 1);   /* the worker never ends */
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "oob") == 0) {
        rounds = atoi(argv[2]);
        hold = argc >= 4 && strcmp(argv[3], "hold") == 0;
        return oob_main();
    }
    if (argc == 2 && strcmp(argv[1], "wait") == 0)
        return wait_main();
    fprintf(stderr, "usage: sig_urg oob N [hold] | sig_urg wait\n");
    return 2;
}
