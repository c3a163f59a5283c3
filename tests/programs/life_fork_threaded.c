/*
 * life_fork_threaded MODE LIB N - fork children of a multi-threaded parent
 * whose second thread keeps the loader's list lock busy: it loops dlopen
 * of LIB, dl_iterate_phdr and dlclose, so at almost any fork some thread
 * of the parent holds the lock dl_iterate_phdr takes, which glibc's fork
 * does not reset in the child.
 *
 * The main thread forks N children one after the other. Each child leaks
 * CHILD_BLOCKS x CHILD_BLOCK bytes in child_leak(), then MODE "fail" execs
 * a program that does not exist and calls _exit(127) (what a worker does
 * after a failed exec: its exit snapshot), MODE "true" execs /bin/true
 * (its exec snapshot). A child that hangs is killed by its alarm. Prints
 * "children ok N" when every child ended as it should, else one line per
 * child that did not; the child pids go to stderr as "child <pid>".
 */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_BLOCKS 3
#define CHILD_BLOCK 10000
#define CHILD_ALARM_S 20

static atomic_int stop;
static atomic_long loops;
static void *volatile sink;

static int count_phdrs(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    *(long *)arg += info->dlpi_phnum;
    return 0;
}

static void *loader_churn(void *arg)
{
    const char *lib = arg;
    while (!atomic_load(&stop)) {
        void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen %s: %s\n", lib, dlerror());
            exit(2);
        }
        long n = 0;
        dl_iterate_phdr(count_phdrs, &n);
        dlclose(h);
        atomic_fetch_add(&loops, 1);
    }
    return NULL;
}

__attribute__((noinline)) static void child_leak(void)
{
    for (int i = 0; i < CHILD_BLOCKS; i++) {
        char *p = malloc(CHILD_BLOCK);
        memset(p, 4, CHILD_BLOCK);
        sink = p;
    }
}

static _Noreturn void child(bool fail)
{
    alarm(CHILD_ALARM_S);
    child_leak();
    if (fail)
        execl("/nonexistent/memprof-no-such-program", "none", (char *)NULL);
    else
        execl("/bin/true", "true", (char *)NULL);
    _exit(127);
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "fail") != 0 && strcmp(argv[1], "true") != 0)) {
        fprintf(stderr, "usage: life_fork_threaded fail|true LIB N\n");
        return 2;
    }
    bool fail = strcmp(argv[1], "fail") == 0;
    int n = atoi(argv[3]), ok = 0;
    pthread_t t;
    if (pthread_create(&t, NULL, loader_churn, argv[2]) != 0)
        return 2;
    while (atomic_load(&loops) < 10)   /* the churn is under way */
        usleep(1000);
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0)
            child(fail);
        fprintf(stderr, "child %d\n", (int)pid);
        int st;
        if (waitpid(pid, &st, 0) != pid) {
            perror("waitpid");
            return 2;
        }
        int want = fail ? 127 : 0;
        if (WIFEXITED(st) && WEXITSTATUS(st) == want)
            ok++;
        else if (WIFSIGNALED(st))
            printf("child %d killed by signal %d%s\n", i, WTERMSIG(st),
                   WTERMSIG(st) == SIGALRM ? " (hung)" : "");
        else
            printf("child %d exited %d, expected %d\n", i, WEXITSTATUS(st), want);
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("children ok %d\n", ok);
    return ok == n ? 0 : 1;
}
