/*
 * attach.h - `memprof attach` (cmd_attach.c: options, refusals, result),
 * its injector (attach_gdb.c) and whose its request socket is
 * (attach_socket.c).
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

/* Whether @memprof.PID is absent, the shim's in pid (its inode in one of
 * pid's descriptor tables), or someone else's. */
enum mp_sock_owner { MP_SOCK_NONE, MP_SOCK_OURS, MP_SOCK_FOREIGN };
enum mp_sock_owner mp_attach_socket_owner(pid_t pid);
/* "process N (uid U)" of the listener on @memprof.PID, when we share its
 * network namespace; "another process" otherwise. */
void mp_attach_socket_holder(pid_t pid, char *who, size_t cap);

#endif
