/*
 * cmd_run.c - `memprof run [options] -- PROG [ARGS]`: start a program under
 * the shim.
 *
 * The options are include/memprof_options.h's table (every setting with a
 * `flag`), checked with the same parser the shim uses, so a value accepted
 * here is never refused by the shim; each becomes its MEMPROF_* variable.
 * Then the shim goes first in LD_PRELOAD, and we fork+exec and wait the way
 * system() does (SIGINT and SIGQUIT ignored in the parent, so ^C reaches
 * only the program and we still collect its status). Exit with the
 * program's status, or 128+N.
 */
#include "sites.h"
#include "util.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_run.h"

#define SHIM_NAME "libmemprof.so"

/* ---- options ---- */

/* "memprof run [-o DIR] [--sample BYTES] ... -- PROG [ARGS]", from the table. */
static const char *run_usage(void)
{
    static char usage[512];
    if (usage[0])
        return usage;
    size_t n = (size_t)snprintf(usage, sizeof(usage), "memprof run");
    for (unsigned id = 0; id < MP_OPT_COUNT; id++) {
        const mp_opt_desc *d = mp_opt_at(id);
        if (d->flag && n < sizeof(usage))
            n += (size_t)snprintf(usage + n, sizeof(usage) - n, " [%s%s%s]", d->flag,
                                  d->metavar ? " " : "", d->metavar ? d->metavar : "");
    }
    if (n < sizeof(usage))
        snprintf(usage + n, sizeof(usage) - n, " -- PROG [ARGS]");
    return usage;
}

void mp_settings_help(FILE *out, bool (*keep)(unsigned id))
{
    fputs("\noptions:\n", out);
    for (unsigned id = 0; id < MP_OPT_COUNT; id++) {
        const mp_opt_desc *d = mp_opt_at(id);
        char arg[64];
        if (!d->flag || (keep && !keep(id)))
            continue;
        snprintf(arg, sizeof(arg), "%s%s%s", d->flag, d->metavar ? " " : "",
                 d->metavar ? d->metavar : "");
        fprintf(out, "  %-16s %s [%s]\n", arg, d->help, d->env);
    }
    fputs("  -h, --help       this text\n", out);
}

void cmd_run_help(FILE *out) { mp_settings_help(out, NULL); }

typedef struct run_opts {
    mp_settings set;
    int prog;                         /* argv index of PROG */
} run_opts;

int mp_settings_flag(const char *cmd, const char *usage, int argc, char **argv, int *i,
                     mp_settings *o)
{
    for (unsigned id = 0; id < MP_OPT_COUNT; id++) {
        const mp_opt_desc *d = mp_opt_at(id);
        const char *val = NULL;
        if (!d->flag)
            continue;
        if (!d->metavar) {   /* a flag without argument: the variable's lo */
            if (strcmp(argv[*i], d->flag) != 0)
                continue;
            o->text[id] = d->flag;
            o->value[id] = d->lo;
            return 1;
        }
        if (!mp_rep_opt_value(argc, argv, i, d->flag, &val))
            continue;
        char expect[MP_OPT_EXPECT_MAX];
        /* "-o --": the option's value forgotten, not a directory named
         * "--" (./-- still names one). */
        if (!val || !*val || strcmp(val, "--") == 0)
            mp_error("%s: %s needs a value; usage: %s", cmd, d->flag, usage);
        else if (mp_opt_parse(id, val, &o->value[id]) < 0)
            mp_error("%s: bad %s '%s' (expected %s)", cmd, d->flag, val, mp_opt_expect(id, expect));
        else {
            o->text[id] = val;
            return 1;
        }
        return -1;
    }
    return 0;
}

static int parse_run(int argc, char **argv, run_opts *o)
{
    memset(o, 0, sizeof(*o));
    int i;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        int r = mp_settings_flag("run", run_usage(), argc, argv, &i, &o->set);
        if (r < 0)
            return -1;
        if (r == 0) {
            mp_error("run: unknown option '%s'; usage: %s", argv[i], run_usage());
            return -1;
        }
    }
    if (i >= argc) {
        mp_error("run: missing PROG; usage: %s", run_usage());
        return -1;
    }
    o->prog = i;
    return 0;
}

/* ---- the shim and the program ---- */

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

/* The canonical spelling (numbers: a signal name becomes its number, 512K
 * becomes 524288; a path absolute, so that a program that changes directory
 * still writes where we said). */
void mp_settings_text(const mp_settings *o, unsigned id, char *buf, size_t cap)
{
    const char *v = o->text[id];
    if (mp_opt_at(id)->kind != MP_OPTK_PATH) {
        mp_opt_u64_str(o->value[id], buf);
    } else if (v[0] != '/' && cap > 2 && getcwd(buf, cap - 2)) {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "/%s", v);
    } else {
        snprintf(buf, cap, "%s", v);
    }
}

/* Each given option as its MEMPROF_* variable, in the canonical spelling. */
static void set_option_env(const run_opts *o)
{
    char buf[PATH_MAX + 32];
    for (unsigned id = 0; id < MP_OPT_COUNT; id++) {
        if (!o->set.text[id])
            continue;
        mp_settings_text(&o->set, id, buf, sizeof(buf));
        setenv(mp_opt_at(id)->env, buf, 1);
    }
}

static void set_env(const run_opts *o, const char *shim)
{
    set_option_env(o);
    const char *old = getenv("LD_PRELOAD");
    if (preload_has(old, shim))
        return;
    char *pre = mp_xmalloc(strlen(shim) + (old ? strlen(old) : 0) + 2);
    sprintf(pre, "%s%s%s", shim, old && *old ? ":" : "", old ? old : "");
    setenv("LD_PRELOAD", pre, 1);
    free(pre);
}

/* ---- running it ---- */

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
