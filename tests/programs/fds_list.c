/*
 * fds_list MODE - what a program sees of its own descriptors must be the
 * same under the shim as without it (SPEC "Safety in someone else's
 * process": the shim holds no descriptor the program can see outside the
 * moment of a snapshot write; issue 16 item 2).
 *
 *   solo       lists /proc/self/fd, allocates a lot (with MEMPROF_SAMPLE=1
 *              every block is sampled and unwound, some from a signal
 *              handler, whose frame sends libunwind through its checked
 *              memory reads and so its pipe), lists again;
 *   threads    the same with four threads allocating meanwhile (so the
 *              collector thread runs), listed while they run and after;
 *   passfds    like CPython's test_pass_fds_redirected: closes every
 *              descriptor from 3 up, puts a pipe's end on 5, starts
 *              threads (the collector runs), then runs itself as
 *              `fds_list child` through execv, which checks that it has
 *              exactly 0, 1, 2 and 5 (before and after allocating);
 *   daemon [PIDFILE]  forks; the child writes its pid into PIDFILE,
 *              starts a thread, allocates, closes its stdout and stderr
 *              and lives 30 s more (the test kills it sooner); the parent
 *              exits at once. Whoever reads the pipe on stdout must see EOF
 *              when the daemon closes it, while the daemon still lives.
 * Each list is printed as "LABEL: fd fd fd..." (the directory's own
 * descriptor left out); solo and threads end with "fds same" when every
 * list was equal, or "fds differ" and exit 1.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *volatile sink;
static volatile sig_atomic_t in_handler;

/* "0 1 2 ..." of /proc/self/fd into buf. */
static void list_fds(char *buf, size_t cap)
{
    buf[0] = '\0';
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        snprintf(buf, cap, "(cannot open /proc/self/fd)");
        return;
    }
    int self = dirfd(d), fds[1024], n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.' && atoi(e->d_name) != self && n < 1024)
            fds[n++] = atoi(e->d_name);
    closedir(d);
    for (int i = 1; i < n; i++)   /* insertion sort: few entries */
        for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
            int t = fds[j];
            fds[j] = fds[j - 1];
            fds[j - 1] = t;
        }
    size_t len = 0;
    for (int i = 0; i < n && len + 12 < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, i ? " %d" : "%d", fds[i]);
}

__attribute__((noinline)) static void fds_alloc(int n)
{
    for (int i = 0; i < n; i++) {
        void *p = malloc(32 + (size_t)i % 2000);
        sink = p;
        if (i % 4)
            free(p);
    }
}

static void on_usr1(int sig)
{
    (void)sig;
    in_handler = 1;
    fds_alloc(200);   /* unwound through the signal frame */
    in_handler = 0;
}

/* A lot of sampled allocations, some of them in a signal handler. */
static void churn(void)
{
    for (int round = 0; round < 20; round++) {
        fds_alloc(5000);
        raise(SIGUSR1);
    }
}

static void *churn_thread(void *arg)
{
    (void)arg;
    churn();
    return NULL;
}

static int compare_runs(int threads)
{
    char before[4096], during[4096], after[4096];
    list_fds(before, sizeof(before));
    printf("before: %s\n", before);
    pthread_t t[4];
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, churn_thread, NULL);
    churn();
    list_fds(during, sizeof(during));
    printf("during: %s\n", during);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    churn();
    list_fds(after, sizeof(after));
    printf("after: %s\n", after);
    bool same = strcmp(before, during) == 0 && strcmp(before, after) == 0;
    printf("fds %s\n", same ? "same" : "differ");
    return same ? 0 : 1;
}

static int child_check(void)
{
    char got[4096];
    int bad = 0;
    for (int round = 0; round < 2; round++) {
        list_fds(got, sizeof(got));
        printf("child %s: %s\n", round ? "after" : "before", got);
        bad |= strcmp(got, "0 1 2 5") != 0;
        churn();
    }
    printf("child fds %s\n", bad ? "differ" : "as passed");
    return bad;
}

static void *idle_thread(void *arg)
{
    (void)arg;
    pause();
    return NULL;
}

static int pass_fds(const char *self)
{
    int p[2];
    if (pipe(p) != 0)
        return 2;
    /* p[1] goes to 5; everything else from 3 up is closed, as
     * subprocess does with close_fds=True and pass_fds=(5,) */
    if (dup2(p[1], 100) < 0)
        return 2;
    syscall(SYS_close_range, 3u, 99u, 0u);
    if (dup2(100, 5) != 5)
        return 2;
    syscall(SYS_close_range, 6u, ~0u, 0u);
    pthread_t t;
    pthread_create(&t, NULL, idle_thread, NULL);
    churn();
    fflush(stdout);
    execl(self, self, "child", (char *)NULL);
    return 3;
}

static int daemon_mode(const char *pidfile)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid != 0)
        return pid < 0 ? 2 : 0;   /* the parent leaves at once */
    setsid();
    if (pidfile) {
        FILE *f = fopen(pidfile, "w");
        if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0)
            _exit(2);
    }
    pthread_t t;
    pthread_create(&t, NULL, churn_thread, NULL);
    pthread_join(t, NULL);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    close(null);
    sleep(30);
    _exit(0);
}

int main(int argc, char **argv)
{
    if (argc != 2 && !(argc == 3 && strcmp(argv[1], "daemon") == 0))
        goto usage;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    if (strcmp(argv[1], "solo") == 0)
        return compare_runs(0);
    if (strcmp(argv[1], "threads") == 0)
        return compare_runs(4);
    if (strcmp(argv[1], "passfds") == 0)
        return pass_fds(argv[0]);
    if (strcmp(argv[1], "child") == 0)
        return child_check();
    if (strcmp(argv[1], "daemon") == 0)
        return daemon_mode(argc == 3 ? argv[2] : NULL);
usage:
    fprintf(stderr, "usage: fds_list solo|threads|passfds|daemon [PIDFILE]\n");
    return 2;
}
