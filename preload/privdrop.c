/*
 * privdrop.c - the setuid family, for servers that drop privileges after
 * start (nginx's workers become www-data, memcached -u becomes memcache).
 *
 * Such a worker cannot write into the output directory root created (0700,
 * as SPEC wants), and root cannot know at start which user the workers
 * will be. The moment of the drop is the one place where both are known:
 * still root, the process is about to become uid. So each interposer first
 * has root create "uid-<uid>" in the output directory, owned by uid and
 * 0700 (snapfile.c), where the worker's snapshots then go; every file in
 * it is 0600, so the worker's snapshots stay unreadable to other users.
 * Runs once per drop on the application's thread: a mkdir and a chown,
 * at start-up, like the configuration read.
 */
#include "shim.h"

#include <errno.h>
#include <unistd.h>

/* Dormant too (MEMPROF_START=off): the worker is enabled later, as itself. */
static void before_drop(uid_t target)
{
    if (!mp_profiling(atomic_load(&mp_state)) || target == (uid_t)-1 || target == 0 ||
        geteuid() != 0)
        return;
    int saved = errno;
    mp_guard++;
    mp_snapfile_prepare_uid(target, getegid());
    mp_guard--;
    errno = saved;
}

/* The next definition of name, or ENOSYS. */
#define PRIVDROP_NEXT(self)                                           \
    static void *_Atomic next;                                        \
    typeof(&self) fn = (typeof(&self))mp_next_symbol(&next, #self);   \
    if (!fn) {                                                        \
        errno = ENOSYS;                                               \
        return -1;                                                    \
    }

int setuid(uid_t uid)
{
    PRIVDROP_NEXT(setuid);
    before_drop(uid);
    return fn(uid);
}

int seteuid(uid_t euid)
{
    PRIVDROP_NEXT(seteuid);
    before_drop(euid);
    return fn(euid);
}

int setreuid(uid_t ruid, uid_t euid)
{
    PRIVDROP_NEXT(setreuid);
    before_drop(euid);
    return fn(ruid, euid);
}

int setresuid(uid_t ruid, uid_t euid, uid_t suid)
{
    PRIVDROP_NEXT(setresuid);
    before_drop(euid);
    return fn(ruid, euid, suid);
}
