/*
 * memprof_options.h - the MEMPROF_* settings: names, defaults, ranges and
 * the one parser of their values, shared by the shim (preload/config.c reads
 * the environment) and `memprof run` (analyzer/cmd_run.c turns its options
 * into that environment). Both halves accept and refuse exactly the same
 * values because they run this code.
 *
 * Everything here is static inline and safe inside the shim: no allocation,
 * no stdio, no locale, no errno.
 *
 *   X(ID, env, kind, def, lo, hi, flag, metavar, help)
 *     ID       MP_OPT_<ID> indexes the table
 *     env      the environment variable (SPEC "Running a program")
 *     kind     how a value is spelled (mp_opt_kind below)
 *     def      the value when unset or invalid
 *     lo, hi   accepted range of numeric kinds
 *     flag     the `memprof run` option, NULL when it has none
 *     metavar  the option's argument in the usage line; NULL for a flag that
 *              takes none and sets the variable to `lo` (--no-locks)
 *     help     one line for usage messages
 *
 * Adding a setting is one line here plus what the shim does with it
 * (preload/config.c stores it in mp_cfg).
 */
#ifndef MEMPROF_OPTIONS_H
#define MEMPROF_OPTIONS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

enum mp_opt_kind {
    MP_OPTK_PATH,     /* any string; empty = unset */
    MP_OPTK_UINT,     /* decimal integer in lo..hi */
    MP_OPTK_BYTES,    /* decimal integer in lo..hi, optional K/M/G (KiB, KB) suffix */
    MP_OPTK_SIGNAL,  /* USR2, SIGUSR2, usr2, 12, RTMIN+3; empty = unset (0) */
    MP_OPTK_ONOFF     /* on = 1, off = 0 */
};

/* Named because the shim sizes arrays by them (shim.h). */
#define MP_OPT_SAMPLE_DEFAULT 524288
#define MP_OPT_INTERVAL_DEFAULT 60
#define MP_OPT_DEPTH_DEFAULT 64
#define MP_OPT_DEPTH_MAX 256

#define MP_OPTIONS(X)                                                               \
    X(OUT, "MEMPROF_OUT", MP_OPTK_PATH, 0, 0, 0, "-o", "DIR",                        \
      "directory for snapshot files (default: the current directory)")              \
    X(SAMPLE, "MEMPROF_SAMPLE", MP_OPTK_BYTES, MP_OPT_SAMPLE_DEFAULT, 1, 1ull << 40, \
      "--sample", "BYTES", "mean bytes between heap samples; 1 records every allocation") \
    X(INTERVAL, "MEMPROF_INTERVAL", MP_OPTK_UINT, MP_OPT_INTERVAL_DEFAULT, 0,        \
      365ull * 86400, "--interval", "SECS", "seconds between periodic snapshots; 0 = none") \
    X(SIGNAL, "MEMPROF_SIGNAL", MP_OPTK_SIGNAL, 0, 0, 0, "--signal", "SIG",          \
      "signal that triggers a snapshot (default: none)")                            \
    X(LOCKS, "MEMPROF_LOCKS", MP_OPTK_UINT, 1, 0, 1, "--no-locks", NULL,             \
      "turn lock profiling off")                                                    \
    X(DEPTH, "MEMPROF_DEPTH", MP_OPTK_UINT, MP_OPT_DEPTH_DEFAULT, 1, MP_OPT_DEPTH_MAX, \
      NULL, NULL, "most frames kept per stack")                                     \
    X(START, "MEMPROF_START", MP_OPTK_ONOFF, 1, 0, 1, NULL, NULL,                    \
      "off starts dormant until `memprof enable PID`")

enum mp_opt_id {
#define MP_OPT_ID_(ID, env, kind, def, lo, hi, flag, metavar, help) MP_OPT_##ID,
    MP_OPTIONS(MP_OPT_ID_)
#undef MP_OPT_ID_
    MP_OPT_COUNT
};

typedef struct mp_opt_desc {
    const char *env;
    enum mp_opt_kind kind;
    uint64_t def, lo, hi;
    const char *flag, *metavar, *help;
} mp_opt_desc;

static inline const mp_opt_desc *mp_opt_at(unsigned id)
{
    static const mp_opt_desc descs[MP_OPT_COUNT] = {
#define MP_OPT_DESC_(ID, env, kind, def, lo, hi, flag, metavar, help) \
    {env, kind, def, lo, hi, flag, metavar, help},
        MP_OPTIONS(MP_OPT_DESC_)
#undef MP_OPT_DESC_
    };
    return &descs[id];
}

/* ---- spelling helpers (ASCII only: no locale) ---- */

static inline char mp_opt_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Case-insensitive equality of s[0..n) with the whole of word. */
static inline int mp_opt_word_eq(const char *s, size_t n, const char *word)
{
    size_t i = 0;
    for (; i < n && word[i]; i++)
        if (mp_opt_upper(s[i]) != word[i])
            return 0;
    return i == n && !word[i];
}

static inline size_t mp_opt_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* Whole decimal number s[0..n): digits only, no sign, no overflow. */
static inline int mp_opt_decimal(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* "512", "512K", "512k", "512KB", "512KiB", "1G" (binary units). */
static inline int mp_opt_bytes(const char *s, uint64_t *out)
{
    size_t n = mp_opt_strlen(s);
    unsigned shift = 0;
    if (n >= 2 && s[n - 2] == 'i' && s[n - 1] == 'B')
        n -= 2;
    else if (n >= 1 && s[n - 1] == 'B')
        n -= 1;
    if (n >= 1) {
        char u = mp_opt_upper(s[n - 1]);
        shift = u == 'K' ? 10 : u == 'M' ? 20 : u == 'G' ? 30 : 0;
        n -= shift != 0;
    }
    uint64_t v;
    if (mp_opt_decimal(s, n, &v) < 0 || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = v << shift;
    return 0;
}

/* ---- signals ---- */

/*
 * A snapshot signal must be one that nothing but a person sends and whose
 * default action nothing relies on, since the shim's handler replaces it:
 * SIGUSR1, SIGUSR2 and the real-time signals (SIGRTMIN..SIGRTMAX, above
 * the two glibc keeps for itself). Every other signal is refused, by name
 * and by number: KILL and STOP cannot be caught; a fault's handler that
 * returns re-runs the faulting instruction (a crash would hang), ABRT is
 * abort(); TERM, INT, HUP and QUIT must still end the program (a
 * `memprof run --signal TERM` could not be stopped, a nohup's ignored HUP
 * would be caught); and the kernel sends PIPE, ALRM, CHLD, the job
 * control, limit, timer, WINCH, URG and IO signals on the program's own
 * account (with PIPE taken, `yes | head -c1` no longer died of it).
 */
static inline int mp_opt_signal_usable(uint64_t n)
{
    return n == (uint64_t)SIGUSR1 || n == (uint64_t)SIGUSR2 ||
           (n >= (uint64_t)SIGRTMIN && n <= (uint64_t)SIGRTMAX);
}

/* The signal number of a name without "SIG" (upper case), 0 if unknown. */
static inline int mp_opt_signal_by_name(const char *s, size_t n)
{
    static const struct { const char *name; int sig; } names[] = {
        {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL},
        {"TRAP", SIGTRAP}, {"ABRT", SIGABRT}, {"IOT", SIGIOT}, {"BUS", SIGBUS},
        {"FPE", SIGFPE}, {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
        {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
        {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
        {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU}, {"URG", SIGURG},
        {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
        {"WINCH", SIGWINCH}, {"IO", SIGIO}, {"POLL", SIGPOLL}, {"PWR", SIGPWR},
        {"SYS", SIGSYS},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (mp_opt_word_eq(s, n, names[i].name))
            return names[i].sig;
    /* RTMIN, RTMIN+k, RTMAX, RTMAX-k */
    if (n >= 5 && (mp_opt_word_eq(s, 5, "RTMIN") || mp_opt_word_eq(s, 5, "RTMAX"))) {
        int base = mp_opt_upper(s[4]) == 'N' ? SIGRTMIN : SIGRTMAX;
        uint64_t k = 0;
        if (n > 5 && (s[5] != (base == SIGRTMIN ? '+' : '-') ||
                      mp_opt_decimal(s + 6, n - 6, &k) < 0 || k > 64))
            return 0;
        int sig = base == SIGRTMIN ? base + (int)k : base - (int)k;
        return sig >= SIGRTMIN && sig <= SIGRTMAX ? sig : 0;
    }
    return 0;
}

/* "USR2", "SIGUSR2", "usr2", "12" -> the number; -1 when unknown or unusable. */
static inline int mp_opt_signal(const char *s)
{
    size_t n = mp_opt_strlen(s);
    uint64_t v;
    if (mp_opt_decimal(s, n, &v) < 0) {
        if (n > 3 && mp_opt_word_eq(s, 3, "SIG"))
            s += 3, n -= 3;
        v = (uint64_t)mp_opt_signal_by_name(s, n);
    }
    return mp_opt_signal_usable(v) ? (int)v : -1;
}

/* ---- the parser ---- */

/*
 * Parses the value of option id into *out (for MP_OPTK_PATH, *out is 1 for a
 * non-empty string: the string itself is the value). Returns 0, or -1 when
 * the value is invalid; *out is then untouched.
 */
static inline int mp_opt_parse(unsigned id, const char *s, uint64_t *out)
{
    const mp_opt_desc *d = mp_opt_at(id);
    uint64_t v = 0;
    switch (d->kind) {
    case MP_OPTK_PATH:
        v = s[0] != '\0';
        break;
    case MP_OPTK_SIGNAL: {
        int sig = s[0] ? mp_opt_signal(s) : 0;
        if (sig < 0)
            return -1;
        v = (uint64_t)sig;
        break;
    }
    case MP_OPTK_ONOFF:
        if (mp_opt_word_eq(s, mp_opt_strlen(s), "ON"))
            v = 1;
        else if (!mp_opt_word_eq(s, mp_opt_strlen(s), "OFF"))
            return -1;
        break;
    case MP_OPTK_BYTES:
    case MP_OPTK_UINT:
        if ((d->kind == MP_OPTK_BYTES ? mp_opt_bytes(s, &v)
                                     : mp_opt_decimal(s, mp_opt_strlen(s), &v)) < 0 ||
            v < d->lo || v > d->hi)
            return -1;
        break;
    }
    *out = v;
    return 0;
}

/* Decimal digits of v into buf (cap >= 21); returns buf. */
static inline char *mp_opt_u64_str(uint64_t v, char *buf)
{
    char tmp[21];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

/*
 * What a valid value of id looks like, for the one-line message about a
 * bad one: "an integer in 1..1099511627776, optionally with a K, M or G suffix". buf needs
 * MP_OPT_EXPECT_MAX bytes.
 */
#define MP_OPT_EXPECT_MAX 96
static inline const char *mp_opt_expect(unsigned id, char *buf)
{
    const mp_opt_desc *d = mp_opt_at(id);
    switch (d->kind) {
    case MP_OPTK_PATH: return "a directory";
    case MP_OPTK_SIGNAL: return "USR1, USR2 or a real-time signal, e.g. USR2, SIGUSR2, 12 or RTMIN+3";
    case MP_OPTK_ONOFF: return "on or off";
    case MP_OPTK_UINT:
    case MP_OPTK_BYTES: break;
    }
    char lo[21], hi[21];
    const char *parts[] = {"an integer in ", mp_opt_u64_str(d->lo, lo), "..",
                           mp_opt_u64_str(d->hi, hi),
                           d->kind == MP_OPTK_BYTES ? ", optionally with a K, M or G suffix" : ""};
    size_t n = 0;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        for (const char *p = parts[i]; *p && n + 1 < MP_OPT_EXPECT_MAX; p++)
            buf[n++] = *p;
    buf[n] = '\0';
    return buf;
}

#endif
