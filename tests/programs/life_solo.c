/*
 * life_solo - a single-threaded program that checks it is single-threaded,
 * as Chromium's zygote does (/proc/self/task) and Python's os.fork does
 * (num_threads in /proc/self/stat): at start, after allocating (every
 * allocation sampled under MEMPROF_SAMPLE=1, so the shim's slow paths
 * run), and before fork, in the parent and in the child. Prints "solo ok"
 * and exits 0, or names the check that saw other threads and exits 1.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile sink;

static int task_entries(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static long stat_threads(void)
{
    char buf[4096];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    /* after ")": state ppid pgrp session tty_nr tpgid flags minflt cminflt
     * majflt cmajflt utime stime cutime cstime priority nice num_threads */
    for (int field = 0; p && field < 18; field++)
        p = strchr(p + 1, ' ');
    return p ? strtol(p + 1, NULL, 10) : -1;
}

static int check(const char *when)
{
    int t = task_entries();
    long s = stat_threads();
    if (t == 1 && s == 1)
        return 0;
    printf("%s: %d entries in /proc/self/task, num_threads %ld\n", when, t, s);
    return 1;
}

__attribute__((noinline)) static void solo_alloc(int n)
{
    for (int i = 0; i < n; i++) {
        void *p = malloc(64 + (size_t)i % 512);
        sink = p;
        if (i % 3)
            free(p);
    }
}

int main(void)
{
    int bad = check("at start");
    solo_alloc(200000);
    usleep(300000);
    solo_alloc(1000);
    bad |= check("before fork");
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        solo_alloc(1000);
        _exit(check("in the child"));
    }
    int st = 0;
    waitpid(child, &st, 0);
    bad |= check("after fork") | !WIFEXITED(st) | WEXITSTATUS(st);
    if (!bad)
        printf("solo ok\n");
    return bad;
}
