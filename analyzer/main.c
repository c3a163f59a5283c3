/*
 * main.c - the `memprof` entry point and its one command table.
 *
 * Each command has a name, a one-line help, a usage line and, for the
 * analysis commands, the options and file counts it accepts (opts.h): main
 * parses the command line against that and calls the command with the
 * result, so every command answers --help and rejects bad options the same
 * way. `run` and `snapshot` (launcher.c) still parse their own argv; main
 * answers their --help from this table.
 *
 * To add a command: write cmd_NAME.c with cmd_NAME_main(const mp_opts *),
 * declare it in cmd.h, add a row below (and any new option to opts.c's
 * table).
 *
 * The analyzer's layers, each using only those below it (a file's symbol
 * prefix names the file: mp_sites_* in sites.c, cmd_report_main in
 * cmd_report.c):
 *   commands  main.c (dispatch), opts.c (the option parser), cmd_*.c (one
 *             per command), launcher.c (run, snapshot), fmt.c (how numbers,
 *             stacks and headers look), flame_svg.c (the SVG renderer)
 *   model     sites.c (heap sites by symbolic stack), locktab.c (locks),
 *             keymap.c (stack key -> index), stacktree.c (call trees and
 *             the measurement iterator of the exports)
 *   load      reader.c (validated snapshot, analyzer.h), symbolize.c
 *             (addresses -> frames), elffile.c (a module's ELF symbols)
 *   helpers   util.c (errors, allocation, parsing), hashmap.c (the one hash
 *             table), strtab.c (string interning), json.c, protobuf.c
 */
#include <stdio.h>
#include <string.h>

#include "analyzer.h"
#include "cmd.h"

#define MEMPROF_VERSION "0.1.0"

typedef struct command {
    mp_opts_spec spec;                     /* name, usage, help, options */
    int (*main)(const mp_opts *o);         /* analysis commands */
    int (*argv_main)(int argc, char **argv); /* run, snapshot: raw argv */
    void (*options_help)(FILE *out);       /* argv commands with options */
} command;

static const command commands[] = {
    {{"run", "memprof run [-o DIR] [--sample BYTES] [--interval SECS] [--signal SIG] "
             "[--no-locks] -- PROG [ARGS]",
      "run PROG under the profiler, writing snapshots (*.mprof) to DIR", 0, 0, 0},
     .argv_main = cmd_run, .options_help = cmd_run_help},
    {{"snapshot", "memprof snapshot PID",
      "ask a running profiled process for a snapshot now", 0, 0, 0},
     .argv_main = cmd_snapshot},
    {{"attach", "memprof attach PID [-o DIR] [--sample BYTES] [--interval SECS] [--no-locks]",
      "profile a running process that was started without memprof", 0, 0, 0},
     .argv_main = cmd_attach, .options_help = cmd_attach_help},
    {{"detach", "memprof detach PID",
      "a last snapshot, then the attached process runs unprofiled again", 0, 0, 0},
     .argv_main = cmd_detach},
    {{"enable", "memprof enable PID",
      "a dormant (MEMPROF_START=off) or disabled process records from now on", 0, 0, 0},
     .argv_main = cmd_enable},
    {{"disable", "memprof disable PID",
      "a profiled process records nothing from now on (dormant)", 0, 0, 0},
     .argv_main = cmd_disable},
    {{"report", "memprof report FILE [MORE...] [--what heap|peak|alloc|temporary] [--top N] "
                "[--frames N] [--skip REGEX] [--json]",
      "live heap ranked by allocation site (several files: added up, one per process)",
      MP_OPT_TOP | MP_OPT_JSON | MP_OPT_WHAT_HEAP | MP_OPT_FRAMES | MP_OPT_SKIP, 1, 0},
     .main = cmd_report_main},
    {{"diff", "memprof diff OLD NEW [MORE...] [--top N] [--frames N] [--skip REGEX] [--json] "
              "[--fail-over BYTES]",
      "sites ranked by live-heap growth from the first file to the last",
      MP_OPT_TOP | MP_OPT_JSON | MP_OPT_FAIL_OVER | MP_OPT_FRAMES | MP_OPT_SKIP, 2, 0},
     .main = cmd_diff_main},
    {{"locks", "memprof locks [OLD] FILE [--top N] [--json]",
      "contended locks ranked by wait time (since OLD when given)",
      MP_OPT_TOP | MP_OPT_JSON, 1, 2},
     .main = cmd_locks_main},
    {{"flame", "memprof flame [OLD] FILE [--what heap|alloc|locks|locks-holders|peak|temporary] [--lines] "
              "[-o OUT.svg]",
      "interactive SVG flame graph (differential with OLD)",
      MP_OPT_WHAT | MP_OPT_OUT | MP_OPT_LINES, 1, 2},
     .main = cmd_flame_main},
    {{"folded", "memprof folded FILE [MORE...] [--what heap|alloc|locks|locks-holders|peak|temporary] [--lines]",
      "folded stacks, root first, one line per stack (several files: added up)",
      MP_OPT_WHAT | MP_OPT_LINES, 1, 0},
     .main = cmd_folded_main},
    {{"pprof", "memprof pprof FILE [MORE...] [--what heap|alloc|locks|locks-holders|peak|temporary] "
               "[--labels K=V,...] -o OUT.pb.gz",
      "gzipped pprof profile (several files: added up)", MP_OPT_WHAT | MP_OPT_OUT | MP_OPT_LABELS,
      1, 0},
     .main = cmd_pprof_main},
    {{"html", "memprof html FILE... -o OUT.html [--top N] [--lines]",
      "one self-contained HTML page: summary, heap over time, growth, flame graphs, locks",
      MP_OPT_TOP | MP_OPT_OUT | MP_OPT_LINES, 1, 0},
     .main = cmd_html_main},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fputs("usage: memprof COMMAND [ARGS]     (memprof COMMAND --help for one command)\n"
          "\ncommands:\n", out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-9s %s\n            %s\n", commands[i].spec.name, commands[i].spec.help,
                commands[i].spec.usage + strlen("memprof "));
    fputs("\n  --help    this text\n"
          "  --version the version\n"
          "\n"
          "Exit status: 0 success, 1 usage error, 2 unreadable or corrupt input,\n"
          "3 --fail-over gate tripped.\n", out);
}

static int is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h");
}

static int dispatch(const command *c, int argc, char **argv)
{
    if (c->argv_main) {
        if (argc > 1 && is_help(argv[1])) {  /* launcher.c does not know --help */
            printf("usage: %s\n\n%s\n", c->spec.usage, c->spec.help);
            if (c->options_help)
                c->options_help(stdout);
            return fflush(stdout) == 0 ? MP_EXIT_OK : MP_EXIT_USAGE;
        }
        return c->argv_main(argc, argv);
    }
    mp_opts o;
    int rc = mp_opts_parse(&c->spec, argc, argv, &o) < 0 ? o.status : c->main(&o);
    mp_opts_free(&o);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return MP_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (is_help(cmd) || !strcmp(cmd, "help")) {
        usage(stdout);
        return MP_EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") || !strcmp(cmd, "version")) {
        printf("memprof %s (snapshot format %u)\n", MEMPROF_VERSION, MP_VERSION);
        return MP_EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(cmd, commands[i].spec.name))
            return dispatch(&commands[i], argc - 1, argv + 1);
    mp_error("unknown command '%s' (try 'memprof --help')", cmd);
    return MP_EXIT_USAGE;
}
