/*
 * life_exec - a process image that leaks, then execs (tests/e2e/life_exec.sh).
 *
 *   life_exec MODE [GARBAGE]
 *
 * Every mode first leaks 10 x 10000 bytes in exec_leak(). The exec'd
 * program is /bin/sh printing "$1|$2|$LIFE_EXEC_VAR": the arguments
 * "one two" and MODE come through untouched, and LIFE_EXEC_VAR is the
 * inherited one, or "given" where the call takes an environment.
 *   execve execv execvp execvpe execl execle execlp fexecve execveat:
 *       that call (the p forms find "sh" on PATH);
 *   fail: execv of a missing file and execvp of a name on no PATH entry
 *       (ENOENT), and execv of GARBAGE, an executable
 *       file that is no program (ENOEXEC), each errno printed, and whether
 *       the signal mask (SIGUSR1 blocked first) is the same after; then 3 x
 *       10000 more in after_leak() and a normal exit;
 *   reexec: execv of this program itself ("second"), which leaks
 *       3 x 10000 in after_leak() and exits;
 *   vfork: a vfork child execs sh, another's exec of GARBAGE fails and it
 *       _exits 127; then after_leak() and exit;
 *   fork, forkmt: a fork child leaks 2 x 10000 in child_leak() and execs
 *       sh; in forkmt the parent has a second thread when it forks;
 *   thread: three threads churn malloc/free while a fourth execs sh;
 *   signal, signalchurn: SIGALRM's handler execs sh while the main thread
 *       waits in pause(), or churns malloc/free (the handler may then land
 *       inside the shim's hooks);
 *   smallstack: a thread with a 16 KiB stack execs sh;
 *   altstack: SIGALRM's handler runs on a 16 KiB alternate stack and execs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static void *volatile sink;
static const char *mode = "";
static const char *script = "printf '%s|%s|%s\\n' \"$1\" \"$2\" \"${LIFE_EXEC_VAR-unset}\"";

/* Each culprit calls malloc itself (the innermost frame is its name). */
#define LEAK_BLOCKS(n)                      \
    for (int i = 0; i < (n); i++) {         \
        char *p = malloc(10000);            \
        memset(p, 1, 10000);                \
        sink = p;                           \
    }

__attribute__((noinline)) static void exec_leak(void) { LEAK_BLOCKS(10) }
__attribute__((noinline)) static void after_leak(void) { LEAK_BLOCKS(3) }
__attribute__((noinline)) static void child_leak(void) { LEAK_BLOCKS(2) }

/* sh's argv for this mode, and an environment that says "given". */
static char **sh_argv(void)
{
    static char *av[7];
    av[0] = "sh";
    av[1] = "-c";
    av[2] = (char *)script;
    av[3] = "sh";
    av[4] = "one two";
    av[5] = (char *)mode;
    av[6] = NULL;
    return av;
}

static char **given_env(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = malloc((n + 2) * sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LIFE_EXEC_VAR=", 14) != 0)
            env[k++] = environ[i];
    env[k++] = "LIFE_EXEC_VAR=given";
    env[k] = NULL;
    return env;
}

static void exec_sh(void)
{
    execv("/bin/sh", sh_argv());
}

static int by_call(const char *m)
{
    char **av = sh_argv();
    if (strcmp(m, "execve") == 0)
        execve("/bin/sh", av, given_env());
    else if (strcmp(m, "execv") == 0)
        execv("/bin/sh", av);
    else if (strcmp(m, "execvp") == 0)
        execvp("sh", av);
    else if (strcmp(m, "execvpe") == 0)
        execvpe("sh", av, given_env());
    else if (strcmp(m, "execl") == 0)
        execl("/bin/sh", "sh", "-c", script, "sh", "one two", m, (char *)NULL);
    else if (strcmp(m, "execle") == 0)
        execle("/bin/sh", "sh", "-c", script, "sh", "one two", m, (char *)NULL, given_env());
    else if (strcmp(m, "execlp") == 0)
        execlp("sh", "sh", "-c", script, "sh", "one two", m, (char *)NULL);
    else if (strcmp(m, "fexecve") == 0)
        fexecve(open("/bin/sh", O_RDONLY | O_CLOEXEC), av, given_env());
    else if (strcmp(m, "execveat") == 0)
        execveat(open("/bin", O_PATH | O_DIRECTORY | O_CLOEXEC), "sh", av, given_env(), 0);
    else
        return 2;
    perror(m);
    return 1;
}

static void failed_exec(const char *path)
{
    char *av[] = {(char *)path, NULL};
    int rc = strchr(path, '/') ? execv(path, av) : execvp(path, av);
    int err = errno;
    printf("exec %s: %d %s\n", strrchr(path, '/') ? strrchr(path, '/') + 1 : path, rc,
           strerror(err));
}

static int wait_status(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int by_vfork(const char *garbage)
{
    pid_t pid = vfork();
    if (pid == 0) {
        exec_sh();
        _exit(126);
    }
    printf("vfork+exec: %d\n", wait_status(pid));
    pid = vfork();
    if (pid == 0) {
        char *av[] = {(char *)garbage, NULL};
        execv(garbage, av);
        _exit(127);
    }
    printf("vfork+failed exec: %d\n", wait_status(pid));
    after_leak();
    return 0;
}

static void *sleeper(void *arg)
{
    (void)arg;
    pause();
    return NULL;
}

static int by_fork(bool threaded)
{
    pthread_t t;
    if (threaded && pthread_create(&t, NULL, sleeper, NULL) != 0)
        return 2;
    pid_t pid = fork();
    if (pid == 0) {
        child_leak();
        exec_sh();
        _exit(126);
    }
    printf("fork+exec: %d\n", wait_status(pid));
    return 0;
}

static void *churner(void *arg)
{
    (void)arg;
    for (;;) {
        void *p = malloc(64);
        sink = p;
        free(p);
    }
    return NULL;
}

static void *execer(void *arg)
{
    (void)arg;
    usleep(50000);
    exec_sh();
    perror("execv");
    exit(1);
}

static int by_thread(void)
{
    pthread_t t;
    for (int i = 0; i < 3; i++)
        if (pthread_create(&t, NULL, churner, NULL) != 0)
            return 2;
    if (pthread_create(&t, NULL, execer, NULL) != 0)
        return 2;
    pthread_join(t, NULL);
    return 1;
}

static void on_alarm(int sig)
{
    (void)sig;
    exec_sh();
    _exit(1);
}

static int by_small_stack(void)
{
    pthread_attr_t attr;
    pthread_t t;
    if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, 16384) != 0 ||
        pthread_create(&t, &attr, execer, NULL) != 0)
        return 2;
    pthread_join(t, NULL);
    return 1;
}

static int by_signal(bool churn, bool altstack)
{
    static char alt[16384];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof(alt)};
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = altstack ? SA_ONSTACK : 0};
    if ((altstack && sigaltstack(&ss, NULL) != 0) || sigaction(SIGALRM, &sa, NULL) != 0)
        return 2;
    struct itimerval it = {.it_value = {0, 30000}};
    setitimer(ITIMER_REAL, &it, NULL);
    if (churn)
        churner(NULL);
    for (;;)
        pause();
    return 1;
}

/* Signal by signal: glibc's sigprocmask may fill all 128 bytes of an old
 * set from its own copy, or only the kernel's 8, so the bytes past the
 * signals that exist are not comparable with memcmp. */
static bool same_signals(const sigset_t *a, const sigset_t *b)
{
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(a, sig) != sigismember(b, sig))
            return false;
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    mode = argv[1];
    setvbuf(stdout, NULL, _IONBF, 0);   /* children and the exec'd sh share stdout */
    if (strcmp(mode, "second") == 0) {
        after_leak();
        return 0;
    }
    exec_leak();
    if (strcmp(mode, "fail") == 0 && argc == 3) {
        sigset_t usr1, before, after;
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        sigprocmask(SIG_BLOCK, &usr1, &before);
        sigprocmask(SIG_BLOCK, NULL, &before);
        failed_exec("/nonexistent/program");
        failed_exec("memprof-not-on-path");
        failed_exec(argv[2]);
        sigprocmask(SIG_BLOCK, NULL, &after);
        printf("signal mask %s\n", same_signals(&before, &after) &&
                                         sigismember(&after, SIGUSR1) ? "kept" : "changed");
        after_leak();
        return 0;
    }
    if (strcmp(mode, "reexec") == 0) {
        char *av[] = {argv[0], "second", NULL};
        execv("/proc/self/exe", av);
        return 1;
    }
    if (strcmp(mode, "vfork") == 0 && argc == 3)
        return by_vfork(argv[2]);
    if (strcmp(mode, "fork") == 0 || strcmp(mode, "forkmt") == 0)
        return by_fork(strcmp(mode, "forkmt") == 0);
    if (strcmp(mode, "thread") == 0)
        return by_thread();
    if (strcmp(mode, "signal") == 0 || strcmp(mode, "signalchurn") == 0 ||
        strcmp(mode, "altstack") == 0)
        return by_signal(strcmp(mode, "signalchurn") == 0, strcmp(mode, "altstack") == 0);
    if (strcmp(mode, "smallstack") == 0)
        return by_small_stack();
    return by_call(mode);
}
