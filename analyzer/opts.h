/*
 * opts.h - the analysis commands' one command-line parser.
 *
 * Every option any analysis command takes is defined once, in opts.c's
 * table (name, value kind, range, help line); a command says which of them
 * it accepts (mp_opts_spec.allow) and how many snapshot files it wants.
 * main.c's command table holds each command's spec and calls the command
 * with the parsed result, so no command reads argv itself and all of them
 * answer --help, reject unknown options and report bad values alike:
 *
 *   memprof: CMD: <what is wrong>; usage: <the command's usage line>
 *
 * and exit status 1 (MP_EXIT_USAGE); --help prints the usage to stdout and
 * exits 0. Syntax: "--name VALUE" or "--name=VALUE", "-o FILE", options and
 * files in any order, "--" ends the options, a later option overrides an
 * earlier one.
 */
#ifndef MEMPROF_OPTS_H
#define MEMPROF_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stacktree.h"

/* The options, as bits of mp_opts_spec.allow and mp_opts.given. */
enum {
    MP_OPT_TOP = 1u << 0,        /* --top N: rows shown, 0 = all (default 20) */
    MP_OPT_JSON = 1u << 1,       /* --json */
    MP_OPT_FAIL_OVER = 1u << 2,  /* --fail-over BYTES (K/M/G suffixes) */
    MP_OPT_WHAT = 1u << 3,       /* --what heap|alloc|locks (default heap) */
    MP_OPT_OUT = 1u << 4,        /* -o/--output FILE ("-" = stdout) */
    MP_OPT_LINES = 1u << 5,      /* --lines: one frame per function and line */
    MP_OPT_LABELS = 1u << 6,     /* --labels k=v,...: pprof labels on every sample */
    MP_OPT_FRAMES = 1u << 7,     /* --frames N: frames per stack in text (default 4) */
    MP_OPT_SKIP = 1u << 8,       /* --skip REGEX: more allocator wrappers to fold in text */
    MP_OPT_WHAT_HEAP = 1u << 9,  /* --what of the heap views only (report) */
};

typedef struct mp_opts_spec {
    const char *name;            /* "report" */
    const char *usage;           /* "memprof report FILE [--top N] [--json]" */
    const char *help;            /* one line: what the command shows */
    unsigned allow;              /* MP_OPT_* bits */
    size_t min_files, max_files; /* snapshot files; max 0 = no limit */
} mp_opts_spec;

typedef struct mp_opts {
    const mp_opts_spec *spec;
    char **files;                /* positional arguments, in order */
    size_t n_files;
    unsigned given;              /* MP_OPT_* bits seen on the command line */
    size_t top;
    int json;
    uint64_t fail_over;
    mp_what what;
    const char *out;             /* NULL = stdout */
    int lines;
    const char *labels;          /* as given, checked by mp_opts_labels_ok */
    size_t frames;               /* text: frames shown per stack, >= 1 */
    const char *skip;            /* --skip, NULL = the built-in wrappers only */
    int status;                  /* after mp_opts_parse < 0: the exit status */
} mp_opts;

/*
 * Parses argv (argv[0] = the command name) against spec. Returns 0 to go
 * on, or -1 when the command must stop with o->status: 0 after printing
 * --help, MP_EXIT_USAGE after printing one "memprof: ..." error line.
 * Free with mp_opts_free either way.
 */
int mp_opts_parse(const mp_opts_spec *spec, int argc, char **argv, mp_opts *o);
void mp_opts_free(mp_opts *o);
/* The --help text: usage, the help line and the accepted options. */
void mp_opts_print_help(const mp_opts_spec *spec, FILE *out);
/* min(top, n) with top 0 meaning all. */
size_t mp_opts_limit(const mp_opts *o, size_t n);
/* outfile.c: the output -o names (stdout without -o or for "-"); prints an error and
 * returns NULL when it cannot be created. */
FILE *mp_opts_open_out(const mp_opts *o);
/* Closes (or flushes) what mp_opts_open_out returned; an exit status, with
 * one error line when anything failed to be written. */
int mp_opts_close_out(const mp_opts *o, FILE *out);

/*
 * Building blocks, also used by launcher.c's `run` options (through the
 * mp_fmt_* names in sites.h until its split lands):
 * mp_opts_bytes: decimal u64, with `suffixes` also K, M or G (powers of
 * 1024) optionally followed by "B" or "iB" ("16M", "16MiB"); 0 or -1.
 * mp_opts_value: matches argv[*i] against "NAME V" or "NAME=V": returns 1
 * and sets *val (NULL when V is missing), advancing *i past a separate V;
 * 0 when argv[*i] is not NAME.
 */
int mp_opts_bytes(const char *s, uint64_t *out, int suffixes);
/* Whether s is a valid --labels list: "k=v[,k=v...]" (see opts.c). */
bool mp_opts_labels_ok(const char *s);
int mp_opts_value(int argc, char **argv, int *i, const char *name, const char **val);

#endif
