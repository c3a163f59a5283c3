/*
 * launcher.c - `memprof run` (start a program under the shim) and
 * `memprof snapshot PID` (ask a running profiled process for a snapshot).
 *
 * run: translate options into the MEMPROF_* environment, put the shim first
 * in LD_PRELOAD, then fork+exec and wait the way system() does (SIGINT and
 * SIGQUIT ignored in the parent, so ^C reaches only the program and we
 * still collect its status). Exit with the program's status, or 128+N.
 *
 * snapshot: the shim's collector thread listens on the abstract unix socket
 * "\0memprof.<pid>"; we send "snapshot\n" and read back one line,
 * "ok <path>\n" or "error <message>\n".
 */
#include "sites.h"
#include "util.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUN_USAGE "memprof run [-o DIR] [--sample BYTES] [--interval SECS] [--signal SIG] [--no-locks] -- PROG [ARGS]"
#define SHIM_NAME "libmemprof.so"
#define REPLY_TIMEOUT_MS 30000

/* ---- run: options ---- */

typedef struct run_opts {
    const char *out_dir, *sample, *interval, *signal;
    int no_locks;
    int prog;                     /* argv index of PROG */
} run_opts;

/* "USR2", "SIGUSR2" or "12" -> signal number, or 0 when unknown. */
static int signal_number(const char *s)
{
    uint64_t n;
    if (mp_parse_u64(s, &n))
        return n >= 1 && n <= (uint64_t)SIGRTMAX ? (int)n : 0;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (int i = 1; i < NSIG; i++) {
        const char *abbrev = sigabbrev_np(i);
        if (abbrev && strcasecmp(abbrev, s) == 0)
            return i;
    }
    return 0;
}

/* Checks one option value; on error prints a line and returns -1. */
static int check_value(const char *opt, const char *val)
{
    uint64_t n;
    if (!val)
        mp_error("run: %s needs a value; usage: %s", opt, RUN_USAGE);
    else if (strcmp(opt, "--sample") == 0 && (mp_rep_parse_u64(val, &n, 1) < 0 || n == 0))
        mp_error("run: bad --sample '%s' (want bytes >= 1, e.g. 524288 or 512K)", val);
    else if (strcmp(opt, "--interval") == 0 && !mp_parse_u64(val, &n))
        mp_error("run: bad --interval '%s' (want whole seconds, 0 = none)", val);
    else if (strcmp(opt, "--signal") == 0 && !signal_number(val))
        mp_error("run: bad --signal '%s' (want e.g. USR2, SIGUSR2 or 12)", val);
    else
        return 0;
    return -1;
}

static int parse_run(int argc, char **argv, run_opts *o)
{
    static const char *const names[] = {"-o", "--sample", "--interval", "--signal"};
    memset(o, 0, sizeof(*o));
    int i;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "--no-locks") == 0) {
            o->no_locks = 1;
            continue;
        }
        const char **slot[] = {&o->out_dir, &o->sample, &o->interval, &o->signal};
        size_t k;
        for (k = 0; k < 4; k++)
            if (mp_rep_opt_value(argc, argv, &i, names[k], slot[k]))
                break;
        if (k == 4) {
            mp_error("run: unknown option '%s'; usage: %s", argv[i], RUN_USAGE);
            return -1;
        }
        if (check_value(names[k], *slot[k]) < 0)
            return -1;
    }
    if (i >= argc) {
        mp_error("run: missing PROG; usage: %s", RUN_USAGE);
        return -1;
    }
    o->prog = i;
    return 0;
}

/* ---- run: the shim and the program ---- */

static int readable(const char *p)
{
    return access(p, R_OK) == 0;
}

/* Absolute path of the shim into out, or -1 with a message naming cmd. */
int mp_find_shim(char *out, const char *cmd)
{
    const char *env = getenv("MEMPROF_SHIM");
    char exe[PATH_MAX], cand[PATH_MAX + 32];
    if (env && *env) {
        if (!realpath(env, out)) {
            mp_error("%s: MEMPROF_SHIM=%s: %s", cmd, env, strerror(errno));
            return -1;
        }
        return 0;
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        const char *rel[] = {"/" SHIM_NAME, "/../lib/" SHIM_NAME};
        for (size_t i = 0; i < 2; i++) {
            snprintf(cand, sizeof(cand), "%s%s", exe, rel[i]);
            if (readable(cand) && realpath(cand, out))
                return 0;
        }
    }
    /* Only defined when compiled into the memprof target itself. */
#ifdef MEMPROF_BUILD_SHIM
    if (readable(MEMPROF_BUILD_SHIM) && realpath(MEMPROF_BUILD_SHIM, out))
        return 0;
#endif
#ifdef MEMPROF_INSTALL_LIBDIR
    if (readable(MEMPROF_INSTALL_LIBDIR "/" SHIM_NAME) &&
        realpath(MEMPROF_INSTALL_LIBDIR "/" SHIM_NAME, out))
        return 0;
#endif
    mp_error("%s: cannot find %s next to the memprof executable or in ../lib; "
             "set MEMPROF_SHIM to its path", cmd, SHIM_NAME);
    return -1;
}

/* Where execvp would find prog (first executable match on PATH), or -1. */
static int resolve_prog(const char *prog, char *out, size_t len)
{
    if (strchr(prog, '/')) {
        snprintf(out, len, "%s", prog);
        return access(prog, F_OK) == 0 ? 0 : -1;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";   /* glibc execvp's default */
    for (;;) {
        size_t dl = strcspn(path, ":");
        struct stat st;
        snprintf(out, len, "%.*s/%s", (int)(dl ? dl : 1), dl ? path : ".", prog);
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
            return 0;
        if (!path[dl])
            break;
        path += dl + 1;
    }
    return -1;
}

/* 1 if the ELF file at fd has a PT_INTERP header, 0 if not, -1 if unknown. */
static int has_interp(int fd, const Elf64_Ehdr *eh)
{
    if (eh->e_phentsize != sizeof(Elf64_Phdr))
        return -1;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        Elf64_Phdr ph;
        off_t at = (off_t)(eh->e_phoff + (uint64_t)i * sizeof(ph));
        if (pread(fd, &ph, sizeof(ph), at) != (ssize_t)sizeof(ph))
            return -1;
        if (ph.p_type == PT_INTERP)
            return 1;
    }
    return 0;
}

/*
 * LD_PRELOAD silently does nothing for static programs, for programs of
 * another word size, and for set-id programs run by someone else (secure
 * execution): say so instead of producing empty profiles.
 */
static void warn_if_preload_ignored(const char *prog, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return;
    if (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
        ((st.st_mode & S_ISGID) && st.st_gid != getegid()))
        mp_error("warning: %s is setuid/setgid: the loader ignores LD_PRELOAD, "
                 "nothing will be profiled", prog);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    Elf64_Ehdr eh;
    ssize_t n = pread(fd, &eh, sizeof(eh), 0);
    if (n >= EI_NIDENT && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0) {  /* not a script */
        if (eh.e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32))
            mp_error("warning: %s is a %d-bit program and the shim is not: "
                     "nothing will be profiled", prog, eh.e_ident[EI_CLASS] == ELFCLASS32 ? 32 : 64);
        else if (n == (ssize_t)sizeof(eh) && has_interp(fd, &eh) == 0)
            mp_error("warning: %s is statically linked: LD_PRELOAD cannot apply, "
                     "nothing will be profiled", prog);
    }
    close(fd);
}

/* 1 if the LD_PRELOAD list (space or colon separated) already names path. */
static int preload_has(const char *list, const char *path)
{
    size_t pl = strlen(path);
    while (list && *list) {
        size_t n = strcspn(list, ": ");
        if (n == pl && strncmp(list, path, n) == 0)
            return 1;
        list += n + (list[n] != '\0');
    }
    return 0;
}

static int set_env(const run_opts *o, const char *shim)
{
    char buf[PATH_MAX + 32];
    uint64_t n;
    if (o->out_dir) {
        /* Absolute, so a program that chdirs still writes where we said. */
        if (o->out_dir[0] != '/' && getcwd(buf, PATH_MAX))
            snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "/%s", o->out_dir);
        else
            snprintf(buf, sizeof(buf), "%s", o->out_dir);
        setenv("MEMPROF_OUT", buf, 1);
    }
    if (o->sample && mp_rep_parse_u64(o->sample, &n, 1) == 0) {
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)n);
        setenv("MEMPROF_SAMPLE", buf, 1);
    }
    if (o->interval)
        setenv("MEMPROF_INTERVAL", o->interval, 1);
    if (o->signal) {
        snprintf(buf, sizeof(buf), "%d", signal_number(o->signal));
        setenv("MEMPROF_SIGNAL", buf, 1);
    }
    if (o->no_locks)
        setenv("MEMPROF_LOCKS", "0", 1);
    const char *old = getenv("LD_PRELOAD");
    if (preload_has(old, shim))
        return 0;
    char *pre = mp_xmalloc(strlen(shim) + (old ? strlen(old) : 0) + 2);
    sprintf(pre, "%s%s%s", shim, old && *old ? ":" : "", old ? old : "");
    setenv("LD_PRELOAD", pre, 1);
    free(pre);
    return 0;
}

/* The program run by cmd_run, for the forwarding handler. */
static volatile pid_t run_child;

static void forward_signal(int sig)
{
    if (run_child > 0)
        kill(run_child, sig);
}

/* Signals sent to `memprof run` itself (by a supervisor, `timeout`, kill)
 * go on to the program, whose status we then return. ^C and ^\ reach the
 * program from the terminal anyway, so, like system(), we ignore those. */
static const int forwarded[] = {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM};
#define N_FORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

/* fork+exec and wait, forwarding signals (see above). The program also gets
 * SIGTERM if we die without forwarding (SIGKILL): it must not outlive us
 * unnoticed. */
static int spawn_and_wait(char **argv)
{
    struct sigaction ign = {.sa_handler = SIG_IGN}, fwd = {.sa_handler = forward_signal};
    struct sigaction oint, oquit, ofwd[N_FORWARDED];
    sigset_t chld, omask;
    sigemptyset(&ign.sa_mask);
    sigemptyset(&fwd.sa_mask);
    fwd.sa_flags = SA_RESTART;
    /* SIGCHLD, and the forwarded ones until run_child is known. */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaddset(&chld, forwarded[i]);
    sigaction(SIGINT, &ign, &oint);
    sigaction(SIGQUIT, &ign, &oquit);
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaction(forwarded[i], &fwd, &ofwd[i]);
    sigprocmask(SIG_BLOCK, &chld, &omask);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        sigaction(SIGINT, &oint, NULL);
        sigaction(SIGQUIT, &oquit, NULL);
        for (size_t i = 0; i < N_FORWARDED; i++)
            sigaction(forwarded[i], &ofwd[i], NULL);
        sigprocmask(SIG_SETMASK, &omask, NULL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            raise(SIGTERM);   /* we died before the line above */
        execvp(argv[0], argv);
        int err = errno;
        mp_error("%s: %s", argv[0], err == ENOENT ? "command not found" : strerror(err));
        _exit(err == ENOENT ? 127 : 126);
    }
    run_child = pid;
    sigset_t fwdset;
    sigemptyset(&fwdset);
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaddset(&fwdset, forwarded[i]);
    sigprocmask(SIG_UNBLOCK, &fwdset, NULL);
    int status = 0, rc;
    if (pid < 0) {
        mp_error("run: fork: %s", strerror(errno));
        rc = 126;
    } else {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        rc = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    }
    run_child = 0;
    sigaction(SIGINT, &oint, NULL);
    sigaction(SIGQUIT, &oquit, NULL);
    for (size_t i = 0; i < N_FORWARDED; i++)
        sigaction(forwarded[i], &ofwd[i], NULL);
    sigprocmask(SIG_SETMASK, &omask, NULL);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    run_opts o;
    char shim[PATH_MAX], path[PATH_MAX];
    if (parse_run(argc, argv, &o) < 0)
        return MP_EXIT_USAGE;
    const char *prog = argv[o.prog];
    if (resolve_prog(prog, path, sizeof(path)) < 0) {
        mp_error("%s: command not found", prog);
        return 127;
    }
    if (mp_find_shim(shim, "run") < 0)
        return MP_EXIT_USAGE;
    if (strpbrk(shim, ": ")) {
        /* LD_PRELOAD splits on both; such a path cannot be preloaded. */
        mp_error("run: the shim path '%s' contains ':' or ' ', which LD_PRELOAD cannot carry", shim);
        return MP_EXIT_USAGE;
    }
    warn_if_preload_ignored(prog, path);
    set_env(&o, shim);
    return spawn_and_wait(argv + o.prog);
}

/* ---- snapshot ---- */

/* Connected socket to the shim of pid, or -1 (errno from connect). */
static int connect_shim(pid_t pid)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* For AF_UNIX, SO_SNDTIMEO also bounds a connect to a full backlog. */
    struct timeval tv = {REPLY_TIMEOUT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int len = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "memprof.%d", (int)pid);
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
    if (connect(fd, (struct sockaddr *)&sa, alen) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* Reads one '\n'-terminated line within the deadline; returns its length or -1. */
static ssize_t read_line(int fd, char *buf, size_t cap)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t n = 0;
    while (n + 1 < cap) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        struct pollfd p = {fd, POLLIN, 0};
        int r = spent >= REPLY_TIMEOUT_MS ? 0 : poll(&p, 1, (int)(REPLY_TIMEOUT_MS - spent));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            errno = r == 0 ? ETIMEDOUT : errno;
            return -1;
        }
        ssize_t got = read(fd, buf + n, 1);   /* byte-wise: the reply is one short line */
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            errno = got == 0 ? ECONNRESET : errno;
            return -1;
        }
        if (buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

static int parse_pid(int argc, char **argv, pid_t *pid)
{
    uint64_t v;
    if (argc != 2) {
        mp_error("%s: %s; usage: memprof %s PID", argv[0], argc < 2 ? "missing PID" : "too many arguments",
                 argv[0]);
        return -1;
    }
    if (!mp_parse_u64(argv[1], &v) || v == 0 || v > INT_MAX) {
        mp_error("%s: bad PID '%s'; usage: memprof %s PID", argv[0], argv[1], argv[0]);
        return -1;
    }
    *pid = (pid_t)v;
    return 0;
}

/* A socket bound by another process under this name would be a spoof. */
static int check_peer(int fd, pid_t pid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid != pid) {
        mp_error("socket memprof.%d belongs to process %d, not %d; not asking it",
                 (int)pid, (int)cred.pid, (int)pid);
        return -1;
    }
    return 0;
}

static int request(int fd, pid_t pid, const char *word)
{
    char req[32], line[PATH_MAX + 256];
    int len = snprintf(req, sizeof(req), "%s\n", word);
    if (send(fd, req, (size_t)len, MSG_NOSIGNAL) != (ssize_t)len) {
        mp_error("process %d: sending the request failed: %s", (int)pid, strerror(errno));
        return MP_EXIT_USAGE;
    }
    if (read_line(fd, line, sizeof(line)) < 0) {
        mp_error("process %d: no answer: %s", (int)pid,
                 errno == ETIMEDOUT ? "timed out after 30 s"
                 : errno == ECONNRESET ? "it closed the connection" : strerror(errno));
        return MP_EXIT_USAGE;
    }
    if (strncmp(line, "ok", 2) == 0 && (line[2] == ' ' || !line[2])) {
        if (line[2] && line[3])
            printf("%s\n", line + 3);
        return MP_EXIT_OK;
    }
    if (strncmp(line, "error ", 6) == 0)
        mp_error("process %d: %s: %s", (int)pid, word, line + 6);
    else
        mp_error("process %d: unexpected answer '%.80s'", (int)pid, line);
    return MP_EXIT_USAGE;
}

/* snapshot, detach, enable, disable: one word, one line back. */
static int shim_command(int argc, char **argv)
{
    pid_t pid;
    if (parse_pid(argc, argv, &pid) < 0)
        return MP_EXIT_USAGE;
    if (kill(pid, 0) < 0 && errno == ESRCH) {
        mp_error("no process %d", (int)pid);
        return MP_EXIT_USAGE;
    }
    int fd = connect_shim(pid);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EINPROGRESS)
            mp_error("process %d did not accept the connection within 30 s", (int)pid);
        else
            mp_error("process %d is not profiled by memprof", (int)pid);
        return MP_EXIT_USAGE;
    }
    int rc = check_peer(fd, pid) < 0 ? MP_EXIT_USAGE : request(fd, pid, argv[0]);
    close(fd);
    return rc;
}

int cmd_snapshot(int argc, char **argv)
{
    return shim_command(argc, argv);
}

int cmd_detach(int argc, char **argv)
{
    return shim_command(argc, argv);
}

int cmd_enable(int argc, char **argv)
{
    return shim_command(argc, argv);
}

int cmd_disable(int argc, char **argv)
{
    return shim_command(argc, argv);
}
