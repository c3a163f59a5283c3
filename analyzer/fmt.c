/*
 * fmt.c - how a number, a stack or a snapshot is shown, in text and JSON
 * (see fmt.h).
 * One place, so the three commands look and behave alike.
 */
#include "fmt.h"

#include "frameview.h"
#include "util.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- numbers ---- */

static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};

/* m scaled to the largest binary unit that keeps it >= 1; u indexes units. */
static double scale_bytes(uint64_t m, int *u)
{
    double d = (double)m;
    for (*u = 0; d >= 1024 && *u < 6; (*u)++)
        d /= 1024;
    return d;
}

static uint64_t magnitude(int64_t v) { return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; }

static const char *fmt_bytes(char buf[32], const char *sign, uint64_t m)
{
    int u;
    double d = scale_bytes(m, &u);
    if (m < 1024)
        snprintf(buf, 32, "%s%" PRIu64 " B", sign, m);
    else
        snprintf(buf, 32, "%s%.1f %s", sign, d, units[u]);
    return buf;
}

const char *mp_fmt_bytes(char buf[32], int64_t v, int plus)
{
    return fmt_bytes(buf, v < 0 ? "-" : plus ? "+" : "", magnitude(v));
}

const char *mp_fmt_size(char buf[32], uint64_t v) { return fmt_bytes(buf, "", v); }

static const char *fmt_short(char buf[16], const char *sign, uint64_t m)
{
    int u;
    double d = scale_bytes(m, &u);
    if (m < 1024)
        snprintf(buf, 16, "%s%" PRIu64, sign, m);
    else
        snprintf(buf, 16, d < 9.95 ? "%s%.1f%c" : "%s%.0f%c", sign, d, units[u][0]);
    return buf;
}

const char *mp_fmt_bytes_short(char buf[16], int64_t v)
{
    return fmt_short(buf, v < 0 ? "-" : "", magnitude(v));
}

const char *mp_fmt_size_short(char buf[16], uint64_t v) { return fmt_short(buf, "", v); }

int64_t mp_fmt_delta(uint64_t newer, uint64_t older)
{
    if (newer >= older)
        return newer - older > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)(newer - older);
    return older - newer > (uint64_t)INT64_MAX ? -INT64_MAX : -(int64_t)(older - newer);
}

uint64_t mp_fmt_hold_rate(const mp_meta *m)
{
    unsigned k = (unsigned)((m->flags & MP_META_HOLD_RATE_MASK) >> MP_META_HOLD_RATE_SHIFT);
    return k < 32 ? 1ull << k : 0;   /* a larger k is a damaged file: 0, "unknown" */
}

const char *mp_fmt_ns(char buf[32], uint64_t ns)
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

/* ---- untrusted text ---- */

/* ---- stacks ---- */

/* Modules of frames printed without a function name (interned strings:
 * compared by pointer), for mp_fmt_unnamed_note. */
#define UNNAMED_MODULES_MAX 4
static const char *unnamed[UNNAMED_MODULES_MAX];
static size_t n_unnamed, n_unnamed_more;

static void note_unnamed(const char *module)
{
    for (size_t i = 0; i < n_unnamed; i++)
        if (unnamed[i] == module)
            return;
    if (n_unnamed < UNNAMED_MODULES_MAX)
        unnamed[n_unnamed++] = module;
    else
        n_unnamed_more++;
}

void mp_fmt_unnamed_note(FILE *out)
{
    if (!n_unnamed)
        return;
    fputs("note: frames without a function name are in ", out);
    for (size_t i = 0; i < n_unnamed; i++) {
        fputs(i ? ", " : "", out);
        mp_put_text(out, mp_basename(unnamed[i]));
    }
    if (n_unnamed_more)
        fprintf(out, " and %zu more", n_unnamed_more);
    fputs(": stripped, and no debug file found for them; install their debug symbols "
          "(Debian: the -dbgsym packages of the debug archive) to name those frames\n", out);
}

void mp_fmt_frame(FILE *out, const mp_frame *f)
{
    if ((!f->function || strcmp(f->function, "??") == 0) && !f->file && f->module &&
        strcmp(f->module, "??") != 0 && *f->module == '/')
        note_unnamed(f->module);
    mp_frameview_put_name(out, f->function ? f->function : "??");
    fputs(" (", out);
    if (f->file && f->line > 0) {
        mp_put_text(out, mp_basename(f->file));
        fprintf(out, ":%d)", f->line);
    } else if (f->file) {
        mp_put_text(out, mp_basename(f->file));
        fputc(')', out);
    } else if (f->module && strcmp(f->module, "??") != 0) {
        mp_put_text(out, mp_basename(f->module));
        fprintf(out, "+0x%" PRIx64 ")", f->elf_address);
    } else
        fprintf(out, "0x%" PRIx64 ")", f->address);
}

void mp_fmt_stack(FILE *out, const mp_symstack *st, int callers, int indent)
{
    if (!st || st->n == 0) {
        fputs("(unknown stack)\n", out);
        return;
    }
    size_t first = mp_frameview_first(st);
    mp_fmt_frame(out, &st->frames[first]);
    fputc('\n', out);
    size_t last = st->n - 1 - first < (size_t)callers ? st->n - 1 : first + (size_t)callers;
    for (size_t i = first + 1; i <= last; i++) {
        fprintf(out, "%*s<- ", indent, "");
        mp_fmt_frame(out, &st->frames[i]);
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
    case MP_TRIGGER_EXEC: return "exec";
    case MP_TRIGGER_DETACH: return "detach";
    default: return "unknown trigger";
    }
}

void mp_fmt_header(FILE *out, const char *cmd, const mp_snapshot *snap)
{
    const mp_meta *m = snap->meta;
    char when[64] = "?", up[32], rate[112];
    time_t secs = (time_t)(m->time_ns / 1000000000);
    struct tm tm;
    if (localtime_r(&secs, &tm))
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    mp_fmt_ns(up, m->time_ns > m->start_time_ns ? m->time_ns - m->start_time_ns : 0);
    if (cmd && strcmp(cmd, "locks") == 0) {   /* the heap's sampling rate means nothing here */
        char b[32];
        uint64_t holds = mp_fmt_hold_rate(m);
        if (m->lock_profiling > 1 && holds > 1)
            snprintf(rate, sizeof(rate),
                     "waits under %s and contended holds 1 in %" PRIu64
                     " sampled, weighted (estimates)",
                     mp_fmt_ns(b, m->lock_profiling), holds);
        else if (m->lock_profiling > 1)
            snprintf(rate, sizeof(rate), "waits under %s sampled, weighted (estimates)",
                     mp_fmt_ns(b, m->lock_profiling));
        else
            snprintf(rate, sizeof(rate), "%s", m->lock_profiling ? "every contention recorded"
                                                                 : "lock profiling off");
    }
    else if (m->sample_bytes <= 1)
        snprintf(rate, sizeof(rate), "exact (every allocation)");
    else {
        char b[32];
        snprintf(rate, sizeof(rate), "sampled every %s", mp_fmt_size(b, m->sample_bytes));
    }
    if (cmd)
        fprintf(out, "memprof %s: ", cmd);
    mp_put_text(out, mp_snapshot_str(snap, m->prog));
    fprintf(out, " (pid %" PRIu64 "), snapshot %" PRIu64 " (%s) at %s, %s after %s; %s\n",
            m->pid, m->seq, trigger_name(m->trigger), when, up,
            (m->flags & MP_META_ATTACHED) ? "attach" : "start", rate);
}

void mp_fmt_counters(FILE *out, const mp_snapshot *snap)
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
    /* Not an underestimate: the frames are there, their names are not. */
    if (c->modules_forgotten)
        fprintf(out, "warning: %" PRIu64 " module records forgotten (the program loaded "
                "more objects than the shim's table holds; the oldest unloaded ones go "
                "first): frames into them show as ??\n", c->modules_forgotten);
    if (c->unwind_mismatches)   /* MEMPROF_UNWIND_CHECK=1, a debugging mode */
        fprintf(out, "note: %" PRIu64 " stacks of the fast unwinder differ from libunwind's\n",
                c->unwind_mismatches);
    /* Not lost either, but never recorded: the process was told not to. */
    if (c->dormant_ns) {
        const mp_meta *m = snap->meta;
        char off[32], all[32];
        mp_fmt_ns(off, c->dormant_ns);
        mp_fmt_ns(all, m->time_ns > m->start_time_ns ? m->time_ns - m->start_time_ns : 0);
        fprintf(out, "note: recording was off (dormant) for %s of the %s since %s: what was "
                "allocated or contended then is not counted\n", off, all,
                (m->flags & MP_META_ATTACHED) ? "attach" : "start");
    }
    /* Stalls lose nothing, but they mean the profiler slowed the program. */
    if (c->events_stalled)
        fprintf(out, "note: %" PRIu64 " events stalled waiting for the profiler "
                "(no data lost, timings may be inflated)\n", c->events_stalled);
}

void mp_fmt_json_frames(FILE *out, const mp_symstack *st)
{
    if (st)
        mp_json_frames(out, st);
    else
        fputs("[]", out);
}

void mp_fmt_json_meta(FILE *out, const mp_snapshot *snap)
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
            ", \"lock_events_dropped\": %" PRIu64 ", \"threads_seen\": %" PRIu64
            ", \"unwind_mismatches\": %" PRIu64 ", \"modules_forgotten\": %" PRIu64
            ", \"dormant_ns\": %" PRIu64 "}",
            c->samples, c->sampled_frees, c->events_stalled, c->events_dropped,
            c->unwind_failures, c->stack_table_full, c->addrset_full,
            c->lock_contentions, c->lock_events_dropped, c->threads_seen,
            c->unwind_mismatches, c->modules_forgotten, c->dormant_ns);
}
