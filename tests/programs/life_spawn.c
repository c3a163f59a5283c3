/*
 * life_spawn - the ways a process starts another: fork then exec, vfork then
 * exec, posix_spawn, a vfork child whose exec fails and _exits 127, and
 * system(). Each started program is this one again with "child N", which
 * leaks exactly N * 1000 bytes in spawned_leak() and prints "child N".
 * The parent leaks 5000 bytes in parent_leak() and prints a summary line per
 * child with its exit status. Run plain and profiled by e2e/life_spawn.sh.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static void *volatile sink;

__attribute__((noinline)) static void spawned_leak(int n)
{
    for (int i = 0; i < n; i++) {
        char *p = malloc(1000);
        memset(p, 1, 1000);
        sink = p;
    }
}

__attribute__((noinline)) static void parent_leak(void)
{
    for (int i = 0; i < 5; i++) {
        char *p = malloc(1000);
        memset(p, 2, 1000);
        sink = p;
    }
}

static int status_of(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "child") == 0) {
        int n = atoi(argv[2]);
        spawned_leak(n);
        printf("child %d\n", n);
        return 0;
    }
    const char *self = "/proc/self/exe";
    char exe[4096];
    ssize_t len = readlink(self, exe, sizeof(exe) - 1);
    if (len <= 0)
        return 2;
    exe[len] = 0;
    parent_leak();
    setvbuf(stdout, NULL, _IONBF, 0);   /* children share stdout */

    /* fork + exec */
    pid_t pid = fork();
    if (pid == 0) {
        char *av[] = {argv[0], "child", "1", NULL};
        execv(exe, av);
        _exit(127);
    }
    printf("fork+exec: %d\n", status_of(pid));

    /* vfork + exec */
    pid = vfork();
    if (pid == 0) {
        char *av[] = {argv[0], "child", "2", NULL};
        execv(exe, av);
        _exit(127);
    }
    printf("vfork+exec: %d\n", status_of(pid));

    /* vfork, exec fails, _exit in the shared address space */
    pid = vfork();
    if (pid == 0) {
        char *av[] = {"/nonexistent/program", NULL};
        execv(av[0], av);
        _exit(127);
    }
    printf("vfork+failed exec: %d\n", status_of(pid));

    /* posix_spawn (clone(CLONE_VM|CLONE_VFORK) in glibc) */
    char *av3[] = {argv[0], "child", "3", NULL};
    if (posix_spawn(&pid, exe, NULL, NULL, av3, environ) != 0)
        return 2;
    printf("posix_spawn: %d\n", status_of(pid));

    /* posix_spawnp of a missing program */
    char *av4[] = {"memprof-no-such-program", NULL};
    int rc = posix_spawnp(&pid, av4[0], NULL, NULL, av4, environ);
    printf("posix_spawnp missing: %s\n", rc != 0 ? "error" : status_of(pid) == 127 ? "127" : "?");

    /* system(): /bin/sh -c, which execs us */
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "'%s' child 4", exe);
    rc = system(cmd);
    printf("system: %d\n", WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
    return 0;
}
