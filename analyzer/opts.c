/*
 * opts.c - the option table and the parser every analysis command uses
 * (see opts.h); where -o writes is outfile.c's.
 */
#include "opts.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyzer.h"
#include "sites.h"   /* the launcher.c names below */
#include "util.h"

/* K_WHAT_HEAP: a --what of the heap's views only (report: lock waits are
 * `memprof locks`) */
typedef enum opt_kind { K_FLAG, K_COUNT, K_BYTES, K_WHAT, K_WHAT_HEAP, K_PATH, K_LABELS } opt_kind;

typedef struct opt_def {
    unsigned bit;
    const char *name, *alias;    /* alias: another spelling, or NULL */
    opt_kind kind;
    uint64_t max;                /* K_COUNT, K_BYTES: the largest value */
    const char *metavar;         /* shown in help: "N", "BYTES", ... */
    const char *want;            /* what a value must be, for errors */
    const char *help;
} opt_def;

static const opt_def opt_table[] = {
    {MP_OPT_TOP, "--top", NULL, K_COUNT, SIZE_MAX, "N", "a count, 0 = all",
     "show the first N rows (default 20, 0 = all)"},
    {MP_OPT_JSON, "--json", NULL, K_FLAG, 0, NULL, NULL, "JSON instead of text"},
    {MP_OPT_FAIL_OVER, "--fail-over", NULL, K_BYTES, UINT64_MAX, "BYTES",
     "bytes, e.g. 1048576 or 1M",
     "exit 3 when the live heap grew by more than BYTES (K, M, G suffixes)"},
    {MP_OPT_WHAT, "--what", NULL, K_WHAT, 0, "heap|alloc|locks|locks-holders|peak|temporary",
     "heap, alloc, locks, locks-holders, peak or temporary",
     "live heap (default), cumulative allocations, lock wait time by waiter or by holder, "
     "the live heap at its peak, or short-lived allocations"},
    {MP_OPT_WHAT_HEAP, "--what", NULL, K_WHAT_HEAP, 0, "heap|alloc|peak|temporary",
     "heap, alloc, peak or temporary; lock waits are `memprof locks`",
     "live heap (default), cumulative allocations, the live heap at its peak, or "
     "short-lived allocations"},
    {MP_OPT_OUT, "-o", "--output", K_PATH, 0, "FILE", "a file name",
     "write to FILE instead of standard output"},
    {MP_OPT_LINES, "--lines", NULL, K_FLAG, 0, NULL, NULL,
     "one frame per function and source line (\"fn (file.c:50)\")"},
    {MP_OPT_LABELS, "--labels", NULL, K_LABELS, 0, "K=V,...",
     "comma-separated KEY=VALUE pairs, KEY [A-Za-z_][A-Za-z0-9_.-]* other than program, "
     "pid and lock, once each, VALUE non-empty, printable, no comma, at most 64 pairs",
     "pprof labels on every sample (service, host, version...)"},
    {MP_OPT_FRAMES, "--frames", NULL, K_COUNT, 256, "N", "a count from 1 to 256",
     "show N frames of each stack (default 4; JSON has them all)"},
    {MP_OPT_SKIP, "--skip", NULL, K_PATH, 0, "REGEX", "a regular expression",
     "fold away innermost frames matching REGEX, besides the built-in allocator wrappers "
     "('none': fold nothing)"},
};
#define N_OPTS (sizeof(opt_table) / sizeof(opt_table[0]))

/* ---- values ---- */

int mp_opts_bytes(const char *s, uint64_t *out, int suffixes)
{
    if (!s)
        return -1;
    static const char scale[] = "KMG";
    size_t len = strlen(s);
    unsigned shift = 0;
    if (suffixes) {
        if (len >= 2 && strcmp(s + len - 2, "iB") == 0)
            len -= 2;
        else if (len >= 1 && s[len - 1] == 'B')
            len -= 1;
        const char *u = len ? strchr(scale, toupper((unsigned char)s[len - 1])) : NULL;
        if (u && *u)
            shift = 10 * (unsigned)(u - scale + 1), len--;
    }
    char digits[32];
    uint64_t v;
    if (len == 0 || len >= sizeof(digits))
        return -1;
    memcpy(digits, s, len);
    digits[len] = '\0';
    if (!mp_parse_u64(digits, &v) || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = v << shift;
    return 0;
}

int mp_opts_value(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    *val = *i + 1 < argc ? argv[++*i] : NULL;
    return 1;
}

/* "k=v,k2=v2": keys as Prometheus, Pyroscope and Parca accept them (plus
 * '.' and '-'), values printable ASCII or UTF-8 without ',', no key twice. */
#define MAX_LABELS 64

static size_t label_key_len(const char *s)
{
    size_t n = 0;
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '.' || s[n] == '-')
        n++;
    return n;
}

bool mp_opts_labels_ok(const char *s)
{
    if (!s || !*s)
        return false;
    const char *keys[MAX_LABELS];
    size_t key_lens[MAX_LABELS], n = 0;
    for (const char *p = s;; p++) {
        size_t k = label_key_len(p);
        if (k == 0 || p[k] != '=' || n == MAX_LABELS)
            return false;
        /* pprof's own labels (cmd_pprof.c) must stay unambiguous */
        if ((k == 7 && memcmp(p, "program", 7) == 0) || (k == 3 && memcmp(p, "pid", 3) == 0) ||
            (k == 4 && memcmp(p, "lock", 4) == 0))
            return false;
        for (size_t i = 0; i < n; i++)
            if (key_lens[i] == k && memcmp(keys[i], p, k) == 0)
                return false;
        keys[n] = p, key_lens[n++] = k;
        p += k + 1;
        const char *v = p;
        while (*p && *p != ',' && ((unsigned char)*p >= 0x20 && *p != 0x7f))
            p++;
        if (p == v || (*p && *p != ','))
            return false;   /* empty value, or a control character */
        if (!*p)
            return true;
    }
}

/* ---- errors and help ---- */

/* The one error style: "memprof: CMD: <problem>; usage: <usage>", exit 1. */
static int fail(mp_opts *o, const char *fmt, const char *a, const char *b)
{
    char what[256];
    snprintf(what, sizeof(what), fmt, a, b);
    mp_error("%s: %s; usage: %s", o->spec->name, what, o->spec->usage);
    o->status = MP_EXIT_USAGE;
    return -1;
}

static int bad_value(mp_opts *o, const opt_def *d, const char *val)
{
    if (!val)
        return fail(o, "%s needs a value (%s)", d->name, d->want);
    char name_val[160];
    snprintf(name_val, sizeof(name_val), "%s value '%s'", d->name, val);
    return fail(o, "bad %s (want %s)", name_val, d->want);
}

void mp_opts_print_help(const mp_opts_spec *spec, FILE *out)
{
    fprintf(out, "usage: %s\n\n%s\n", spec->usage, spec->help);
    if (spec->allow)
        fputs("\noptions:\n", out);
    for (size_t k = 0; k < N_OPTS; k++) {
        const opt_def *d = &opt_table[k];
        if (!(spec->allow & d->bit))
            continue;
        char left[64];
        snprintf(left, sizeof(left), "%s%s%s%s%s", d->name, d->alias ? ", " : "",
                 d->alias ? d->alias : "", d->metavar ? " " : "", d->metavar ? d->metavar : "");
        fprintf(out, "  %-28s %s\n", left, d->help);
    }
    fprintf(out, "  %-28s %s\n", "-h, --help", "this text");
}

/* ---- parsing ---- */

/* A value of kind d->kind, checked against d's range; -1 when bad. */
static int parse_value(const opt_def *d, const char *val, uint64_t *v)
{
    switch (d->kind) {
    case K_FLAG:
        return 0;
    case K_COUNT:
        return val && mp_parse_u64(val, v) && *v <= d->max ? 0 : -1;
    case K_BYTES:
        return mp_opts_bytes(val, v, 1) == 0 && *v <= d->max ? 0 : -1;
    case K_WHAT:
    case K_WHAT_HEAP:
        for (int w = MP_WHAT_HEAP; val && w < MP_WHAT_COUNT; w++)
            if (strcmp(val, mp_stacktree_what_name((mp_what)w)) == 0) {
                if (d->kind == K_WHAT_HEAP && mp_stacktree_what_is_locks((mp_what)w))
                    return -1;
                *v = (uint64_t)w;
                return 0;
            }
        return -1;
    case K_PATH:
        return val ? 0 : -1;
    case K_LABELS:
        return mp_opts_labels_ok(val) ? 0 : -1;
    }
    return -1;
}

static int store(mp_opts *o, const opt_def *d, const char *val)
{
    uint64_t v = 0;
    if (parse_value(d, val, &v) < 0)
        return bad_value(o, d, val);
    switch (d->bit) {
    case MP_OPT_TOP: o->top = (size_t)v; break;
    case MP_OPT_JSON: o->json = 1; break;
    case MP_OPT_FAIL_OVER: o->fail_over = v; break;
    case MP_OPT_WHAT:
    case MP_OPT_WHAT_HEAP: o->what = (mp_what)v; break;
    case MP_OPT_OUT: o->out = val; break;
    case MP_OPT_LINES: o->lines = 1; break;
    case MP_OPT_LABELS: o->labels = val; break;
    case MP_OPT_SKIP: o->skip = val; break;
    case MP_OPT_FRAMES:
        if (v == 0)
            return bad_value(o, d, val);
        o->frames = (size_t)v;
        break;
    }
    o->given |= d->bit;
    return 0;
}

/* One option at argv[*i] (which starts with '-'). */
static int parse_option(mp_opts *o, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    for (size_t k = 0; k < N_OPTS; k++) {
        const opt_def *d = &opt_table[k];
        if (!(o->spec->allow & d->bit))
            continue;
        const char *names[2] = {d->name, d->alias};
        for (int a = 0; a < 2 && names[a]; a++) {
            const char *val = NULL;
            if (d->kind == K_FLAG) {
                if (strcmp(arg, names[a]) == 0)
                    return store(o, d, NULL);
                if (strncmp(arg, names[a], strlen(names[a])) == 0 &&
                    arg[strlen(names[a])] == '=')
                    return fail(o, "%s takes no value ('%s')", names[a], arg);
            } else if (mp_opts_value(argc, argv, i, names[a], &val)) {
                return store(o, d, val);
            }
        }
    }
    return fail(o, "unknown option '%s'%s", arg, "");
}

static int check_files(mp_opts *o)
{
    const mp_opts_spec *s = o->spec;
    if (o->n_files >= s->min_files && (!s->max_files || o->n_files <= s->max_files))
        return 0;
    char want[64], got[32];
    if (!s->max_files)
        snprintf(want, sizeof(want), "at least %zu snapshot file%s", s->min_files,
                 s->min_files == 1 ? "" : "s");
    else if (s->min_files == s->max_files)
        snprintf(want, sizeof(want), "%zu snapshot file%s", s->min_files,
                 s->min_files == 1 ? "" : "s");
    else
        snprintf(want, sizeof(want), "%zu %s %zu snapshot files", s->min_files,
                 s->max_files == s->min_files + 1 ? "or" : "to", s->max_files);
    snprintf(got, sizeof(got), "%zu", o->n_files);
    return fail(o, "wants %s, got %s", want, got);
}

int mp_opts_parse(const mp_opts_spec *spec, int argc, char **argv, mp_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->spec = spec;
    o->top = 20;
    o->what = MP_WHAT_HEAP;
    o->frames = 4;
    o->files = mp_xcalloc(argc > 0 ? (size_t)argc : 1, sizeof(char *));
    int opts = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts && strcmp(a, "--") == 0) {
            opts = 0;
        } else if (opts && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            mp_opts_print_help(spec, stdout);
            o->status = fflush(stdout) == 0 ? MP_EXIT_OK : MP_EXIT_USAGE;
            return -1;
        } else if (opts && a[0] == '-' && a[1] != '\0') {
            if (parse_option(o, argc, argv, &i) < 0)
                return -1;
        } else {
            o->files[o->n_files++] = argv[i];
        }
    }
    return check_files(o);
}

void mp_opts_free(mp_opts *o)
{
    free(o->files);
    o->files = NULL;
    o->n_files = 0;
}

size_t mp_opts_limit(const mp_opts *o, size_t n)
{
    return o->top == 0 || o->top > n ? n : o->top;
}

/* ---- the same under the names launcher.c calls (declared in sites.h)
 * until its split into cmd_run.c and cmd_snapshot.c lands ---- */

int mp_rep_parse_u64(const char *s, uint64_t *out, int suffixes)
{
    return mp_opts_bytes(s, out, suffixes);
}

int mp_rep_opt_value(int argc, char **argv, int *i, const char *name, const char **val)
{
    return mp_opts_value(argc, argv, i, name, val);
}
