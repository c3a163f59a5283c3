/*
 * attach.h - `memprof attach` (cmd_attach.c: options, refusals, result)
 * and its injector (attach_gdb.c).
 */
#ifndef MEMPROF_ATTACH_H
#define MEMPROF_ATTACH_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Has gdb load shim into pid and call memprof_attach(config), waiting at
 * most wait_s seconds for a safe point. Returns 0 when profiling runs;
 * otherwise -1, with the script's verdict in result ("fail <what> ...",
 * see attach_gdb.c). Whatever happens, gdb is gone and the process runs
 * on when this returns.
 */
int mp_attach_inject(pid_t pid, const char *shim, const char *config, unsigned wait_s,
                     char *result, size_t cap);

#endif
