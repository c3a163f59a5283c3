/*
 * modules_maps.c - the loaded objects from /proc/self/maps, for a process
 * that must not call dl_iterate_phdr (a frozen fork child, modules.c).
 *
 * dl_iterate_phdr hands its callback each object's load bias, name and
 * program headers. Here the same is rebuilt from the kernel's view: the
 * loader maps an object's first PT_LOAD from file offset 0, so the ELF
 * header and (in every object ld.so or a linker makes) the program headers
 * are in memory at the start of that mapping; bias = that mapping's start -
 * the first PT_LOAD's page-aligned p_vaddr. The callbacks are the ones
 * dl_iterate_phdr gets (one code path for records), so what they read
 * through the headers (PT_NOTE, PT_GNU_EH_FRAME) is what they always read.
 *
 * Not every mapping at offset 0 is a loaded object: data files, an ELF
 * file mapped to be read (debuggers, symbolizers), anonymous and JIT
 * regions, a first mapping that is not readable. An object counts only if
 * its header maps readable, is a well-formed ELF header of this class
 * whose program headers lie inside the mapping, and every executable
 * PT_LOAD is mapped executable from the same file (device and inode) at
 * the address and offset the header gives, in the lines that follow (the
 * loader reserves an object's whole span, so its lines are adjacent). The
 * vdso (no file) is its own single mapping and named as glibc names it.
 * A deleted file keeps its name without the kernel's " (deleted)".
 *
 * The headers are copied with process_vm_readv on ourselves, which fails
 * with EFAULT instead of faulting if another thread unmapped the object
 * since the maps were read (not under a seccomp filter: note_sandbox);
 * the callback gets the copy's program headers.
 * Only raw syscalls: no stdio, no malloc, no lock; the caller's scratch
 * holds everything (one per concurrent caller).
 */
#include "shim.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_PHNUM 64
#define DELETED " (deleted)"

#if __SIZEOF_POINTER__ == 8
#define MAPS_CLASS ELFCLASS64
#else
#define MAPS_CLASS ELFCLASS32
#endif

typedef struct maps_line {
    uintptr_t start, end, offset;
    uint64_t dev, inode;
    bool r, x;
    const char *path;   /* not NUL-terminated: path_len bytes */
    size_t path_len;
} maps_line;

typedef int (*maps_cb)(struct dl_phdr_info *, size_t, void *);

static const char *parse_hex(const char *p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = p;
    for (; p < end; p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0'
              : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (d < 0)
            break;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return p > s ? p : NULL;
}

static const char *skip_spaces(const char *p, const char *end)
{
    while (p < end && *p == ' ')
        p++;
    return p;
}

/* "start-end perms offset major:minor inode   path"; false if malformed. */
static bool parse_line(const char *p, const char *end, maps_line *l)
{
    uint64_t a, b, off, maj, min;
    if (!(p = parse_hex(p, end, &a)) || p >= end || *p++ != '-' ||
        !(p = parse_hex(p, end, &b)) || end - p < 6 || p[0] != ' ')
        return false;
    l->r = p[1] == 'r';
    l->x = p[3] == 'x';
    p = skip_spaces(p + 5, end);
    if (!(p = parse_hex(p, end, &off)) || !(p = parse_hex(skip_spaces(p, end), end, &maj)) ||
        p >= end || *p++ != ':' || !(p = parse_hex(p, end, &min)))
        return false;
    p = skip_spaces(p, end);
    uint64_t ino = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++)
        ino = ino * 10 + (uint64_t)(*p - '0');
    p = skip_spaces(p, end);
    l->start = (uintptr_t)a;
    l->end = (uintptr_t)b;
    l->offset = (uintptr_t)off;
    l->dev = maj << 32 | min;
    l->inode = ino;
    l->path = p;
    l->path_len = (size_t)(end - p);
    size_t dl = sizeof(DELETED) - 1;
    if (l->path_len > dl && memcmp(end - dl, DELETED, dl) == 0)
        l->path_len -= dl;
    return l->start < l->end;
}

/* Set once process_vm_readv must not be called: it failed with ENOSYS or
 * EPERM, or a seccomp filter is on (see sandboxed). Never cleared: a
 * filter cannot be removed, and a fork child inherits it. */
static _Atomic int no_vm_readv;

/* A seccomp filter may answer process_vm_readv, which a sandboxed process
 * has no use for, with SIGSYS instead of an error (SECCOMP_RET_TRAP:
 * Firefox's content processes, whose handler then ends the process), and
 * nothing tells such a policy from one that allows the call or fails it.
 * So under any filter the headers are read directly, as the callbacks
 * read what the headers point to: the race with another thread's unmap
 * that process_vm_readv closes is then open for the header too, which is
 * better than a certain death. Asked at each scan until a filter is seen
 * (one small read of /proc/self/status; a scan reads all of the maps). */
static void note_sandbox(void)
{
    if (!atomic_load_explicit(&no_vm_readv, memory_order_relaxed) &&
        mp_proc_status_value("Seccomp") != 0)
        atomic_store_explicit(&no_vm_readv, 1, memory_order_relaxed);
}

/* Reads len bytes at addr into out; false if any of it is not mapped. */
static bool copy_self(void *out, uintptr_t addr, size_t len)
{
    if (!atomic_load_explicit(&no_vm_readv, memory_order_relaxed)) {
        struct iovec local = {out, len}, remote = {(void *)addr, len};
        ssize_t n = (ssize_t)syscall(SYS_process_vm_readv, (long)getpid(), &local, 1L,
                                     &remote, 1L, 0L);
        if (n == (ssize_t)len)
            return true;
        if (n >= 0 || (errno != ENOSYS && errno != EPERM))
            return false;
        /* a seccomp or LSM policy forbids it: the maps were just read */
        atomic_store_explicit(&no_vm_readv, 1, memory_order_relaxed);
    }
    memcpy(out, (const void *)addr, len);
    return true;
}

static bool is_vdso(const maps_line *l)
{
    return l->path_len == 6 && memcmp(l->path, "[vdso]", 6) == 0;
}

/* A mapping at offset 0 that holds a loadable ELF header of this class:
 * the candidate object, whose remaining executable segments must follow. */
static void start_candidate(mp_maps_scratch *s, const maps_line *l)
{
    s->active = false;
    if (l->offset != 0 || !l->r || (l->inode == 0 && !is_vdso(l)) ||
        l->end - l->start < sizeof(ElfW(Ehdr)) || l->path_len >= sizeof(s->name))
        return;
    ElfW(Ehdr) eh;
    if (!copy_self(&eh, l->start, sizeof(eh)) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != MAPS_CLASS || (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) ||
        eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_phnum == 0 || eh.e_phnum > MAX_PHNUM)
        return;
    size_t size = l->end - l->start, phbytes = eh.e_phnum * sizeof(ElfW(Phdr));
    if (eh.e_phoff > size || phbytes > size - eh.e_phoff ||
        !copy_self(s->hdr, l->start + eh.e_phoff, phbytes))
        return;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(void *)s->hdr;
    uintptr_t page = (uintptr_t)getauxval(AT_PAGESZ);
    page = page ? page : 4096;
    bool first = true;
    s->need = s->seen = 0;
    for (int i = 0; i < eh.e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        if (first) {
            if ((ph[i].p_offset & ~(page - 1)) != 0)
                return;   /* the offset-0 mapping is not its first segment */
            s->bias = l->start - (ph[i].p_vaddr & ~(page - 1));
            s->lo = l->start;
            s->hi = l->start;
            first = false;
        }
        uintptr_t seg_end = s->bias + ph[i].p_vaddr + ph[i].p_memsz;
        s->hi = seg_end > s->hi ? seg_end : s->hi;
        if (ph[i].p_flags & PF_X)
            s->need |= 1ull << i;
    }
    if (first || !s->need)
        return;
    memcpy(s->name, is_vdso(l) ? "linux-vdso.so.1" : l->path, is_vdso(l) ? 16 : l->path_len);
    s->name[is_vdso(l) ? 15 : l->path_len] = 0;
    s->dev = l->dev;
    s->inode = l->inode;
    s->phnum = eh.e_phnum;
    s->active = true;
}

/* One of the candidate's mappings: which executable PT_LOAD it maps. */
static void mark_segments(mp_maps_scratch *s, const maps_line *l)
{
    if (!l->x)
        return;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(void *)s->hdr;
    uintptr_t page = (uintptr_t)getauxval(AT_PAGESZ);
    page = page ? page : 4096;
    for (int i = 0; i < s->phnum; i++)
        if ((s->need >> i & 1) && ((s->bias + ph[i].p_vaddr) & ~(page - 1)) == l->start &&
            (ph[i].p_offset & ~(page - 1)) == l->offset)
            s->seen |= 1ull << i;
}

static bool member(const mp_maps_scratch *s, const maps_line *l)
{
    return s->active && l->inode != 0 && l->inode == s->inode && l->dev == s->dev &&
           l->offset != 0 && l->start >= s->lo && l->start < s->hi;
}

/* The candidate is complete: the callback gets it if it was all there. */
static int finish_candidate(mp_maps_scratch *s, maps_cb cb, void *arg)
{
    if (!s->active)
        return 0;
    s->active = false;
    if (s->seen != s->need)
        return 0;
    struct dl_phdr_info info;
    memset(&info, 0, sizeof(info));
    info.dlpi_addr = s->bias;
    info.dlpi_name = s->name;
    info.dlpi_phdr = (const ElfW(Phdr) *)(void *)s->hdr;
    info.dlpi_phnum = (ElfW(Half))s->phnum;
    return cb(&info, sizeof(info), arg);
}

static int one_line(mp_maps_scratch *s, const char *p, const char *end, maps_cb cb, void *arg)
{
    maps_line l;
    if (!parse_line(p, end, &l))
        return 0;
    if (member(s, &l)) {
        mark_segments(s, &l);
        return 0;
    }
    int rc = finish_candidate(s, cb, arg);
    if (rc)
        return rc;
    start_candidate(s, &l);
    if (s->active) {
        mark_segments(s, &l);   /* a vdso is all one mapping */
        if (l.inode == 0)
            return finish_candidate(s, cb, arg);
    }
    return 0;
}

int mp_maps_iterate(mp_maps_scratch *s, maps_cb cb, void *arg)
{
    note_sandbox();
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t have = 0;
    bool skipping = false;   /* inside a line longer than the buffer */
    int rc = 0;
    s->active = false;
    for (;;) {
        ssize_t n = (ssize_t)syscall(SYS_read, fd, s->buf + have, sizeof(s->buf) - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {   /* not the end: what was not read is not gone */
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        have += (size_t)n;
        char *p = s->buf, *end = s->buf + have, *nl;
        while (rc == 0 && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            if (!skipping)
                rc = one_line(s, p, nl, cb, arg);
            skipping = false;
            p = nl + 1;
        }
        if (rc)
            break;
        have = (size_t)(end - p);
        if (have == sizeof(s->buf)) {   /* no newline in a full buffer */
            skipping = true;
            have = 0;
        } else {
            memmove(s->buf, p, have);
        }
    }
    if (rc == 0)
        rc = finish_candidate(s, cb, arg);
    syscall(SYS_close, fd);
    return rc;
}
