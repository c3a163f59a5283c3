/*
 * life_taskcheck - a single-threaded program that counts its own threads
 * the ways sandboxes do before they sandbox themselves, after allocating
 * (every allocation sampled under MEMPROF_SAMPLE=1):
 *   stat("/proc/self/task")                st_nlink 3 (Firefox)
 *   fstatat(/proc's fd, "self/task/")      st_nlink 3 (Chromium's zygote)
 *   opendir("/proc/<pid>/task")            one entry
 *
 *   life_taskcheck stat [SIG]   the three checks, then allocates for 1.5 s
 *                               (raising SIG first when given): the
 *                               shim's periodic or signalled snapshots
 *                               must still come
 *   life_taskcheck joined       as stat, after a thread was created and
 *                               joined (single-threaded again), twice
 *   life_taskcheck clone        children made without the fork handlers,
 *                               by clone() without CLONE_VM and by
 *                               _Fork(), allocate and exit 0
 *
 * Prints "taskcheck ok" and exits 0, or names what failed and exits 1.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *volatile sink;

__attribute__((noinline)) static void taskcheck_alloc(int n)
{
    for (int i = 0; i < n; i++) {
        sink = malloc(64 + (size_t)(i & 255));
        free(sink);
    }
}

static int fail(const char *what)
{
    printf("FAIL: %s\n", what);
    return 1;
}

static int checks(void)
{
    struct stat st;
    if (stat("/proc/self/task", &st) != 0 || st.st_nlink != 3)
        return fail("stat(/proc/self/task) counts more than one thread");
    int proc = open("/proc", O_RDONLY | O_DIRECTORY);
    if (proc < 0 || fstatat(proc, "self/task/", &st, 0) != 0 || st.st_nlink != 3)
        return fail("fstatat(/proc, self/task/) counts more than one thread");
    close(proc);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)getpid());
    DIR *d = opendir(path);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    if (n != 1)
        return fail("opendir(/proc/PID/task) lists more than one thread");
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int child_main(void *arg)
{
    (void)arg;
    taskcheck_alloc(10000);
    _exit(0);
}

static void *thread_main(void *arg)
{
    taskcheck_alloc(10000);
    return arg;
}

/* A thread made, allocating, and joined: the program is single-threaded
 * again, and the checks and 0.5 s of allocation follow. */
static int joined_round(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, NULL) != 0 || pthread_join(t, NULL) != 0)
        return fail("pthread_create or pthread_join");
    if (checks() != 0)
        return 1;
    for (double end = now_s() + 0.5; now_s() < end;)
        taskcheck_alloc(1000);
    return checks();
}

static int reap(pid_t pid, const char *what)
{
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
        return fail(what);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2)
        return 2;
    taskcheck_alloc(100000);
    if (strcmp(argv[1], "stat") == 0) {
        if (checks() != 0)
            return 1;
        if (argc > 2)
            raise(atoi(argv[2]));
        for (double end = now_s() + 1.5; now_s() < end;)
            taskcheck_alloc(1000);
        if (checks() != 0)
            return 1;
    } else if (strcmp(argv[1], "joined") == 0) {
        if (joined_round() != 0 || joined_round() != 0)
            return 1;
    } else if (strcmp(argv[1], "clone") == 0) {
        static char stack[256 << 10];
        if (reap(clone(child_main, stack + sizeof(stack), SIGCHLD, NULL), "clone child"))
            return 1;
        pid_t c = _Fork();
        if (c == 0)
            child_main(NULL);
        if (reap(c, "_Fork child"))
            return 1;
    } else {
        return 2;
    }
    printf("taskcheck ok\n");
    return 0;
}
