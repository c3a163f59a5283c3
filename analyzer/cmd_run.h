/*
 * cmd_run.h - what `memprof run` (cmd_run.c) shares with `memprof attach`
 * (cmd_attach.c): finding the shim and the settings options. Apart from
 * analyzer.h because include/memprof_options.h's MP_OPT_* names are not
 * opts.h's.
 */
#ifndef MEMPROF_CMD_RUN_H
#define MEMPROF_CMD_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "memprof_options.h"

/* The absolute path of libmemprof.so, or
 * -1 with a message naming cmd. */
int mp_find_shim(char *out, const char *cmd);
/* The settings `run` and `attach` take as options: the flags of
 * include/memprof_options.h's table, checked by the shim's own parser. */
typedef struct mp_settings {
    const char *text[MP_OPT_COUNT];   /* as given; NULL = not given */
    uint64_t value[MP_OPT_COUNT];     /* parsed */
} mp_settings;
/* argv[*i] as one of the table's flags: 1 with o filled, 0 when it is none
 * of them, -1 (one "memprof: CMD: ..." line printed) for a bad value. */
int mp_settings_flag(const char *cmd, const char *usage, int argc, char **argv, int *i,
                     mp_settings *o);
/* The "options:" part of --help: each flag of the table that keep(id)
 * takes (NULL: all), with its help line and the variable it sets. */
void mp_settings_help(FILE *out, bool (*keep)(unsigned id));
/* A given setting's value in its canonical spelling (paths absolute). */
void mp_settings_text(const mp_settings *o, unsigned id, char *buf, size_t cap);

#endif
