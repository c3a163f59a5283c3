/*
 * sites_fmt.c - what report, diff and locks share besides the data: their
 * option parsing and the way a number, a stack or a snapshot is shown.
 * One place, so the three commands look and behave alike.
 */
#include "sites.h"
#include "util.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- arguments ---- */

int mp_rep_parse_u64(const char *s, uint64_t *out, int suffixes)
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

int mp_rep_opt_value(int argc, char **argv, int *i, const char *name, const char **val)
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

static int parse_one(int argc, char **argv, int *i, unsigned allow, mp_rep_args *a,
                     const char *usage)
{
    const char *arg = argv[*i], *val;
    uint64_t v;
    if (strcmp(arg, "--json") == 0) {
        a->json = 1;
    } else if (mp_rep_opt_value(argc, argv, i, "--top", &val)) {
        if (mp_rep_parse_u64(val, &v, 0) < 0 || v > SIZE_MAX) {
            mp_error("%s: bad --top value '%s' (want a count, 0 = all); usage: %s",
                     a->cmd, val ? val : "(missing)", usage);
            return -1;
        }
        a->top = (size_t)v;
    } else if ((allow & MP_OPT_FAIL_OVER) && mp_rep_opt_value(argc, argv, i, "--fail-over", &val)) {
        if (mp_rep_parse_u64(val, &a->fail_over, 1) < 0) {
            mp_error("%s: bad --fail-over value '%s' (want bytes, e.g. 1048576 or 1M); usage: %s",
                     a->cmd, val ? val : "(missing)", usage);
            return -1;
        }
        a->has_fail_over = 1;
    } else {
        mp_error("%s: unknown option '%s'; usage: %s", a->cmd, arg, usage);
        return -1;
    }
    return 0;
}

int mp_rep_parse_args(int argc, char **argv, unsigned allow, const char *usage,
                      mp_rep_args *a)
{
    memset(a, 0, sizeof(*a));
    a->cmd = argc > 0 ? argv[0] : "?";
    a->top = 20;
    a->files = mp_xcalloc(argc > 0 ? (size_t)argc : 1, sizeof(char *));
    int opts = 1;
    for (int i = 1; i < argc; i++) {
        if (opts && strcmp(argv[i], "--") == 0)
            opts = 0;
        else if (opts && argv[i][0] == '-' && argv[i][1] != '\0') {
            if (parse_one(argc, argv, &i, allow, a, usage) < 0) {
                mp_rep_args_free(a);
                return -1;
            }
        } else
            a->files[a->n_files++] = argv[i];
    }
    return 0;
}

void mp_rep_args_free(mp_rep_args *a)
{
    free(a->files);
    a->files = NULL;
    a->n_files = 0;
}

size_t mp_rep_limit(const mp_rep_args *a, size_t n)
{
    return a->top == 0 || a->top > n ? n : a->top;
}

/* ---- numbers ---- */

static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};

/* |v| scaled to the largest binary unit that keeps it >= 1; u indexes units. */
static double scale_bytes(int64_t v, uint64_t *magnitude, int *u)
{
    *magnitude = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    double d = (double)*magnitude;
    for (*u = 0; d >= 1024 && *u < 6; (*u)++)
        d /= 1024;
    return d;
}

const char *mp_rep_bytes(char buf[32], int64_t v, int plus)
{
    const char *sign = v < 0 ? "-" : plus ? "+" : "";
    uint64_t m;
    int u;
    double d = scale_bytes(v, &m, &u);
    if (m < 1024)
        snprintf(buf, 32, "%s%" PRIu64 " B", sign, m);
    else
        snprintf(buf, 32, "%s%.1f %s", sign, d, units[u]);
    return buf;
}

const char *mp_rep_bytes_short(char buf[16], int64_t v)
{
    const char *sign = v < 0 ? "-" : "";
    uint64_t m;
    int u;
    double d = scale_bytes(v, &m, &u);
    if (m < 1024)
        snprintf(buf, 16, "%s%" PRIu64, sign, m);
    else
        snprintf(buf, 16, d < 9.95 ? "%s%.1f%c" : "%s%.0f%c", sign, d, units[u][0]);
    return buf;
}

const char *mp_rep_ns(char buf[32], uint64_t ns)
{
    if (ns < 1000)
        snprintf(buf, 32, "%" PRIu64 " ns", ns);
    else if (ns < 1000000)
        snprintf(buf, 32, "%.1f us", ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, 32, "%.1f ms", ns / 1e6);
    else if (ns < UINT64_C(60000000000))
        snprintf(buf, 32, "%.2f s", ns / 1e9);
    else if (ns < UINT64_C(3600000000000))
        snprintf(buf, 32, "%" PRIu64 "m%02" PRIu64 "s", ns / UINT64_C(60000000000),
                 ns / 1000000000 % 60);
    else
        snprintf(buf, 32, "%" PRIu64 "h%02" PRIu64 "m", ns / UINT64_C(3600000000000),
                 ns / UINT64_C(60000000000) % 60);
    return buf;
}

/* ---- stacks ---- */

void mp_rep_frame(FILE *out, const mp_frame *f)
{
    fputs(f->function ? f->function : "??", out);
    if (f->file && f->line > 0)
        fprintf(out, " (%s:%d)", mp_basename(f->file), f->line);
    else if (f->file)
        fprintf(out, " (%s)", mp_basename(f->file));
    else if (f->module && strcmp(f->module, "??") != 0)
        fprintf(out, " (%s+0x%" PRIx64 ")", mp_basename(f->module), f->elf_address);
    else
        fprintf(out, " (0x%" PRIx64 ")", f->address);
}

void mp_rep_stack(FILE *out, const mp_symstack *st, int callers, int indent)
{
    if (!st || st->n == 0) {
        fputs("(unknown stack)\n", out);
        return;
    }
    mp_rep_frame(out, &st->frames[0]);
    fputc('\n', out);
    size_t last = st->n - 1 < (size_t)callers ? st->n - 1 : (size_t)callers;
    for (size_t i = 1; i <= last; i++) {
        fprintf(out, "%*s<- ", indent, "");
        mp_rep_frame(out, &st->frames[i]);
        fputc('\n', out);
    }
}

/* ---- snapshot header and counters ---- */

static const char *trigger_name(uint64_t t)
{
    switch (t) {
    case MP_TRIGGER_INTERVAL: return "timer";
    case MP_TRIGGER_SIGNAL: return "signal";
    case MP_TRIGGER_REQUEST: return "request";
    case MP_TRIGGER_EXIT: return "exit";
    default: return "unknown trigger";
    }
}

void mp_rep_header(FILE *out, const char *cmd, const mp_snapshot *snap)
{
    const mp_meta *m = snap->meta;
    char when[64] = "?", up[32], rate[48];
    time_t secs = (time_t)(m->time_ns / 1000000000);
    struct tm tm;
    if (localtime_r(&secs, &tm))
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    mp_rep_ns(up, m->time_ns > m->start_time_ns ? m->time_ns - m->start_time_ns : 0);
    if (m->sample_bytes <= 1)
        snprintf(rate, sizeof(rate), "exact (every allocation)");
    else {
        char b[32];
        snprintf(rate, sizeof(rate), "sampled every %s", mp_rep_bytes(b, (int64_t)m->sample_bytes, 0));
    }
    if (cmd)
        fprintf(out, "memprof %s: ", cmd);
    fprintf(out, "%s (pid %" PRIu64 "), snapshot %" PRIu64 " (%s) at %s, %s after %s; %s\n",
            mp_snapshot_str(snap, m->prog), m->pid, m->seq, trigger_name(m->trigger),
            when, up, (m->flags & MP_META_ATTACHED) ? "attach" : "start", rate);
}

void mp_rep_counters(FILE *out, const mp_snapshot *snap)
{
    const mp_counters *c = &snap->meta->counters;
    const struct { uint64_t v; const char *what; } lost[] = {
        {c->events_dropped, "events dropped"},
        {c->lock_events_dropped, "lock events dropped"},
        {c->unwind_failures, "stacks not captured (unwind failures)"},
        {c->stack_table_full, "samples lumped into the overflow stack (stack table full)"},
        {c->addrset_full, "samples whose frees cannot be tracked (address table full)"},
    };
    const char *sep = "warning: incomplete data, the numbers below are underestimates: ";
    for (size_t i = 0; i < sizeof(lost) / sizeof(lost[0]); i++) {
        if (lost[i].v) {
            fprintf(out, "%s%" PRIu64 " %s", sep, lost[i].v, lost[i].what);
            sep = ", ";
        }
    }
    if (sep[0] == ',')
        fputc('\n', out);
    /* Stalls lose nothing, but they mean the profiler slowed the program. */
    if (c->events_stalled)
        fprintf(out, "note: %" PRIu64 " events stalled waiting for the profiler "
                "(no data lost, timings may be inflated)\n", c->events_stalled);
}

void mp_rep_json_frames(FILE *out, const mp_symstack *st)
{
    if (st)
        mp_json_frames(out, st);
    else
        fputs("[]", out);
}

void mp_rep_json_meta(FILE *out, const mp_snapshot *snap)
{
    const mp_meta *m = snap->meta;
    const mp_counters *c = &m->counters;
    fputs("\"program\": ", out);
    mp_json_string(out, mp_snapshot_str(snap, m->prog));
    fprintf(out, ", \"pid\": %" PRIu64 ", \"seq\": %" PRIu64 ", \"time_ns\": %" PRIu64
            ", \"trigger\": \"%s\", \"sample_bytes\": %" PRIu64,
            m->pid, m->seq, m->time_ns, trigger_name(m->trigger), m->sample_bytes);
    /* SPEC: "attached" marks a process profiled by `memprof attach`, which
     * counts only what happened after attach_time_ns. */
    bool attached = (m->flags & MP_META_ATTACHED) != 0;
    fprintf(out, ", \"attached\": %s", attached ? "true" : "false");
    if (attached)
        fprintf(out, ", \"attach_time_ns\": %" PRIu64, m->start_time_ns);
    fprintf(out, ", \"counters\": {\"samples\": %" PRIu64 ", \"sampled_frees\": %" PRIu64
            ", \"events_stalled\": %" PRIu64 ", \"events_dropped\": %" PRIu64
            ", \"unwind_failures\": %" PRIu64 ", \"stack_table_full\": %" PRIu64
            ", \"addrset_full\": %" PRIu64 ", \"lock_contentions\": %" PRIu64
            ", \"lock_events_dropped\": %" PRIu64 ", \"threads_seen\": %" PRIu64 "}",
            c->samples, c->sampled_frees, c->events_stalled, c->events_dropped,
            c->unwind_failures, c->stack_table_full, c->addrset_full,
            c->lock_contentions, c->lock_events_dropped, c->threads_seen);
}
