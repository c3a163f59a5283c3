/*
 * cmd.h - the analysis commands, one file each (cmd_report.c, ...). main.c's
 * command table holds each one's name, help line, usage and options
 * (an mp_opts_spec) and calls it with its parsed command line; a command
 * returns its exit status (analyzer.h). `run` and `snapshot` (launcher.c)
 * still take argv: see analyzer.h.
 */
#ifndef MEMPROF_CMD_H
#define MEMPROF_CMD_H

#include "opts.h"

int cmd_report_main(const mp_opts *o);
int cmd_diff_main(const mp_opts *o);
int cmd_locks_main(const mp_opts *o);
int cmd_flame_main(const mp_opts *o);
int cmd_folded_main(const mp_opts *o);
int cmd_pprof_main(const mp_opts *o);
int cmd_html_main(const mp_opts *o);

#endif
