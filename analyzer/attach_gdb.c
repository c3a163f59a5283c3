/*
 * attach_gdb.c - the injector behind `memprof attach`: gdb, in batch mode,
 * runs a Python script (below) that loads libmemprof.so into the process
 * and calls its memprof_attach(config) (preload/attach.c).
 *
 * Where the calls run matters more than anything else: a thread stopped
 * inside malloc or the loader holds their locks, and dlopen from it would
 * deadlock or corrupt them. The script takes a thread blocked in a system
 * call that idles (read, poll, futex, epoll_wait, nanosleep..., and
 * restart_syscall: a timed wait resumed after a stop, as a sleep is after
 * a first attach or a SIGSTOP) with no
 * allocator, loader, fork/exit or signal-handler frame on its stack; if
 * there is none, it breaks on the entry of malloc, free, calloc and realloc
 * (memray's safe point: nothing is held yet) and takes the first caller
 * with a clean stack. Other threads run during the calls (scheduler-locking
 * off), so whatever locks they hold are released as usual. Strings are
 * written into a page the script mmaps in the process, so gdb never calls
 * the program's malloc for them.
 *
 * Failure paths: the script always detaches (a Python finally); gdb runs in
 * its own process group under deadlines kept here: if the safe point does
 * not come, SIGINT stops the wait (no call is in progress then, and nothing
 * was changed); a call that hangs is interrupted the same way and gdb,
 * with unwindonsignal, restores the thread's registers; gdb itself is
 * killed as the last resort, and a process it left stopped gets SIGCONT.
 */
#include "attach.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GDB_START_MS 60000    /* attach and symbol loading */
#define SAFE_POINT_MARGIN_MS 3000
#define CALLS_MS 30000        /* dlopen + memprof_attach */
#define GRACE_MS 5000         /* after SIGINT, before SIGKILL */

/* No double quote and no backslash in here, so it stays a plain C string:
 * byte strings are built with bytes(1), line breaks with chr(10). */
static const char inject_py[] =
    "import gdb, os, re, time\n"
    "PID = int(os.environ['MP_ATTACH_PID'])\n"
    "LIB = os.environ['MP_ATTACH_LIB'].encode()\n"
    "CFG = os.environ['MP_ATTACH_CONFIG'].encode()\n"
    "WAIT = float(os.environ['MP_ATTACH_WAIT'])\n"
    "IDLE = [0, 7, 23, 34, 35, 43, 45, 47, 61, 128, 130, 202, 219, 230, 232, 247, 270, 271, 281, 288, 299, 441]\n"
    "UNSAFE = re.compile('^(__GI_|__libc_|_int_|__)*(malloc|free|cfree|calloc|realloc|reallocarray|memalign|posix_memalign|aligned_alloc|valloc|pvalloc|malloc_usable_size|malloc_trim|tcache_[a-z_]+|sysmalloc|systrim|arena_get2|arena_get_retry|malloc_consolidate|ptmalloc_init|mallinfo2?|fork|_Fork|vfork|run_fork_handlers|exit|_exit|run_exit_handlers|pthread_create[a-z0-9_.]*|allocate_stack|dlopen[a-z_]*|dlmopen[a-z_]*|dlclose[a-z_]*|dlsym[a-z_]*|dlvsym[a-z_]*|dladdr[a-z0-9_]*|dlerror[a-z_]*|dlinfo[a-z_]*|dl_iterate_phdr|_dl_[a-z0-9_]+|dl_open_worker[a-z_]*)$')\n"
    "OUT = int(os.environ['MP_ATTACH_FD'])\n"
    "def say(*words):\n"
    "    try:\n"
    "        os.write(OUT, ' '.join(['memprof-attach:'] + [str(w) for w in words] + [chr(10)]).replace(' ' + chr(10), chr(10)).encode())\n"
    "    except Exception:\n"
    "        pass\n"
    "def ev(expr):\n"
    "    return int(gdb.parse_and_eval(expr))\n"
    "def frame_safe(f, first):\n"
    "    if f.type() == gdb.SIGTRAMP_FRAME:\n"
    "        return False\n"
    "    lib = os.path.basename(gdb.solib_name(f.pc()) or '')\n"
    "    if lib.startswith('ld-') or lib.startswith('libmemprof'):\n"
    "        return False\n"
    "    return first or UNSAFE.match(f.name() or '') is None\n"
    "def stack_safe(first_is_entry):\n"
    "    try:\n"
    "        f = gdb.newest_frame()\n"
    "        n = 0\n"
    "        while f is not None and n < 64:\n"
    "            if not frame_safe(f, first_is_entry and n == 0):\n"
    "                return False\n"
    "            f = f.older()\n"
    "            n += 1\n"
    "        return True\n"
    "    except gdb.error:\n"
    "        return False\n"
    "def idle_thread():\n"
    "    threads = sorted(gdb.selected_inferior().threads(), key=lambda t: t.num)\n"
    "    for t in threads:\n"
    "        t.switch()\n"
    "        try:\n"
    "            nr = ev('$orig_rax')\n"
    "        except gdb.error:\n"
    "            return None\n"
    "        if nr in IDLE and stack_safe(False):\n"
    "            return t\n"
    "    return None\n"
    "class Entry(gdb.Breakpoint):\n"
    "    def stop(self):\n"
    "        global hit\n"
    "        if hit is not None or time.monotonic() > deadline:\n"
    "            return hit is None\n"
    "        if stack_safe(True):\n"
    "            hit = gdb.selected_thread()\n"
    "            return True\n"
    "        return False\n"
    "def entry_thread():\n"
    "    global hit, deadline\n"
    "    hit = None\n"
    "    deadline = time.monotonic() + WAIT\n"
    "    bps = []\n"
    "    for name in ('malloc', 'free', 'calloc', 'realloc'):\n"
    "        try:\n"
    "            bps.append(Entry(name, internal=True))\n"
    "        except Exception:\n"
    "            pass\n"
    "    say('waiting')\n"
    "    try:\n"
    "        gdb.execute('continue')\n"
    "    finally:\n"
    "        for b in bps:\n"
    "            b.delete()\n"
    "    return hit\n"
    "def call_in(t):\n"
    "    t.switch()\n"
    "    gdb.execute('select-frame 0')\n"
    "    inf = gdb.selected_inferior()\n"
    "    say('calling', t.num)\n"
    "    page = ev('((void *(*)(void *, unsigned long, int, int, int, long))mmap)(0, 16384, 3, 34, -1, 0)')\n"
    "    if page == 0 or page == 2**64 - 1 or page < 0:\n"
    "        return 'fail nomem'\n"
    "    try:\n"
    "        inf.write_memory(page, LIB + bytes(1))\n"
    "        inf.write_memory(page + 8192, b'memprof_attach' + bytes(1))\n"
    "        inf.write_memory(page + 8192 + 64, CFG + bytes(1))\n"
    "        h = ev('((void *(*)(const char *, int))dlopen)((const char *)%d, 2)' % page)\n"
    "        if h == 0:\n"
    "            err = ev('((char *(*)(void))dlerror)()')\n"
    "            msg = gdb.selected_inferior().read_memory(err, 400).tobytes().split(bytes(1))[0] if err else b'?'\n"
    "            return 'fail dlopen ' + ''.join(c if ' ' <= c != chr(127) else '?' for c in msg.decode(errors='replace'))\n"
    "        fn = ev('((void *(*)(void *, const char *))dlsym)((void *)%d, (const char *)%d)' % (h, page + 8192))\n"
    "        if fn == 0:\n"
    "            return 'fail nosym'\n"
    "        rc = ev('((int (*)(const char *))%d)((const char *)%d)' % (fn, page + 8192 + 64))\n"
    "        return 'ok' if rc == 0 else 'fail code %d' % rc\n"
    "    finally:\n"
    "        ev('((int (*)(void *, unsigned long))munmap)((void *)%d, 16384)' % page)\n"
    "result = 'fail unknown'\n"
    "try:\n"
    "    for cmd in ('set pagination off', 'set confirm off', 'set unwindonsignal on',\n"
    "                'set scheduler-locking off', 'set auto-solib-add on', 'handle all nostop noprint pass'):\n"
    "        gdb.execute(cmd)\n"
    "    if gdb.selected_inferior().pid == 0:\n"
    "        raise gdb.error('could not attach')\n"
    "    say('attached')\n"
    "    t = idle_thread() or entry_thread()\n"
    "    if gdb.selected_inferior().pid == 0:\n"
    "        result = 'fail exited'\n"
    "    elif t is None or not t.is_valid():\n"
    "        result = 'fail busy'\n"
    "    else:\n"
    "        result = call_in(t)\n"
    "except gdb.error as e:\n"
    "    result = 'fail gdb ' + str(e).replace(chr(10), ' ')\n"
    "except Exception as e:\n"
    "    result = 'fail python ' + str(e).replace(chr(10), ' ')\n"
    "finally:\n"
    "    try:\n"
    "        gdb.execute('detach')\n"
    "    except Exception:\n"
    "        pass\n"
    "say(result)\n";

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* The first executable "gdb" on PATH, or -1. */
static int find_gdb(char *out, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(out, cap, "%.*s/gdb", (int)n, path);
        struct stat st;
        if (n && stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
            return 0;
        path += n + (path[n] == ':');
    }
    return -1;
}

typedef struct gdb_run {
    pid_t gdb;
    int out;            /* gdb's stdout and stderr */
    char line[4200];    /* the current partial line */
    size_t len;
    int stage;          /* ATTACH_STAGE_* reached */
    char result[4200];  /* the final line, without the prefix */
} gdb_run;

enum { STAGE_START, STAGE_ATTACHED, STAGE_WAITING, STAGE_CALLING, STAGE_DONE };

/* Sets the stage from one line of gdb's output; other lines are noise.
 * The target's own text (its dlerror) reaches a verdict line with its
 * control characters replaced, and nothing after the first verdict
 * counts, so the target cannot write a verdict of its own. */
static void take_line(gdb_run *r, const char *line)
{
    static const char prefix[] = "memprof-attach: ";
    if (strncmp(line, prefix, sizeof(prefix) - 1) != 0)
        return;
    const char *w = line + sizeof(prefix) - 1;
    if (r->stage == STAGE_DONE)   /* the first verdict stands */
        return;
    if (strcmp(w, "attached") == 0)
        r->stage = STAGE_ATTACHED;
    else if (strcmp(w, "waiting") == 0)
        r->stage = STAGE_WAITING;
    else if (strncmp(w, "calling", 7) == 0)
        r->stage = STAGE_CALLING;
    else if (strcmp(w, "ok") == 0 || strncmp(w, "fail", 4) == 0) {
        r->stage = STAGE_DONE;
        snprintf(r->result, sizeof(r->result), "%s", w);
    }
}

/* Reads what gdb wrote within ms; false at end of output. */
static bool pump(gdb_run *r, int ms)
{
    struct pollfd p = {.fd = r->out, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return true;
    char buf[4096];
    ssize_t n = read(r->out, buf, sizeof(buf));
    if (n <= 0)
        return n < 0 && errno == EINTR;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n' || r->len == sizeof(r->line) - 1) {
            r->line[r->len] = '\0';
            take_line(r, r->line);
            r->len = 0;
        } else {
            r->line[r->len++] = buf[i];
        }
    }
    return true;
}

/*
 * gdb's own output goes to /dev/null, and the script's verdicts to out_fd:
 * if we die, a write of gdb's into a broken pipe could fail the call it is
 * in the middle of, while the script's writes are checked and ignored.
 */
static void exec_gdb(const char *gdb, pid_t pid, int script_fd, int out_fd, const char *env[4])
{
    char pidbuf[32], cmd[128], fdbuf[16], exe[64];
    setpgid(0, 0);   /* the terminal's ^C is ours to handle, not gdb's */
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
    }
    signal(SIGPIPE, SIG_IGN);   /* if we die, gdb must still finish and detach */
    fcntl(out_fd, F_SETFD, 0);
    snprintf(fdbuf, sizeof(fdbuf), "%d", out_fd);
    setenv("MP_ATTACH_FD", fdbuf, 1);
    setenv("MP_ATTACH_PID", env[0], 1);
    setenv("MP_ATTACH_LIB", env[1], 1);
    setenv("MP_ATTACH_CONFIG", env[2], 1);
    setenv("MP_ATTACH_WAIT", env[3], 1);
    snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
    /* The program file through /proc: gdb's own lookup of it by name fails
     * for an executable deleted or replaced since it started (a service
     * after a package upgrade: "No symbol table is loaded", and no
     * library's symbols either), while the link still opens the very file. */
    snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
    snprintf(cmd, sizeof(cmd), "python exec(open('/dev/fd/%d').read())", script_fd);
    /* gdb reads each object's own symbols and unwind tables (quick: 0.5 s
     * for a 300 MB chromium), but no separate debug files and nothing from
     * the network. --readnever, which skips the unwind tables too, left it
     * guessing frames from prologues: sed blocked in read() under
     * _IO_file_underflow showed a made-up ld.so frame, and stack_safe
     * refused the only idle thread it had. */
    execl(gdb, gdb, "-nx", "-nh", "-q", "--batch", "-iex", "set debug-file-directory",
          "-iex", "set debuginfod enabled off", "-iex", "set auto-load off",
          exe, "-p", pidbuf, "-ex", cmd, (char *)NULL);
    _exit(127);
}

/* Ends gdb: SIGINT (it interrupts the wait or the call and detaches), then
 * SIGKILL. Returns gdb's wait status. */
static int finish_gdb(gdb_run *r, bool interrupt)
{
    int status = 0;
    uint64_t until = now_ms() + GRACE_MS;
    if (interrupt)
        kill(r->gdb, SIGINT);
    while (waitpid(r->gdb, &status, WNOHANG) == 0) {
        if (now_ms() >= until) {
            kill(r->gdb, SIGKILL);
            waitpid(r->gdb, &status, 0);
            break;
        }
        pump(r, 50);
    }
    while (pump(r, 0) && r->stage != STAGE_DONE) {
        struct pollfd p = {.fd = r->out, .events = POLLIN};
        if (poll(&p, 1, 0) <= 0)
            break;
    }
    return status;
}

/* A process gdb left in a stop (killed while it held the threads) runs on.
 * Only then: after gdb detached by itself, a stop is someone else's (a
 * SIGSTOP sent during the attach) and stays. */
static void resume_if_stopped(pid_t pid)
{
    char state;
    long threads;
    if (mp_proc_stat((int)pid, &state, &threads) && (state == 'T' || state == 't'))
        kill(pid, SIGCONT);
}

static volatile sig_atomic_t interrupted;
static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* The deadline of the stage reached so far. */
static uint64_t stage_deadline(const gdb_run *r, uint64_t t_stage, unsigned wait_s)
{
    switch (r->stage) {
    case STAGE_START: return t_stage + GDB_START_MS;
    case STAGE_ATTACHED:
    case STAGE_WAITING: return t_stage + wait_s * 1000u + SAFE_POINT_MARGIN_MS;
    case STAGE_CALLING: return t_stage + CALLS_MS;
    default: return t_stage + GRACE_MS;
    }
}

/* Drives gdb until it is done or a deadline passes. */
static void watch(gdb_run *r, unsigned wait_s)
{
    int stage = r->stage;
    uint64_t t_stage = now_ms();
    bool open = true;
    while (open && r->stage != STAGE_DONE) {
        if (interrupted || now_ms() >= stage_deadline(r, t_stage, wait_s))
            break;
        open = pump(r, 100);
        if (r->stage != stage) {
            stage = r->stage;
            t_stage = now_ms();
        }
    }
}

int mp_attach_inject(pid_t pid, const char *shim, const char *config, unsigned wait_s,
                     char *result, size_t cap)
{
    char gdb[4096], pidbuf[32], waitbuf[32];
    if (find_gdb(gdb, sizeof(gdb)) < 0) {
        snprintf(result, cap, "fail nogdb");
        return -1;
    }
    int script[2], out[2];
    if (pipe2(script, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        snprintf(result, cap, "fail gdb pipe: %s", strerror(errno));
        return -1;
    }
    /* The script fits in the pipe buffer: written whole before gdb starts. */
    if (write(script[1], inject_py, sizeof(inject_py) - 1) != (ssize_t)(sizeof(inject_py) - 1)) {
        snprintf(result, cap, "fail gdb pipe: %s", strerror(errno));
        return -1;
    }
    close(script[1]);
    snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
    snprintf(waitbuf, sizeof(waitbuf), "%u", wait_s);
    const char *env[4] = {pidbuf, shim, config, waitbuf};
    struct sigaction sa = {.sa_handler = on_interrupt}, oint, oterm, ohup;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &oint);
    sigaction(SIGTERM, &sa, &oterm);
    sigaction(SIGHUP, &sa, &ohup);
    fflush(NULL);
    gdb_run r = {.gdb = fork(), .out = out[0]};
    if (r.gdb == 0) {
        fcntl(script[0], F_SETFD, 0);   /* gdb reads it as /dev/fd/N */
        exec_gdb(gdb, pid, script[0], out[1], env);
    }
    close(script[0]);
    close(out[1]);
    if (r.gdb < 0) {
        snprintf(result, cap, "fail gdb fork: %s", strerror(errno));
        close(out[0]);
        return -1;
    }
    watch(&r, wait_s);
    int status = finish_gdb(&r, r.stage != STAGE_DONE);
    close(out[0]);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        resume_if_stopped(pid);
    sigaction(SIGINT, &oint, NULL);
    sigaction(SIGTERM, &oterm, NULL);
    sigaction(SIGHUP, &ohup, NULL);
    if (r.stage == STAGE_DONE)
        snprintf(result, cap, "%s", r.result);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && r.stage == STAGE_START)
        snprintf(result, cap, "fail nogdb");
    else
        snprintf(result, cap, "fail timeout %s", r.stage == STAGE_CALLING ? "calling"
                 : r.stage == STAGE_START ? "start" : "waiting");
    return strcmp(result, "ok") == 0 ? 0 : -1;
}
