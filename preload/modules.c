/*
 * modules.c - the module map: which file is mapped where, since when.
 *
 * Every executable mapping seen by dl_iterate_phdr becomes a record that is
 * never deleted. A record is valid for generations [gen_loaded, gen_unloaded)
 * and each stack remembers the generation it was captured in, so a stack
 * into a library that was dlclose'd (and maybe replaced by another at the
 * same address) is still symbolized against the right file.
 *
 * The map is rescanned after every dlopen and around every dlclose (hooked
 * here), and by the collector before each snapshot, which catches libraries
 * loaded behind our back (glibc's internal dlopen for NSS, for example).
 * A new record gets gen_loaded = the generation before the rescan, because
 * stacks captured during that generation may already point into it (the
 * library's constructors run inside dlopen, before our hook returns).
 *
 * A fork child of a multi-threaded parent never calls dl_iterate_phdr
 * (mp_modules_frozen): it takes the loader's dl_load_write_lock, and
 * glibc's fork (2.36, posix/fork.c) re-initializes in the child only
 * dl_load_lock and dl_load_tls_lock, not that one. Another thread of the
 * parent (a dlopen adding its object to the list, a dlclose, libunwind or
 * libgcc walking the list, our own rescan) may have held it at the fork;
 * it then stays held forever in the child, and the child's first
 * dl_iterate_phdr (its exit or exec snapshot) would never return. So the
 * parent rescans just before the fork (our fork handler, on the forking
 * thread, where the loader works as always), the child starts from that
 * table, and its own rescans read /proc/self/maps instead
 * (modules_maps.c, no loader lock), which hands the same callback what
 * dl_iterate_phdr would. A child of such a child inherits the rule.
 * The kernel names files by their resolved path where the loader used the
 * one it opened (/lib64/ld-linux-x86-64.so.2); a maps record of an object
 * already recorded (same bias, segment and build-id) keeps the recorded
 * name, so the first rescan in the child does not close and reopen them.
 *
 * The table holds MAX_MODULES records. A program that loads and unloads
 * plugins over and over (a server reloading them) would fill it, and
 * every object loaded after that would go unrecorded: its frames unknown
 * for the rest of the process. So a rescan that finds the table nearly
 * full first forgets the oldest records of unloaded objects (frames into
 * them from their time show as unknown, never as another object's: the
 * analyzer matches a frame only with a record valid in its generation),
 * and the snapshots count what was forgotten or never recorded
 * (mp_counters.modules_forgotten), so that the report says so.
 */
#include "shim.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#define MAX_MODULES 8192
#define FORGET_ABOVE (MAX_MODULES - 512)   /* a rescan finding more forgets down to */
#define FORGET_DOWN_TO (MAX_MODULES * 3 / 4)
#define PATHS_BYTES (1u << 20)

_Atomic uint32_t mp_module_generation = 1;

static mp_module *modules;
static const char **module_paths;
static size_t n_modules;
static char *paths;
static size_t paths_used;
static mp_spinlock modules_lock;
static char exe_path[4096];
/* This process is a fork child of a multi-threaded process (see the top). */
static _Atomic int frozen;
static _Atomic int forking_frozen;   /* the fork under way will make one */
/* Records forgotten, or never made for a full table (see the top). */
static _Atomic uint64_t forgotten;

/* glibc 2.32+: false once the process has had a second thread (ours, the
 * collector, counts); without it, assume threads. */
extern char __libc_single_threaded __attribute__((weak));

typedef struct scan_state {
    unsigned char *found;      /* per record: still loaded */
    bool changed;
    bool from_maps;            /* the path is the kernel's, not the loader's */
    uint32_t gen_before;
} scan_state;

static const char *intern_path(const char *s)
{
    size_t len = strlen(s) + 1;
    for (size_t i = 0; i < n_modules; i++)
        if (strcmp(module_paths[i], s) == 0)
            return module_paths[i];
    if (!paths || paths_used + len > PATHS_BYTES)
        return "";
    char *p = paths + paths_used;
    memcpy(p, s, len);
    paths_used += len;
    return p;
}

static uint32_t read_build_id(const struct dl_phdr_info *info, uint8_t *out)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const unsigned char *name = p + sizeof(*nh);
            const unsigned char *desc = name + ((nh->n_namesz + 3) & ~3u);
            const unsigned char *next = desc + ((nh->n_descsz + 3) & ~3u);
            if (next > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(name, "GNU", 4) == 0) {
                uint32_t n = nh->n_descsz > MP_MAX_BUILD_ID ? MP_MAX_BUILD_ID : nh->n_descsz;
                memcpy(out, desc, n);
                return n;
            }
            p = next;
        }
    }
    return 0;
}

static long find_record(uint64_t start, uint64_t end, uint64_t bias, const char *path)
{
    for (size_t i = 0; i < n_modules; i++) {
        const mp_module *m = &modules[i];
        if (m->gen_unloaded == 0 && m->start == start && m->end == end &&
            m->load_bias == bias && strcmp(module_paths[i], path) == 0)
            return (long)i;
    }
    return -1;
}

/* A maps scan's object already recorded from dl_iterate_phdr under the
 * loader's name: that name, else the kernel's. */
static const char *recorded_name(const struct dl_phdr_info *info, const ElfW(Phdr) *ph,
                                 const char *path)
{
    uint8_t id[MP_MAX_BUILD_ID];
    uint32_t id_len = read_build_id(info, id);
    uint64_t start = info->dlpi_addr + ph->p_vaddr;
    for (size_t i = 0; i < n_modules; i++) {
        const mp_module *m = &modules[i];
        if (m->gen_unloaded == 0 && m->load_bias == info->dlpi_addr && m->start == start &&
            m->end == start + ph->p_memsz && m->build_id_len == id_len &&
            memcmp(m->build_id, id, id_len) == 0)
            return module_paths[i];
    }
    return path;
}

static void add_record(const struct dl_phdr_info *info, const ElfW(Phdr) *ph,
                       const char *path, scan_state *st)
{
    if (n_modules >= MAX_MODULES) {
        atomic_fetch_add(&forgotten, 1);
        return;
    }
    mp_module *m = &modules[n_modules];
    memset(m, 0, sizeof(*m));
    m->start = info->dlpi_addr + ph->p_vaddr;
    m->end = m->start + ph->p_memsz;
    m->file_offset = ph->p_offset;
    m->load_bias = info->dlpi_addr;
    m->gen_loaded = st->gen_before;
    m->build_id_len = read_build_id(info, m->build_id);
    module_paths[n_modules] = intern_path(path);
    st->found[n_modules] = 1;
    n_modules++;
    st->changed = true;
}

typedef struct kernel_name {
    uintptr_t bias;
    char *out;
    size_t cap;
} kernel_name;

static int find_kernel_name(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    kernel_name *k = arg;
    if (info->dlpi_addr != k->bias || !info->dlpi_name || info->dlpi_name[0] != '/')
        return 0;
    snprintf(k->out, k->cap, "%s", info->dlpi_name);
    return 1;
}

/* An object the loader knows by a relative name (dlopen("./plugin.so"))
 * is recorded under the kernel's absolute one: the analyzer, run from
 * another directory or machine, cannot open "./plugin.so" (and refuses
 * relative paths from a snapshot). An object recorded already keeps its
 * name, so the maps are read once per such object. */
static const char *absolute_name(const struct dl_phdr_info *info, uint64_t start,
                                 const char *path, char *buf, size_t cap)
{
    static mp_maps_scratch scratch;   /* under modules_lock */
    if (path[0] == '/')
        return path;
    for (size_t i = 0; i < n_modules; i++) {
        const mp_module *m = &modules[i];
        if (m->gen_unloaded == 0 && m->load_bias == info->dlpi_addr && m->start == start)
            return module_paths[i];
    }
    kernel_name k = {info->dlpi_addr, buf, cap};
    return mp_maps_iterate(&scratch, find_kernel_name, &k) == 1 ? buf : path;
}

static int scan_one(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    scan_state *st = arg;
    const char *path = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : exe_path;
    static char abs_buf[sizeof(exe_path)];   /* under modules_lock; no stack */
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uint64_t start = info->dlpi_addr + ph->p_vaddr;
        const char *name = st->from_maps ? recorded_name(info, ph, path)
                                         : absolute_name(info, start, path, abs_buf,
                                                         sizeof(abs_buf));
        long idx = find_record(start, start + ph->p_memsz, info->dlpi_addr, name);
        if (idx >= 0)
            st->found[idx] = 1;
        else
            add_record(info, ph, name, st);
    }
    return 0;
}

/* The oldest records of unloaded objects go (they come first: records
 * are appended), down to FORGET_DOWN_TO; under modules_lock, before a
 * scan's found[] is filled. Their paths stay in the arena (interned: a
 * reloaded object's path is found again). */
static void forget_oldest_unloaded(void)
{
    size_t excess = n_modules - FORGET_DOWN_TO, kept = 0;
    for (size_t i = 0; i < n_modules; i++) {
        if (excess && modules[i].gen_unloaded != 0) {
            excess--;
            atomic_fetch_add(&forgotten, 1);
            continue;
        }
        modules[kept] = modules[i];
        module_paths[kept++] = module_paths[i];
    }
    n_modules = kept;
}

uint64_t mp_modules_forgotten(void)
{
    return atomic_load(&forgotten);
}

bool mp_modules_frozen(void)
{
    return atomic_load_explicit(&frozen, memory_order_relaxed);
}

void mp_modules_refresh(void)
{
    static unsigned char found[MAX_MODULES];
    static mp_maps_scratch maps;   /* under modules_lock */
    if (!modules) {
        modules = mp_pages(sizeof(mp_module) * MAX_MODULES);
        module_paths = mp_pages(sizeof(char *) * MAX_MODULES);
        paths = mp_pages(PATHS_BYTES);
        ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
        exe_path[n > 0 ? n : 0] = 0;
        if (!modules || !module_paths || !paths)
            return;
    }
    mp_guard++;
    mp_spin_lock(&modules_lock);
    scan_state st = {.found = found, .gen_before = atomic_load(&mp_module_generation),
                     .from_maps = mp_modules_frozen()};
    if (n_modules > FORGET_ABOVE)
        forget_oldest_unloaded();
    memset(found, 0, sizeof(found));
    if (!st.from_maps)
        dl_iterate_phdr(scan_one, &st);
    else if (mp_maps_iterate(&maps, scan_one, &st) < 0)
        memset(found, 1, sizeof(found));   /* unreadable: nothing is gone */
    uint32_t gen_after = st.gen_before + 1;
    for (size_t i = 0; i < n_modules; i++) {
        if (modules[i].gen_unloaded == 0 && !found[i]) {
            modules[i].gen_unloaded = gen_after;
            st.changed = true;
        }
    }
    if (st.changed)
        atomic_store(&mp_module_generation, gen_after);
    mp_spin_unlock(&modules_lock);
    mp_guard--;
}

size_t mp_modules_count(void)
{
    return n_modules;
}

const mp_module *mp_modules_get(size_t i, const char **path)
{
    if (i >= n_modules)
        return NULL;
    *path = module_paths[i];
    return &modules[i];
}

void mp_modules_lock(void) { mp_spin_lock(&modules_lock); }
void mp_modules_unlock(void) { mp_spin_unlock(&modules_lock); }

/* Whether a thread other than the forking one may hold the loader's list
 * lock at the fork. glibc's flag says only that a thread was ever made;
 * the shim's own collector (--interval, --signal, dormant) would then
 * freeze every fork child of a single-threaded program, so the kernel's
 * count is asked too. The collector walks the list only in
 * mp_modules_refresh, under modules_lock, which the fork handler holds
 * across the fork; an attached process's GOT scans (got.c) are not so
 * fenced, and neither is a collector on its way out (not running, still
 * counted): both count as threaded. */
static bool others_may_hold_loader(void)
{
    if (&__libc_single_threaded != NULL && __libc_single_threaded)
        return false;
    if (atomic_load(&mp_attached))
        return true;
    long threads = mp_proc_status_value("Threads");
    return threads < 0 || threads > 1 + (atomic_load(&mp_collector_running) ? 1 : 0);
}

/* The fork handler's: the child's table is the newest this process can
 * see, and consistent (held across the fork). A forking thread already
 * inside the shim (a signal handler that interrupted it, and may have
 * interrupted a rescan) does not rescan. */
void mp_modules_before_fork(bool profiling)
{
    bool child_frozen = mp_modules_frozen() || others_may_hold_loader();
    /* Where frozen already, the child reads the maps itself when it needs
     * to: no scan on the forking thread. */
    if (child_frozen && !mp_modules_frozen() && profiling && modules && mp_guard <= 1)
        mp_modules_refresh();
    atomic_store(&forking_frozen, child_frozen);
    mp_modules_lock();
}

/*
 * dlclose is hooked so that a library's mapping is recorded before it goes
 * away and its generation closed right after. dlopen is deliberately NOT
 * hooked: glibc searches the *calling* object's RUNPATH and namespace, and an
 * interposer would make libmemprof.so the caller and break plugin loading.
 * Newly loaded libraries are found by the next rescan instead (collector,
 * snapshot, or the pre-dlclose rescan, whichever comes first), with
 * gen_loaded set so that stacks captured before that rescan still match.
 */
int dlclose(void *handle)
{
    static void *_Atomic next;
    int (*real_dlclose)(void *) = (int (*)(void *))mp_next_symbol(&next, "dlclose");
    if (!real_dlclose)
        return -1;
    bool track = atomic_load(&mp_state) == MP_STATE_READY && mp_guard == 0;
    if (track)
        mp_modules_refresh();   /* records anything loaded behind our back */
    int rc = real_dlclose(handle);
    if (track)
        mp_modules_refresh();   /* closes the unloaded ones' generations */
    return rc;
}

void mp_modules_after_fork_child(void)
{
    atomic_store(&frozen, atomic_load(&forking_frozen));
    atomic_store(&modules_lock.v, 0);
}
