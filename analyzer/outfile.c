/*
 * outfile.c - where -o writes (opts.h: mp_opts_open_out, mp_opts_close_out):
 * which names are refused (another user's link or file planted in a shared
 * directory, an input), how an existing file of one's own is replaced only
 * once the new output is whole, and the descriptors the shell handed us.
 * The option parsing itself is opts.c's.
 */
#include "opts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyzer.h"
#include "util.h"

/*
 * Why -o may refuse a name: the output is often in a shared directory
 * (/tmp), where another user can plant a symbolic link under the name
 * about to be written. A link is followed only when it is the user's own
 * (or root's, as /dev/stdout is) and its target exists; a dangling link or
 * another user's is refused, as is an output that is one of the inputs or
 * an existing file named directly that another user (not root) owns.
 */
static const char *out_link_problem(const char *path)
{
    struct stat l, t;
    char cur[PATH_MAX], next[PATH_MAX], target[PATH_MAX];
    /* the directories on the way: /tmp/x/out.svg with /tmp/x another
       user's link is written where they chose */
    size_t len = strlen(path);
    for (size_t i = 1; i < len && i < sizeof(cur); i++) {
        if (path[i] != '/')
            continue;
        memcpy(cur, path, i);
        cur[i] = '\0';
        if (lstat(cur, &l) == 0 && S_ISLNK(l.st_mode) && l.st_uid != geteuid() && l.st_uid != 0)
            return "leads through a directory link owned by another user; not writing through it";
    }
    snprintf(cur, sizeof(cur), "%s", path);
    /* every link of the chain, not just the first: one's own link to a
       name in /tmp where another user's link waits is theirs to aim */
    for (int hops = 0; lstat(cur, &l) == 0 && S_ISLNK(l.st_mode); hops++) {
        if (l.st_uid != geteuid() && l.st_uid != 0)
            return hops ? "leads through a symbolic link owned by another user; not writing through it"
                        : "is a symbolic link owned by another user; not writing through it";
        ssize_t n = readlink(cur, target, sizeof(target) - 1);
        if (n <= 0 || hops >= 40)
            break;
        target[n] = '\0';
        const char *slash = strrchr(cur, '/');
        size_t dir = target[0] == '/' || !slash ? 0 : (size_t)(slash - cur) + 1;
        if (dir + (size_t)n >= sizeof(next))
            break;
        memcpy(next, cur, dir);
        memcpy(next + dir, target, (size_t)n + 1);
        memcpy(cur, next, dir + (size_t)n + 1);
    }
    if (lstat(path, &l) == 0 && S_ISLNK(l.st_mode) && stat(path, &t) != 0)
        return "is a dangling symbolic link; not writing through it";
    return NULL;
}

static bool out_is_input(const mp_opts *o, const struct stat *st)
{
    for (size_t i = 0; i < o->n_files; i++) {
        struct stat in;
        if (stat(o->files[i], &in) == 0 && in.st_dev == st->st_dev && in.st_ino == st->st_ino)
            return true;
    }
    return false;
}

static bool foreign_uid(uid_t uid) { return uid != geteuid() && uid != 0; }

/* A link that passed out_link_problem is opened without O_CREAT, so a
   swap for a dangling one in between still creates nothing. Any other
   name is created exclusively first, so that "existed already" is known
   for certain, not from a racy lstat; an existing one is opened without
   blocking, so that another user's FIFO with no reader cannot hang us
   (ENXIO: *foreign tells the caller to refuse it). */
static int out_open(const char *path, bool link, bool *created, bool *foreign)
{
    int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY | (link ? 0 : O_NOFOLLOW);
    if (link)
        return open(path, flags);
    int fd = open(path, flags | O_CREAT | O_EXCL, 0666);
    *created = fd >= 0;
    if (fd >= 0 || errno != EEXIST)
        return fd;
    fd = open(path, flags | O_NONBLOCK);
    if (fd >= 0) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        return fd;
    }
    struct stat l;
    if (errno != ENXIO)
        return -1;
    if (lstat(path, &l) == 0 && foreign_uid(l.st_uid)) {
        *foreign = true;
        return -1;
    }
    return open(path, flags);   /* one's own FIFO: wait for its reader, as before */
}

/*
 * A failed write (a full disk, a quota) must not cost the user the file
 * that was there: the output of an existing file of one's own is written
 * to an unpredictable temporary name beside it, created exclusively, and
 * renamed over it only once all of it is on disk; a file created for this
 * run is removed when its write fails. The replacement keeps the file's
 * mode and group. Others' files (writable to us), FIFOs, devices, a file
 * with other hard links, and one whose directory we cannot write (or
 * whose group we cannot give) are written in place: a full disk then
 * leaves what was written.
 */
static struct {
    char final[PATH_MAX];   /* the name to rename onto, or "" */
    char tmp[PATH_MAX];     /* the temporary name, or "" */
    bool created;           /* final was created by this run */
    bool kept;              /* after a failure: final is as it was */
} out_pending;

static FILE *out_in_place(const char *path, int fd, const struct stat *st)
{
    FILE *f = S_ISREG(st->st_mode) && ftruncate(fd, 0) != 0 ? NULL : fdopen(fd, "w");
    if (!f) {
        mp_error("%s: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

static FILE *out_replace_later(const char *path, int fd, const struct stat *st, bool created)
{
    char real[PATH_MAX];
    if (!S_ISREG(st->st_mode) || st->st_uid != geteuid() || !realpath(path, real))
        return out_in_place(path, fd, st);
    if (!created && st->st_nlink > 1)   /* a new inode would split its links */
        return out_in_place(path, fd, st);
    if (created) {   /* empty and ours: written directly, removed on failure */
        snprintf(out_pending.final, sizeof(out_pending.final), "%s", real);
        out_pending.created = true;
        return out_in_place(path, fd, st);
    }
    struct stat now;
    char *slash = strrchr(real, '/');
    int n = snprintf(out_pending.tmp, sizeof(out_pending.tmp), "%.*s/.%s.XXXXXX",
                     (int)(slash - real), real, slash + 1);
    int tmp = n > 0 && (size_t)n < sizeof(out_pending.tmp) ? mkostemp(out_pending.tmp, O_CLOEXEC) : -1;
    /* the new file is the old one's in all but its inode: mode and group */
    bool same = tmp >= 0 && fchmod(tmp, st->st_mode & 07777) == 0 &&
                (fstat(tmp, &now) == 0 && (now.st_gid == st->st_gid ||
                                           fchown(tmp, (uid_t)-1, st->st_gid) == 0));
    FILE *f = same ? fdopen(tmp, "w") : NULL;
    if (!f) {   /* the directory is not ours to write, or the group not ours to give */
        if (tmp >= 0) {
            close(tmp);
            unlink(out_pending.tmp);
        }
        out_pending.tmp[0] = '\0';
        return out_in_place(path, fd, st);
    }
    close(fd);
    snprintf(out_pending.final, sizeof(out_pending.final), "%s", real);
    return f;
}

/* After the output is closed: the temporary renamed into place, or on
 * failure removed (and a file this run created removed too); 0 or -1. */
static int out_finish(bool failed)
{
    int rc = 0;
    if (out_pending.tmp[0] && !failed && rename(out_pending.tmp, out_pending.final) != 0)
        rc = -1;
    if (out_pending.tmp[0] && (failed || rc != 0))
        unlink(out_pending.tmp);
    if (out_pending.created && failed)
        unlink(out_pending.final);
    out_pending.kept = out_pending.tmp[0] && (failed || rc != 0);
    return rc;
}

/* The descriptor -o names when it is one this process was handed:
 * /dev/stdout, /dev/stderr, /dev/fd/N or /proc/self/fd/N; -1 otherwise.
 * Written through that descriptor itself, as the shell set it up: opening
 * the name would make a new open file at offset 0, and truncating or
 * replacing what it points at would wipe a `>> log` or the lines
 * written before ours. */
static int inherited_fd(const char *path)
{
    const char *num = strcmp(path, "/dev/stdout") == 0   ? "1"
                      : strcmp(path, "/dev/stderr") == 0 ? "2"
                      : strncmp(path, "/dev/fd/", 8) == 0 ? path + 8
                      : strncmp(path, "/proc/self/fd/", 14) == 0 ? path + 14
                                                           : NULL;
    uint64_t n;
    if (!num || !mp_parse_u64(num, &n) || n > INT_MAX || fcntl((int)n, F_GETFD) < 0)
        return -1;
    return (int)n;
}

FILE *mp_opts_open_out(const mp_opts *o)
{
    memset(&out_pending, 0, sizeof(out_pending));
    if (!o->out || strcmp(o->out, "-") == 0)
        return stdout;
    int given = inherited_fd(o->out);
    if (given == STDOUT_FILENO)
        return stdout;
    if (given >= 0) {
        int fd = fcntl(given, F_DUPFD_CLOEXEC, 3);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f) {
            mp_error("%s: %s", o->out, strerror(errno));
            if (fd >= 0)
                close(fd);
        }
        return f;
    }
    const char *problem = out_link_problem(o->out);
    if (problem) {
        mp_error("%s: %s", o->out, problem);
        return NULL;
    }
    struct stat l;
    bool link = lstat(o->out, &l) == 0 && S_ISLNK(l.st_mode), created = false, foreign = false;
    int fd = out_open(o->out, link, &created, &foreign);
    struct stat st;
    if (foreign) {
        mp_error("%s: is a FIFO owned by another user (uid %u); not writing into it", o->out,
                 (unsigned)l.st_uid);
        return NULL;
    }
    if (fd < 0) {
        mp_error("%s: %s", o->out, errno == ELOOP ? "is a symbolic link; not writing through it"
                                                  : strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0)
        memset(&st, 0, sizeof st);
    if (out_is_input(o, &st)) {
        close(fd);
        mp_error("%s: is also an input file; not overwriting it", o->out);
        return NULL;
    }
    /* Another user's file or FIFO planted under the name in a shared
       directory (/tmp): writing into it would hand them the report (and
       keep the file theirs); the kernel's fs.protected_regular and
       protected_fifos are often off. */
    if (!link && !created && foreign_uid(st.st_uid)) {
        close(fd);
        mp_error("%s: is a %s owned by another user (uid %u); not writing into it", o->out,
                 S_ISREG(st.st_mode) ? "file" : S_ISFIFO(st.st_mode) ? "FIFO" : "device",
                 (unsigned)st.st_uid);
        return NULL;
    }
    return out_replace_later(o->out, fd, &st, created);
}

int mp_opts_close_out(const mp_opts *o, FILE *out)
{
    bool failed = ferror(out) != 0;
    if (out == stdout)
        failed |= fflush(out) != 0;
    else
        failed |= fflush(out) != 0 || (out_pending.final[0] && fsync(fileno(out)) != 0) ||
                  fclose(out) != 0;
    if (out != stdout)
        failed = out_finish(failed) != 0 || failed;
    if (failed) {
        mp_error("%s: write failed%s", o->out ? o->out : "stdout",
                 out != stdout && out_pending.kept ? "; the file there is as it was" : "");
        return MP_EXIT_USAGE;
    }
    return MP_EXIT_OK;
}
