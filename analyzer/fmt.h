/*
 * fmt.h - how the commands show things (fmt.c): byte counts, durations,
 * frames and stacks, the snapshot header and counters line, and the JSON
 * forms of stacks and snapshot metadata. One place, so report, diff, locks
 * and flame look alike.
 */
#ifndef MEMPROF_FMT_H
#define MEMPROF_FMT_H

#include <stdint.h>
#include <stdio.h>

#include "analyzer.h"

/* "1.5 MiB"; with plus, non-negative values get a leading '+'. */
const char *mp_fmt_bytes(char buf[32], int64_t v, int plus);
/* Compact form for series columns: "512", "1.5K", "12M". */
const char *mp_fmt_bytes_short(char buf[16], int64_t v);
/* The same for sizes, which are unsigned: 2^64-1 is "16.0 EiB", not "-1 B". */
const char *mp_fmt_size(char buf[32], uint64_t v);
const char *mp_fmt_size_short(char buf[16], uint64_t v);
/* newer - older as a signed delta, saturated at +/-INT64_MAX rather than
   wrapping (a counter near 2^64 that grew must not print as a shrink). */
int64_t mp_fmt_delta(uint64_t newer, uint64_t older);
/* "850 ns", "12.3 ms", "4.56 s", "2m03s". */
const char *mp_fmt_ns(char buf[32], uint64_t ns);
/* 1 in how many contended holds the shim timed (mp_meta.flags): 1 when
   every one was (older files). */
uint64_t mp_fmt_hold_rate(const mp_meta *m);
/* "function (file:line)", or "function (module)" when the line is unknown. */
void mp_fmt_frame(FILE *out, const mp_frame *f);
/* One "note:" line naming the modules of the frames mp_fmt_frame printed
 * without a function name, and how to get them named; nothing if none. */
void mp_fmt_unnamed_note(FILE *out);
/*
 * The innermost frame on the current line, then up to `callers` callers on
 * their own lines, each indented by `indent` spaces and prefixed "<- ".
 * Ends with a newline. A NULL or empty stack prints "(unknown stack)".
 */
void mp_fmt_stack(FILE *out, const mp_symstack *st, int callers, int indent);
/* One line: program, pid, seq, trigger, time, sampling rate; prefixed
 * "memprof CMD: " unless cmd is NULL. */
void mp_fmt_header(FILE *out, const char *cmd, const mp_snapshot *snap);
/* Lines warning that counters show lost or partial data; nothing if clean. */
void mp_fmt_counters(FILE *out, const mp_snapshot *snap);
/* JSON helpers: frames of a possibly-NULL stack, the meta and counters objects. */
void mp_fmt_json_frames(FILE *out, const mp_symstack *st);
void mp_fmt_json_meta(FILE *out, const mp_snapshot *snap);

#endif
