/*
 * cmd_attach.c - `memprof attach PID`: profile a process that was started
 * without the shim.
 *
 * Everything that can be known from outside is checked before gdb touches
 * the process, so that a refusal (one line, exit 1) leaves it untouched:
 * it exists and runs (not stopped, not a zombie, not already traced), we
 * may ptrace it (the same check the kernel makes: opening /proc/PID/mem),
 * it is a dynamically linked glibc program of our word size, it is not
 * profiled already, and the library's path exists in its mount namespace.
 * Then attach_gdb.c injects; success is confirmed by the shim's request
 * socket appearing, after which `memprof snapshot`, `detach`, `enable` and
 * `disable` talk to it as to a preloaded shim.
 */
#include "analyzer.h"
#include "attach.h"
#include "cmd_run.h"
#include "util.h"

#include "memprof_protocol.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ATTACH_USAGE "memprof attach PID [-o DIR] [--sample BYTES] [--interval SECS] [--no-locks]"
#define SAFE_POINT_WAIT_S 10   /* MEMPROF_ATTACH_WAIT overrides it (1..3600) */
#define SOCKET_WAIT_MS 5000

typedef struct attach_opts {
    pid_t pid;
    mp_settings set;
} attach_opts;

/* The settings `attach` takes: run's, without the signal (a handler is
 * not something to install in a running program). */
static bool attach_setting(unsigned id)
{
    return id == MP_OPT_OUT || id == MP_OPT_SAMPLE || id == MP_OPT_INTERVAL || id == MP_OPT_LOCKS;
}

void cmd_attach_help(FILE *out) { mp_settings_help(out, attach_setting); }

static int parse_attach(int argc, char **argv, attach_opts *o)
{
    const char *pid_arg = NULL;
    memset(o, 0, sizeof(*o));
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-') {
            if (pid_arg) {
                mp_error("attach: more than one PID; usage: %s", ATTACH_USAGE);
                return -1;
            }
            pid_arg = argv[i];
            continue;
        }
        const char *opt = argv[i];   /* i moves past an option's value */
        int r = mp_settings_flag("attach", ATTACH_USAGE, argc, argv, &i, &o->set);
        if (r < 0)
            return -1;
        if (r == 0) {
            mp_error("attach: unknown option '%s'; usage: %s", opt, ATTACH_USAGE);
            return -1;
        }
        for (unsigned id = 0; id < MP_OPT_COUNT; id++)
            if (!attach_setting(id) && o->set.text[id]) {
                mp_error("attach: %s is not an attach option (a running program's signals stay its own); usage: %s",
                         mp_opt_at(id)->flag, ATTACH_USAGE);
                return -1;
            }
    }
    uint64_t v;
    if (!pid_arg || !mp_parse_u64(pid_arg, &v) || v == 0 || v > INT_MAX) {
        mp_error("attach: %s PID; usage: %s", pid_arg ? "bad" : "missing", ATTACH_USAGE);
        return -1;
    }
    o->pid = (pid_t)v;
    return 0;
}

/* ---- what /proc says about the target ---- */

static ssize_t read_proc(pid_t pid, const char *what, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    ssize_t got;
    while (n + 1 < cap && (got = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)got;
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* The number after "Key:" in /proc/PID/status, or -1. */
static long status_field(const char *status, const char *key)
{
    const char *p = strstr(status, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static const char *user_name(long uid, char *buf, size_t cap)
{
    struct passwd *pw = getpwuid((uid_t)uid);
    if (pw)
        snprintf(buf, cap, "%s (uid %ld)", pw->pw_name, uid);
    else
        snprintf(buf, cap, "uid %ld", uid);
    return buf;
}

static int check_state(pid_t pid, const char *status)
{
    char stat[1024];
    if (read_proc(pid, "stat", stat, sizeof(stat)) <= 0) {
        mp_error("attach: no process %d", (int)pid);
        return -1;
    }
    const char *rp = strrchr(stat, ')');
    char state = rp && rp[1] ? rp[2] : '?';
    long tracer = status_field(status, "\nTracerPid:");
    if (state == 'Z' || state == 'X')
        mp_error("attach: process %d has exited (zombie)", (int)pid);
    else if (state == 'T' || state == 't')
        mp_error("attach: process %d is stopped (SIGSTOP or a debugger); resume it first", (int)pid);
    else if (tracer > 0)
        mp_error("attach: process %d is already traced by process %ld (a debugger?)", (int)pid, tracer);
    else if (pid == getpid())
        mp_error("attach: process %d is memprof itself", (int)pid);
    else
        return 0;
    return -1;
}

/* The kernel's own ptrace access check (including Yama), without stopping
 * anything: /proc/PID/mem opens only for a tracer that may attach. */
static int check_ptrace(pid_t pid, const char *status)
{
    char path[64], who[128];
    snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    int err = errno;
    char scope_text[16];
    int sfd = open("/proc/sys/kernel/yama/ptrace_scope", O_RDONLY | O_CLOEXEC);
    long scope = -1;
    if (sfd >= 0) {
        ssize_t n = read(sfd, scope_text, sizeof(scope_text) - 1);
        scope_text[n > 0 ? n : 0] = '\0';
        scope = strtol(scope_text, NULL, 10);
        close(sfd);
    }
    long uid = status_field(status, "\nUid:");
    if (geteuid() != 0 && uid >= 0 && (uid_t)uid != geteuid())
        mp_error("attach: process %d belongs to %s: only that user or root may attach",
                 (int)pid, user_name(uid, who, sizeof(who)));
    else if (scope == 3)
        mp_error("attach: ptrace is disabled on this system (kernel.yama.ptrace_scope=3)");
    else if (scope >= 1)
        mp_error("attach: ptrace is restricted (kernel.yama.ptrace_scope=%ld): attach as root, "
                 "or set it to 0", scope);
    else
        mp_error("attach: ptrace of process %d is not permitted (%s): it is not dumpable, "
                 "or memprof lacks CAP_SYS_PTRACE", (int)pid, strerror(err));
    return -1;
}

/* SPEC: under secure execution (setuid/setgid, file capabilities) the
 * shim is inert. Such a process holds privileges its user does not, and
 * the user who started it would own its profiler's files: never attached.
 * The kernel's AT_SECURE is in its auxiliary vector (readable here, since
 * check_ptrace has passed: mp_proc_secure). */
static int check_secure(pid_t pid)
{
    if (mp_proc_secure((int)pid) != 1)
        return 0;
    mp_error("attach: process %d runs under secure execution (a setuid, setgid or "
             "file-capability program); memprof does not profile those", (int)pid);
    return -1;
}

/* A glibc program of our word size with a dynamic loader: dlopen exists. */
static int check_dynamic(pid_t pid, const char *maps)
{
    char path[64];
    unsigned char ident[EI_NIDENT];
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, ident, sizeof(ident)) : -1;
    if (fd >= 0)
        close(fd);
    int ours = sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32;
    if (n == (ssize_t)sizeof(ident) && memcmp(ident, ELFMAG, SELFMAG) == 0 && ident[EI_CLASS] != ours) {
        mp_error("attach: process %d is a %d-bit program and this memprof is %d-bit", (int)pid,
                 ident[EI_CLASS] == ELFCLASS32 ? 32 : 64, (int)sizeof(void *) * 8);
        return -1;
    }
    if (!strstr(maps, "/libc.so.6\n") || !strstr(maps, "/ld-linux")) {
        mp_error("attach: process %d is statically linked (no glibc libc.so.6 and loader mapped): "
                 "there is no dynamic loader to load the profiler", (int)pid);
        return -1;
    }
    return 0;
}

/* Preloaded, attached or dormant: its collector listens on @memprof.PID.
 * A name held by someone else would leave the profiler unreachable (no
 * snapshot on request, no detach): refused, naming the holder. */
static int check_not_profiled(pid_t pid, const char *maps, const char *shim)
{
    enum mp_sock_owner owner = mp_attach_socket_owner(pid);
    if (owner == MP_SOCK_OURS) {
        mp_error("attach: process %d is already profiled by memprof (preloaded or attached); "
                 "use memprof snapshot, or memprof detach first", (int)pid);
        return -1;
    }
    if (owner == MP_SOCK_FOREIGN) {
        char who[64];
        mp_attach_socket_holder(pid, who, sizeof(who));
        mp_error("attach: the request socket @memprof.%d is taken by %s, not by process %d: "
                 "memprof could not reach the profiler once attached; stop that process first",
                 (int)pid, who, (int)pid);
        return -1;
    }
    /* Another copy of the library (after a detach, ours may stay mapped). */
    for (const char *p = maps; (p = strstr(p, "/libmemprof.so\n")) != NULL; p++) {
        const char *start = p;
        while (start > maps && start[-1] != ' ' && start[-1] != '\n')
            start--;
        size_t len = (size_t)(p - start) + strlen("/libmemprof.so");
        if (len != strlen(shim) || strncmp(start, shim, len) != 0) {
            mp_error("attach: process %d already has another libmemprof.so loaded (%.*s)",
                     (int)pid, (int)len, start);
            return -1;
        }
    }
    return 0;
}

/* The path is opened by the target, in its mount namespace. */
static int check_visible(pid_t pid, const char *shim)
{
    char path[PATH_MAX + 64], ns_self[64] = "", ns_target[64] = "";
    snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, shim);
    struct stat st;
    if (stat(path, &st) == 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
    ssize_t a = readlink("/proc/self/ns/mnt", ns_self, sizeof(ns_self) - 1);
    ssize_t b = readlink(path, ns_target, sizeof(ns_target) - 1);
    char root[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
    errno = 0;
    ssize_t r = readlink(path, root, sizeof(root) - 1);
    int root_err = r < 0 ? errno : 0;
    if (a > 0 && b > 0 && (a != b || memcmp(ns_self, ns_target, (size_t)a) != 0))
        mp_error("attach: process %d runs in another mount namespace (a container?) where %s "
                 "does not exist; install memprof at the same path inside it", (int)pid, shim);
    else if (root_err == ENOENT)   /* Firefox's content processes, Chromium's zygote */
        mp_error("attach: process %d has changed its root to a directory that no longer exists "
                 "(a sandbox): %s cannot be loaded there", (int)pid, shim);
    else if (r > 0 && !(r == 1 && root[0] == '/'))
        mp_error("attach: process %d has changed its root to %.*s (chroot), where %s does not "
                 "exist", (int)pid, (int)r, root, shim);
    else
        mp_error("attach: process %d cannot open %s", (int)pid, shim);
    return -1;
}

/* The second number of a /proc/PID/status line (Uid:, Gid: real then
 * effective), or -1. */
static long status_second(const char *status, const char *key)
{
    const char *p = strstr(status, key);
    if (!p)
        return -1;
    char *end;
    strtol(p + strlen(key), &end, 10);
    return strtol(end, NULL, 10);
}

static bool in_groups(const char *status, long gid)
{
    const char *p = strstr(status, "\nGroups:");
    if (!p)
        return false;
    for (p += 9; *p && *p != '\n';) {
        char *end;
        long g = strtol(p, &end, 10);
        if (end == p)
            break;
        if (g == gid)
            return true;
        p = end;
    }
    return false;
}

/* The process writes its snapshots itself, with its own credentials, in
 * its mount namespace: a directory it cannot write (or, when missing, the
 * nearest existing parent that would hold it) would profile it for
 * nothing. Mode bits only; ACLs may allow more. */
static int check_writable(pid_t pid, const char *status, const char *dir)
{
    long uid = status_second(status, "\nUid:"), gid = status_second(status, "\nGid:");
    char path[PATH_MAX + 64], who[128];
    int root_len = snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
    snprintf(path + root_len, sizeof(path) - (size_t)root_len, "%.*s", (int)strcspn(dir, "\n"), dir);
    if (uid <= 0)
        return 0;
    struct stat st;
    while (stat(path, &st) != 0) {
        char *slash = strrchr(path + root_len, '/');
        if (!slash)
            return 0;
        slash[slash == path + root_len] = '\0';   /* keep the root's '/' */
    }
    bool w = (uid_t)uid == st.st_uid ? (st.st_mode & S_IWUSR) != 0
             : ((gid_t)gid == st.st_gid || in_groups(status, (long)st.st_gid)) ? (st.st_mode & S_IWGRP) != 0
                                                                             : (st.st_mode & S_IWOTH) != 0;
    if (w && S_ISDIR(st.st_mode))
        return 0;
    mp_error("attach: process %d runs as %s, which cannot write %s; give -o a directory it can write",
             (int)pid, user_name(uid, who, sizeof(who)), path + root_len);
    return -1;
}

static int check_target(pid_t pid, const char *shim, const char *dir)
{
    static char maps[1 << 20];
    char status[4096];
    if (read_proc(pid, "status", status, sizeof(status)) <= 0) {
        mp_error("attach: no process %d", (int)pid);
        return -1;
    }
    if (check_state(pid, status) < 0 || check_ptrace(pid, status) < 0 || check_secure(pid) < 0)
        return -1;
    if (read_proc(pid, "maps", maps, sizeof(maps)) <= 0) {
        mp_error("attach: cannot read the memory map of process %d: %s", (int)pid, strerror(errno));
        return -1;
    }
    if (check_dynamic(pid, maps) < 0 || check_not_profiled(pid, maps, shim) < 0)
        return -1;
    return check_visible(pid, shim) < 0 ? -1 : check_writable(pid, status, dir);
}

/* ---- injection and its verdict ---- */

/* What memprof_attach parses (preload/config.c): MEMPROF_<NAME>=<value>
 * lines, the output directory always given and absolute. */
static int build_config(const attach_opts *o, char *out, size_t cap, const char **dir)
{
    mp_settings set = o->set;
    char value[PATH_MAX + 32];
    size_t n = 0;
    if (!set.text[MP_OPT_OUT])
        set.text[MP_OPT_OUT] = ".";
    for (unsigned id = 0; id < MP_OPT_COUNT; id++) {
        if (!set.text[id])
            continue;
        mp_settings_text(&set, id, value, sizeof(value));
        /* one line per setting: a newline in -o would add settings of its own */
        for (const char *c = value; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                mp_error("attach: %s must not contain control characters (a newline, a tab)",
                         mp_opt_at(id)->flag);
                return -1;
            }
        if (id == MP_OPT_OUT && value[0] != '/') {
            mp_error("attach: cannot resolve -o %s: %s", set.text[id], strerror(errno));
            return -1;
        }
        int w = snprintf(out + n, cap - n, "%s=%s\n", mp_opt_at(id)->env, value);
        if (w < 0 || (size_t)w >= cap - n || strlen(value) >= 4000) {
            mp_error("attach: the value of %s is too long", mp_opt_at(id)->flag);
            return -1;
        }
        if (id == MP_OPT_OUT)
            *dir = out + n + strlen(mp_opt_at(id)->env) + 1;
        n += (size_t)w;
    }
    return 0;
}

/* The seconds to wait for a safe point: MEMPROF_ATTACH_WAIT, checked before
 * anything is done to the process (a typo must not attach with some other
 * wait than the one asked for); 0 when it is set but bad. */
static unsigned safe_point_wait(void)
{
    uint64_t v;
    const char *e = getenv("MEMPROF_ATTACH_WAIT");
    if (!e || !*e)
        return SAFE_POINT_WAIT_S;
    if (mp_parse_u64(e, &v) && v >= 1 && v <= 3600)
        return (unsigned)v;
    mp_error("attach: invalid MEMPROF_ATTACH_WAIT=%.40s (expected whole seconds, 1 to 3600)", e);
    return 0;
}

/* Gone, or a zombie (still a pid until its parent reaps it). */
static bool process_gone(pid_t pid)
{
    char stat[1024];
    if (read_proc(pid, "stat", stat, sizeof(stat)) <= 0)
        return true;
    const char *rp = strrchr(stat, ')');
    return rp && rp[1] && (rp[2] == 'Z' || rp[2] == 'X');
}

static void explain(pid_t pid, const char *shim, const char *r, unsigned wait_s)
{
    int code = -1;
    if (strcmp(r, "fail exited") == 0 || process_gone(pid))
        mp_error("attach: process %d exited during the attach", (int)pid);
    else if (strcmp(r, "fail nogdb") == 0)
        mp_error("attach: gdb not found on PATH; memprof attach needs it (Debian package gdb)");
    else if (strcmp(r, "fail busy") == 0 || strcmp(r, "fail timeout waiting") == 0)
        mp_error("attach: process %d reached no safe point within %u s (no thread idle in a system "
                 "call or entering malloc); nothing was changed, try again", (int)pid, wait_s);
    else if (strncmp(r, "fail timeout", 12) == 0)
        mp_error("attach: gdb did not finish (%s); it was stopped and process %d resumed", r + 13, (int)pid);
    else if (strncmp(r, "fail dlopen ", 12) == 0)
        mp_error("attach: process %d could not load %s: %s", (int)pid, shim, r + 12);
    else if (sscanf(r, "fail code %d", &code) == 1)
        mp_error("attach: process %d: %s", (int)pid,
                 code == MP_ATTACH_ALREADY ? "already profiled by memprof (preloaded or attached)"
                 : code == MP_ATTACH_NO_MEMORY ? "the profiler could not reserve its memory; nothing was changed"
                 : code == MP_ATTACH_NO_THREAD ? "the profiler could not start its thread; nothing was changed"
                 : code == MP_ATTACH_NO_SYMBOLS ? "no malloc or free found in it; nothing was changed"
                 : code == MP_ATTACH_BUSY ? "another attach is under way"
                 : code == MP_ATTACH_SECURE ? "it runs under secure execution (setuid, setgid or file "
                                              "capabilities); memprof does not profile those"
                                          : "the profiler refused its configuration; nothing was changed");
    else if (strncmp(r, "fail gdb ", 9) == 0)
        mp_error("attach: gdb: %s", r + 9);
    else
        mp_error("attach: %s", r);
}

/* Profiling runs once the collector listens. */
static int wait_for_socket(pid_t pid)
{
    for (int waited = 0; waited < SOCKET_WAIT_MS; waited += 10) {
        if (mp_attach_socket_owner(pid) == MP_SOCK_OURS)
            return 0;
        struct timespec ms10 = {0, 10000000};
        nanosleep(&ms10, NULL);
    }
    return -1;
}

/* The profiler runs but cannot be reached. Most likely someone bound its
 * name between check_not_profiled and the collector's bind: it says so,
 * and what the process now does, since it is not as it was. */
static void report_no_socket(pid_t pid, const char *dir)
{
    int dir_len = (int)strcspn(dir, "\n");
    if (mp_attach_socket_owner(pid) == MP_SOCK_FOREIGN) {
        char who[64];
        mp_attach_socket_holder(pid, who, sizeof(who));
        mp_error("attach: process %d is profiled now (snapshots go to %.*s), but %s took its "
                 "request socket @memprof.%d meanwhile: memprof snapshot and detach reach it "
                 "once that process lets go of the name", (int)pid, dir_len, dir, who, (int)pid);
    } else {
        mp_error("attach: process %d loaded the profiler (snapshots go to %.*s) but its request "
                 "socket did not appear", (int)pid, dir_len, dir);
    }
}

int cmd_attach(int argc, char **argv)
{
    attach_opts o;
    char shim[PATH_MAX], config[4400], result[4200];
    const char *dir = "";
    if (parse_attach(argc, argv, &o) < 0)
        return MP_EXIT_USAGE;
    unsigned wait_s = safe_point_wait();
    if (wait_s == 0)
        return MP_EXIT_USAGE;
    if (mp_find_shim(shim, "attach") < 0 || build_config(&o, config, sizeof(config), &dir) < 0)
        return MP_EXIT_USAGE;
    if (check_target(o.pid, shim, dir) < 0)
        return MP_EXIT_USAGE;
    if (mp_attach_inject(o.pid, shim, config, wait_s, result, sizeof(result)) < 0) {
        explain(o.pid, shim, result, wait_s);
        return MP_EXIT_USAGE;
    }
    if (wait_for_socket(o.pid) < 0) {
        report_no_socket(o.pid, dir);
        return MP_EXIT_USAGE;
    }
    printf("attached to process %d; snapshots go to %.*s\n", (int)o.pid, (int)strcspn(dir, "\n"), dir);
    return MP_EXIT_OK;
}
