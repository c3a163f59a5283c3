/*
 * snapfile.c - where a snapshot's bytes go: the output directory, the
 * temporary file and the final name (SPEC "Safety in someone else's
 * process").
 *
 * The shim writes with the credentials of a process it does not own, into
 * a directory other users may be able to write (a shared /tmp directory).
 * So:
 *   - the directory is reached component by component from "/" with
 *     O_PATH|O_DIRECTORY|O_NOFOLLOW, creating missing components 0700; a
 *     symlink is followed only when root or we own it and nobody else can
 *     replace it; the directory itself must be ours or root's and not
 *     writable by others unless sticky (one `memprof:` line otherwise);
 *   - files are created relative to that descriptor, under a temporary
 *     name with 64 random bits (getrandom), O_CREAT|O_EXCL|O_NOFOLLOW,
 *     mode 0600, and checked with fstat before a byte is written;
 *   - the final name is never replaced: renameat2(RENAME_NOREPLACE), or
 *     linkat + unlinkat where the file system lacks it. A taken name makes
 *     the writer take the next free seq (probed before the file is built,
 *     since the seq is inside the file); a name taken during the write
 *     costs that snapshot and one line.
 * A process that dropped privileges after start (a server's workers)
 * writes into "uid-<euid>" inside the directory, which privdrop.c had
 * root create for that uid before the drop.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

#define SEQ_PROBES 10000   /* free names looked for before giving up */

static uid_t start_euid;
static ino_t start_userns;   /* 0: unknown */

/* The user namespace this process is in (the inode of /proc/self/ns/user),
 * 0 when /proc cannot say (a chroot, a sandbox). */
static ino_t userns_now(void)
{
    struct stat st;
    return mp_fstatat(AT_FDCWD, "/proc/self/ns/user", &st, 0) == 0 ? st.st_ino : 0;
}

void mp_snapfile_note_owner(void)
{
    start_euid = geteuid();
    start_userns = userns_now();
}

/* Whether this process runs as another user than it started as: a
 * privilege drop (privdrop.c prepared its uid-<euid> directory). An euid
 * read in a user namespace the process entered since (unshare -U -r as an
 * ordinary user: 0 inside, the same kernel uid outside) is not one: the
 * files it makes still belong to the user it started as. */
static bool euid_dropped(void)
{
    if (geteuid() == start_euid)
        return false;
    ino_t ns = start_userns ? userns_now() : 0;
    return ns == 0 || ns == start_userns;
}

/* The subdirectory of a process whose euid is not the one it started with. */
static void uid_dir_name(uid_t uid, char *buf, size_t cap)
{
    snprintf(buf, cap, "uid-%u", (unsigned)uid);
}

static void say(char *why, size_t cap, const char *fmt, const char *name, const char *detail)
{
    snprintf(why, cap, fmt, name, detail);
}

/* Whether a directory with st may hold our files: ours or root's, and
 * nobody else can add or rename entries in it unless it is sticky. */
static bool dir_trusted(const struct stat *st, char *why, size_t cap, const char *name)
{
    if (st->st_uid != geteuid() && st->st_uid != 0) {
        char owner[32];
        snprintf(owner, sizeof(owner), "%u", (unsigned)st->st_uid);
        say(why, cap, "output directory %s belongs to uid %s, not to this process's user",
            name, owner);
        return false;
    }
    if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX)) {
        say(why, cap, "output directory %s is writable by other users%s", name,
            " (and not sticky)");
        return false;
    }
    return true;
}

/* The output directory, when this process (or the parent it was forked
 * from) created it: only then may a privilege drop change its mode. */
static bool out_dir_made;
static dev_t out_dir_made_dev;
static ino_t out_dir_made_ino;

/* Opens component comp of the path under dirfd (whose stat is parent);
 * *made tells whether it was created here. */
static int open_component(int dirfd, const struct stat *parent, const char *comp, bool create,
                          bool *made, char *why, size_t cap)
{
    const int flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    int fd = openat(dirfd, comp, flags | O_NOFOLLOW);
    *made = false;
    if (fd < 0 && errno == ENOENT && create) {
        int rc = mkdirat(dirfd, comp, 0700);
        if (rc != 0 && errno != EEXIST)
            return -1;
        *made = rc == 0;
        fd = openat(dirfd, comp, flags | O_NOFOLLOW);
    }
    if (fd >= 0 || (errno != ENOTDIR && errno != ELOOP))
        return fd;
    /* A symlink (or not a directory at all). Followed only if root or we
     * own it and the directory holding it cannot be changed by others. */
    struct stat ln;
    if (mp_fstatat(dirfd, comp, &ln, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(ln.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    bool parent_safe = !(parent->st_mode & (S_IWGRP | S_IWOTH)) || (parent->st_mode & S_ISVTX);
    if ((ln.st_uid != 0 && ln.st_uid != geteuid()) || !parent_safe) {
        say(why, cap, "%s is a symlink %s; not following it", comp,
            parent_safe ? "owned by another user" : "in a directory others can write");
        errno = ELOOP;
        return -1;
    }
    return openat(dirfd, comp, flags);
}

/* The output directory as an O_PATH descriptor, created 0700 where missing,
 * or -1 with errno and, for a refusal, why[] set. */
static int open_out_dir(const char *path, char *why, size_t cap)
{
    char buf[sizeof(mp_cfg.out_dir)];
    snprintf(buf, sizeof(buf), "%s", path);
    int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    char *save = NULL;
    bool made = false;
    for (char *comp = strtok_r(buf, "/", &save); fd >= 0 && comp; comp = strtok_r(NULL, "/", &save)) {
        if (fstat(fd, &st) != 0)
            break;
        int next = strcmp(comp, ".") == 0 ? dup(fd)
                                          : open_component(fd, &st, comp, true, &made, why, cap);
        int err = errno;
        close(fd);
        errno = err;
        fd = next;
    }
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !dir_trusted(&st, why, cap, path)) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    if (made) {
        out_dir_made = true;
        out_dir_made_dev = st.st_dev;
        out_dir_made_ino = st.st_ino;
    }
    return fd;
}

int mp_snapfile_open_dir(char *why, size_t cap)
{
    why[0] = 0;
    if (mp_cfg.out_dir_too_long) {   /* config.c: not the directory asked for */
        snprintf(why, cap, "its absolute path is longer than %zu bytes",
                 sizeof(mp_cfg.out_dir) - 1);
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open_out_dir(mp_cfg.out_dir, why, cap);
    if (fd < 0 || !euid_dropped())
        return fd < 0 ? -1 : mp_fd_park(fd);
    char sub[32];
    struct stat st;
    uid_dir_name(geteuid(), sub, sizeof(sub));
    int sfd = openat(fd, sub, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int err = errno;
    if (sfd < 0 && (err == ELOOP || err == ENOTDIR))
        say(why, cap, "%s in the output directory is %s", sub,
            "a symlink or not a directory; not following it");
    close(fd);
    if (sfd >= 0 && (fstat(sfd, &st) != 0 || !dir_trusted(&st, why, cap, sub))) {
        close(sfd);
        errno = EPERM;
        return -1;
    }
    errno = err;
    return sfd < 0 ? -1 : mp_fd_park(sfd);
}

void mp_snapfile_dir_shown(char *buf, size_t cap)
{
    if (!euid_dropped()) {
        snprintf(buf, cap, "%s", mp_cfg.out_dir);
        return;
    }
    char sub[32];
    uid_dir_name(geteuid(), sub, sizeof(sub));
    snprintf(buf, cap, "%s/%s", mp_cfg.out_dir, sub);
}

static void final_name(uint32_t s, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s.%d.%04u.mprof", mp_cfg.prog, (int)mp_pid, s);
}

uint32_t mp_snapfile_free_seq(int dirfd, uint32_t from)
{
    char name[400];
    struct stat st;
    for (uint32_t s = from; s < from + SEQ_PROBES; s++) {
        final_name(s, name, sizeof(name));
        if (mp_fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            continue;
        if (errno == ENOENT)
            return s;
        return 0;   /* EACCES of a directory we may not search, ...: errno */
    }
    errno = EEXIST;
    return 0;
}

/* 64 unpredictable bits: getrandom, else (no entropy yet, old kernel) the
 * clock and an address mixed, which at least no one can plant in advance. */
static uint64_t random_bits(void)
{
    uint64_t v;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
        return v;
    v = mp_now_ns() ^ ((uint64_t)(uintptr_t)&v << 17) ^ (uint64_t)mp_pid << 40;
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdull;
    return v ^ (v >> 33);
}

static int write_all(int fd, const uint8_t *data, size_t size)
{
    while (size) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

/* A new temporary file under a random name, ours, regular, alone, 0600. */
static int create_temp(int dirfd, char *tmp, size_t cap)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        snprintf(tmp, cap, ".%s.%d.%016llx.mprof.tmp", mp_cfg.prog, (int)mp_pid,
                 (unsigned long long)random_bits());
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return -1;
        fd = mp_fd_park(fd);
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
            st.st_nlink != 1 || fchmod(fd, 0600) != 0) {
            close(fd);
            unlinkat(dirfd, tmp, 0);
            errno = EPERM;
            return -1;
        }
        return fd;
    }
    errno = EEXIST;
    return -1;
}

/* tmp becomes name unless name exists. */
static int publish(int dirfd, const char *tmp, const char *name)
{
    if (syscall(SYS_renameat2, dirfd, tmp, dirfd, name, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return errno;
    if (linkat(dirfd, tmp, dirfd, name, 0) != 0)
        return errno;
    unlinkat(dirfd, tmp, 0);
    return 0;
}

int mp_snapfile_write(int dirfd, const uint8_t *data, size_t size, uint32_t s, char *name,
                      size_t cap)
{
    char tmp[400];
    int fd = create_temp(dirfd, tmp, sizeof(tmp));
    if (fd < 0)
        return errno ? errno : EIO;
    int err = write_all(fd, data, size);
    if (close(fd) != 0 && !err)
        err = errno;
    final_name(s, name, cap);
    if (!err)
        err = publish(dirfd, tmp, name);
    if (err)
        unlinkat(dirfd, tmp, 0);
    return err;
}

/* ---- a server dropping privileges (called by privdrop.c, still root) ---- */

/* Whether uid (of group gid) may search a directory with st. */
static bool searchable_by(const struct stat *st, uid_t uid, gid_t gid)
{
    if (st->st_uid == uid)
        return (st->st_mode & S_IXUSR) != 0;
    if (st->st_gid == gid)
        return (st->st_mode & S_IXGRP) != 0;
    return (st->st_mode & S_IXOTH) != 0;
}

/* Whether uid can reach the output directory (dirfd, with st), giving it
 * search permission if memprof made it (silently) or MEMPROF_OUT names it
 * (saying so). The working directory, the default, keeps its mode: it may
 * be /root. */
static bool reachable_for(int dirfd, const struct stat *st, uid_t uid, gid_t gid)
{
    if (searchable_by(st, uid, gid))
        return true;
    bool made = out_dir_made && st->st_dev == out_dir_made_dev && st->st_ino == out_dir_made_ino;
    mode_t mode = (st->st_mode & 07777) | 0111;
    if (!made && !mp_cfg.out_dir_given) {
        mp_warn("uid %u cannot reach %s, the working directory (mode %04o, left alone): "
                "snapshots after the drop to uid %u are not written; set MEMPROF_OUT",
                (unsigned)uid, mp_cfg.out_dir, (unsigned)(st->st_mode & 07777), (unsigned)uid);
        return false;
    }
    if (fchmod(dirfd, mode) != 0)
        return false;
    if (!made)
        mp_warn("gave %s search permission for others (mode %04o, not listing) so that uid %u "
                "reaches its snapshots", mp_cfg.out_dir, (unsigned)mode, (unsigned)uid);
    return true;
}

/* Makes uid's own 0700 subdirectory sub of the output directory fd. */
static void make_uid_dir(int fd, const char *sub, uid_t uid, gid_t gid)
{
    struct stat st;
    int sfd = -1;
    if (mkdirat(fd, sub, 0700) != 0 && errno != EEXIST) {
        mp_warn("cannot create %s/%s for uid %u: %s; its snapshots will not be written "
                "(give MEMPROF_OUT a directory that uid %u owns)", mp_cfg.out_dir, sub,
                (unsigned)uid, mp_strerror(errno), (unsigned)uid);
    } else if ((sfd = openat(fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0 &&
               fstat(sfd, &st) == 0 && (st.st_uid == 0 || st.st_uid == uid)) {
        /* Through the descriptor, never the name: in a sticky directory
         * uid may swap its entry for a symlink to any file between a check
         * and a chmod by name, which root would then follow. */
        if (fchown(sfd, uid, gid) != 0 || fchmod(sfd, 0700) != 0)
            mp_warn("cannot give %s/%s to uid %u: %s", mp_cfg.out_dir, sub, (unsigned)uid,
                    mp_strerror(errno));
    }
    if (sfd >= 0)
        close(sfd);
}

/* Gives uid a private subdirectory of the output directory, once uid can
 * reach that directory (reachable_for: search permission, not read, so
 * nobody can list it). Only root gets here, before the drop. */
void mp_snapfile_prepare_uid(uid_t uid, gid_t gid)
{
    char why[512] = "", sub[32];
    if (mp_cfg.out_dir_too_long)
        return;   /* no snapshot is written at all (snapfile_open_dir says why) */
    int fd = open_out_dir(mp_cfg.out_dir, why, sizeof(why));
    if (fd < 0) {
        mp_warn("cannot prepare %s for uid %u: %s", mp_cfg.out_dir, (unsigned)uid,
                why[0] ? why : mp_strerror(errno));
        return;
    }
    uid_dir_name(uid, sub, sizeof(sub));
    int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);   /* fchmod needs one */
    struct stat st;
    if (dfd >= 0 && fstat(dfd, &st) == 0 && reachable_for(dfd, &st, uid, gid))
        make_uid_dir(fd, sub, uid, gid);
    if (dfd >= 0)
        close(dfd);
    close(fd);
}
