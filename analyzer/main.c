/*
 * main.c - the `memprof` entry point: picks the command named by argv[1]
 * and hands it the rest of the arguments (argv[0] of the command is its
 * own name, as analyzer.h documents).
 */
#include <stdio.h>
#include <string.h>

#include "analyzer.h"

#define MEMPROF_VERSION "0.1.0"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
} command;

static const command commands[] = {
    {"run", cmd_run},         {"snapshot", cmd_snapshot}, {"report", cmd_report},
    {"diff", cmd_diff},       {"locks", cmd_locks},       {"flame", cmd_flame},
    {"folded", cmd_folded},   {"pprof", cmd_pprof},       {"attach", cmd_attach},
    {"detach", cmd_detach},   {"enable", cmd_enable},     {"disable", cmd_disable},
};

static const char usage_text[] =
    "usage: memprof COMMAND [ARGS]\n"
    "\n"
    "Run a program under the profiler:\n"
    "  run [-o DIR] [--sample BYTES] [--interval SECS] [--signal SIG] [--no-locks] -- PROG [ARGS]\n"
    "  snapshot PID                      ask a running profiled process for a snapshot now\n"
    "  attach PID [-o DIR] [--sample BYTES] [--interval SECS] [--no-locks]\n"
    "                                    profile a running process started without memprof\n"
    "  detach PID                        a last snapshot, then stop profiling an attached process\n"
    "  enable PID, disable PID           switch a dormant (MEMPROF_START=off) or attached\n"
    "                                    process between recording and dormant\n"
    "\n"
    "Analyse snapshot files (*.mprof):\n"
    "  report FILE [--top N] [--json]    live heap ranked by allocation site\n"
    "  diff OLD NEW [MORE...] [--top N] [--json] [--fail-over BYTES]\n"
    "                                    sites ranked by live-heap growth\n"
    "  locks [OLD] FILE [--top N] [--json]\n"
    "                                    contended locks ranked by wait time\n"
    "  flame [OLD] FILE [--what heap|alloc|locks] [-o OUT.svg]\n"
    "                                    interactive SVG flame graph\n"
    "  folded FILE [--what heap|alloc|locks]\n"
    "                                    folded stacks, root first\n"
    "  pprof FILE [--what heap|alloc|locks] -o OUT.pb.gz\n"
    "                                    gzipped pprof profile\n"
    "\n"
    "  --help                            this text\n"
    "  --version                         the version\n"
    "\n"
    "Exit status: 0 success, 1 usage error, 2 unreadable or corrupt input,\n"
    "3 --fail-over gate tripped.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return MP_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return MP_EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") || !strcmp(cmd, "version")) {
        printf("memprof %s (snapshot format %u)\n", MEMPROF_VERSION, MP_VERSION);
        return MP_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    mp_error("unknown command '%s' (try 'memprof --help')", cmd);
    return MP_EXIT_USAGE;
}
