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
 *
 * life_fork_threaded plug LIB N PLUG: like "fail", but each child first
 * dlopens PLUG itself (a library the parent never loaded) and leaks
 * PLUG_BLOCKS blocks in its plug_b_leak. The churn thread then holds a
 * mutex across each dlopen/dl_iterate_phdr/dlclose, taken by a
 * pthread_atfork handler, as a program that dlopens in its children must:
 * glibc's own dlopen in the child needs the list lock the fork does not
 * reset. The shim's child still counts as a child of a threaded parent.
 * The churn sleeps 1 ms a cycle there: each dlopen of LIB is one more of
 * the shim's 8192 module records (never freed, for the generations), and
 * a full table would leave no record for the child's own PLUG.
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
#define PLUG_BLOCKS 5

static atomic_int stop;
static atomic_long loops;
static void *volatile sink;
static pthread_mutex_t churn_mu = PTHREAD_MUTEX_INITIALIZER;
static bool churn_locked;   /* plug mode: the atfork handlers hold churn_mu */

static void churn_lock(void) { pthread_mutex_lock(&churn_mu); }
static void churn_unlock(void) { pthread_mutex_unlock(&churn_mu); }

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
        if (churn_locked)
            churn_lock();
        void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen %s: %s\n", lib, dlerror());
            exit(2);
        }
        long n = 0;
        dl_iterate_phdr(count_phdrs, &n);
        dlclose(h);
        if (churn_locked) {
            churn_unlock();
            usleep(1000);   /* each cycle is a module record kept for ever */
        }
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

/* The child's own library: loaded here, never in the parent. */
static void plug_leak(const char *plug)
{
    void *h = dlopen(plug, RTLD_NOW | RTLD_LOCAL);
    void (*leak)(int) = h ? (void (*)(int))dlsym(h, "plug_b_leak") : NULL;
    if (!leak) {
        fprintf(stderr, "child: %s: %s\n", plug, dlerror());
        _exit(3);
    }
    leak(PLUG_BLOCKS);
}

static _Noreturn void child(bool fail, const char *plug)
{
    alarm(CHILD_ALARM_S);
    child_leak();
    if (plug)
        plug_leak(plug);
    if (fail)
        execl("/nonexistent/memprof-no-such-program", "none", (char *)NULL);
    else
        execl("/bin/true", "true", (char *)NULL);
    _exit(127);
}

int main(int argc, char **argv)
{
    bool plug = argc == 5 && strcmp(argv[1], "plug") == 0;
    if ((argc != 4 || (strcmp(argv[1], "fail") != 0 && strcmp(argv[1], "true") != 0)) && !plug) {
        fprintf(stderr, "usage: life_fork_threaded fail|true LIB N | plug LIB N PLUG\n");
        return 2;
    }
    bool fail = plug || strcmp(argv[1], "fail") == 0;
    churn_locked = plug;
    if (plug && pthread_atfork(churn_lock, churn_unlock, churn_unlock) != 0)
        return 2;
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
            child(fail, plug ? argv[4] : NULL);
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
