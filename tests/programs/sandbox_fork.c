/*
 * sandbox_fork - a fork child that sandboxes itself the way Firefox's
 * content processes do (seccomp-bpf, SECCOMP_RET_TRAP for every system call
 * outside its policy, a SIGSYS handler that reports the violation and ends
 * the process), then loads a plugin and leaks through it.
 *
 * Run with MEMPROF_INTERVAL=1: the parent's collector thread exists from
 * the start, so the child is the fork child of a multi-threaded parent and
 * reads its modules from /proc/self/maps (README, "Known limitations").
 * The policy traps process_vm_readv (Firefox's does: a content process has
 * no business reading process memory) and allows the rest.
 *
 * argv[1]: the plugin (libplugin.so). Prints "child status N" (0: the
 * child ran to its end; 159: it met the trap, its handler wrote the
 * system call's number on stderr first).
 */
#include <dlfcn.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/testprog.h"

#define TRAPPED_STATUS 159
#define PLUGIN_LEAK (256 * 1024)

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "sandbox violation: syscall %d\n", si->si_syscall);
    if (n > 0)
        (void)!write(2, msg, (size_t)n);
    _exit(TRAPPED_STATUS);
}

/* SIGSYS for process_vm_readv, everything else allowed. */
static void sandbox_me(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGSYS, &sa, NULL) != 0)
        die("sigaction");
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        die("seccomp");
}

static int child_main(const char *plugin)
{
    sandbox_me();
    void *h = dlopen(plugin, RTLD_NOW);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    void (*leak)(tp_tally *, size_t) = (void (*)(tp_tally *, size_t))dlsym(h, "leak_in_plugin");
    if (!leak)
        return 1;
    tp_tally t = {0};
    leak(&t, PLUGIN_LEAK);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sandbox_fork PLUGIN\n");
        return 2;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0)
        exit(child_main(argv[1]));
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        die("waitpid");
    printf("child %d status %d\n", (int)pid, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return 0;
}
