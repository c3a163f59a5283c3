/*
 * test_snapfile_uid.c - the directory root makes for a worker's uid
 * before a privilege drop (snapfile.c, mp_snapfile_prepare_uid) cannot be
 * turned into a chmod of another file.
 *
 * In a sticky output directory (/tmp) the worker's uid owns "uid-<uid>"
 * and may replace it with a symlink at any moment; root, about to drop,
 * then changes that entry's owner and mode. The race is made certain
 * here: the test's own fchownat and fchown, which snapfile.c calls
 * instead of libc's, swap the directory for a symlink to a canary file
 * the first time they are called. The canary's mode must not change, and
 * the directory must end up the uid's, mode 0700.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "shim.h"

static char base[256], sub[300], moved[300], canary[300];
static _Atomic int swapped;

/* The attacker's move, between root's look at the entry and its change. */
static void swap_for_symlink(void)
{
    if (atomic_exchange(&swapped, 1))
        return;
    CHECK(rename(sub, moved) == 0, "rename %s: %m", sub);
    CHECK(symlink(canary, sub) == 0, "symlink %s: %m", sub);
}

int fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags)
{
    static int (*real)(int, const char *, uid_t, gid_t, int);
    if (!real)
        real = (int (*)(int, const char *, uid_t, gid_t, int))dlsym(RTLD_NEXT, "fchownat");
    swap_for_symlink();
    return real(dirfd, path, uid, gid, flags);
}

int fchown(int fd, uid_t uid, gid_t gid)
{
    static int (*real)(int, uid_t, gid_t);
    if (!real)
        real = (int (*)(int, uid_t, gid_t))dlsym(RTLD_NEXT, "fchown");
    swap_for_symlink();
    return real(fd, uid, gid);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(base, sizeof(base), "%s/snapfile_uid.XXXXXX", tmp);
    CHECK(mkdtemp(base) != NULL, "mkdtemp %s: %m", base);
    snprintf(mp_cfg.out_dir, sizeof(mp_cfg.out_dir), "%s", base);
    uid_t uid = getuid();
    snprintf(sub, sizeof(sub), "%s/uid-%u", base, (unsigned)uid);
    snprintf(moved, sizeof(moved), "%s/moved", base);
    snprintf(canary, sizeof(canary), "%s/canary", base);
    int fd = open(canary, O_WRONLY | O_CREAT | O_EXCL, 0644);
    CHECK(fd >= 0, "create %s: %m", canary);
    close(fd);
    CHECK(chmod(canary, 0644) == 0, "chmod %s: %m", canary);

    mp_snapfile_prepare_uid(uid, getgid());

    struct stat st;
    CHECK(atomic_load(&swapped), "snapfile.c changed the owner by neither fchownat nor fchown");
    CHECK(stat(canary, &st) == 0 && (st.st_mode & 07777) == 0644,
          "the symlink planted for uid-%u was followed: the canary is now mode %o",
          (unsigned)uid, (unsigned)(st.st_mode & 07777));
    CHECK(stat(moved, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid &&
              (st.st_mode & 07777) == 0700,
          "the directory created for uid %u is not its own with mode 0700", (unsigned)uid);
    unlink(sub);
    unlink(canary);
    rmdir(moved);
    rmdir(base);
    CHECK_DONE();
}
