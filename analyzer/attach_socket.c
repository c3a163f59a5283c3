/*
 * attach_socket.c - whose is @memprof.PID (attach.h): the shim's, when one
 * of the target's descriptor tables holds the socket, or a squatter's.
 * cmd_attach.c asks before it attaches and while it waits for the
 * collector.
 */
#include "attach.h"

#include <dirent.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "memprof_protocol.h"

/*
 * Whether the shim's collector in pid listens on @memprof.PID. The name
 * alone proves nothing: anyone may bind an abstract name in the target's
 * network namespace (a squatter waiting for its pid). The socket is the
 * shim's only when one of the target's descriptor tables holds its inode:
 * the process's own, or the collector thread's private one (os.c), which
 * only /proc/PID/task/TID/fd shows. Tables shared with the leader's
 * (kcmp says so) are not read twice.
 */
#define MAX_NAMED_SOCKETS 8

/* The inodes of the unix sockets in pid's namespace named @memprof.PID. */
static int named_socket_inodes(pid_t pid, unsigned long *inodes, int cap)
{
    char path[64], name[64], line[4096];
    snprintf(path, sizeof(path), "/proc/%d/net/unix", (int)pid);
    int n = snprintf(name, sizeof(name), " @memprof.%d\n", (int)pid), found = 0;
    FILE *f = fopen(path, "re");
    while (f && found < cap && fgets(line, sizeof(line), f)) {
        size_t len = strlen(line);
        if (len >= (size_t)n && strcmp(line + len - (size_t)n, name) == 0 &&
            sscanf(line, "%*s %*s %*s %*s %*s %*s %lu", &inodes[found]) == 1)
            found++;
    }
    if (f)
        fclose(f);
    return found;
}

/* Whether the descriptor directory dir holds one of the inodes. */
static bool table_holds(const char *dir, const unsigned long *inodes, int n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool held = false;
    char path[PATH_MAX], link[64];
    while (d && !held && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        ssize_t len = readlink(path, link, sizeof(link) - 1);
        unsigned long ino;
        if (len <= 0)
            continue;
        link[len] = '\0';
        for (int i = 0; i < n && !held; i++)
            held = sscanf(link, "socket:[%lu]", &ino) == 1 && ino == inodes[i];
    }
    if (d)
        closedir(d);
    return held;
}

static bool shares_leader_table(pid_t pid, pid_t tid)
{
    return syscall(SYS_kcmp, pid, tid, KCMP_FILES, 0, 0) == 0;
}

enum mp_sock_owner mp_attach_socket_owner(pid_t pid)
{
    unsigned long inodes[MAX_NAMED_SOCKETS];
    int n = named_socket_inodes(pid, inodes, MAX_NAMED_SOCKETS);
    if (n == 0)
        return MP_SOCK_NONE;
    char dir[96];
    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    if (table_holds(dir, inodes, n))
        return MP_SOCK_OURS;
    snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
    DIR *tasks = opendir(dir);
    struct dirent *e;
    bool held = false;
    while (tasks && !held && (e = readdir(tasks)) != NULL) {
        pid_t tid = (pid_t)strtol(e->d_name, NULL, 10);
        if (tid <= 0 || tid == pid || shares_leader_table(pid, tid))
            continue;
        snprintf(dir, sizeof(dir), "/proc/%d/task/%d/fd", (int)pid, (int)tid);
        held = table_holds(dir, inodes, n);
    }
    if (tasks)
        closedir(tasks);
    return held ? MP_SOCK_OURS : MP_SOCK_FOREIGN;
}

/* Who holds @memprof.PID, for the refusal: its listener's credentials,
 * when we share its network namespace. */
void mp_attach_socket_holder(pid_t pid, char *who, size_t cap)
{
    struct sockaddr_un addr;
    socklen_t len = mp_proto_address(pid, &addr);
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf(who, cap, "another process");
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, len) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 && cred.pid > 0)
        snprintf(who, cap, "process %d (uid %u)", (int)cred.pid, (unsigned)cred.uid);
    if (fd >= 0)
        close(fd);
}
