/*
 * attach.c - profiling a process that was started without the shim.
 *
 * `memprof attach PID` has gdb dlopen this library into the running process
 * (RTLD_LOCAL) and call memprof_attach(config). A library loaded that late
 * interposes nothing: the program's calls reach malloc and the pthread
 * locks through the GOT slots the loader filled at start-up. So we rewrite
 * those slots (heaptrack and memray do the same): for every object of the
 * base namespace except ourselves, ld.so and the vdso, the JUMP_SLOT and
 * GLOB_DAT relocations of DT_JMPREL / DT_RELA / DT_REL that name a function
 * we interpose get our definition. A slot is rewritten only when it holds
 * exactly the definition our hook forwards to (or, for a JUMP_SLOT, the
 * object's own lazy-binding stub): a library bound to another allocator
 * (RTLD_DEEPBIND, another namespace, an old symbol version) keeps its own.
 * RELRO pages are made writable for the store and read-only again.
 *
 * Libraries loaded later are patched when dlopen returns (our hook) or by
 * the collector's next module rescan. Detach writes the original values
 * back into every slot of a still-loaded object that still holds a hook;
 * the library stays mapped (-z nodelete), so a thread still inside a hook
 * finishes normally, passing through.
 *
 * Invisible by construction: calls through function pointers the program
 * fetched before the attach (a saved `&malloc`, a vtable of allocator
 * functions), calls bound inside one object (-Bsymbolic, static
 * functions, a statically linked allocator calling itself), and allocations
 * made before the attach (their frees are ignored: the address filter never
 * saw them, and locks never seen contended stay on the fast path).
 */
#include "lockstate.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)
#define AT_R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define AT_R_GLOB_DAT R_X86_64_GLOB_DAT
#elif defined(__aarch64__)
#define AT_R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define AT_R_GLOB_DAT R_AARCH64_GLOB_DAT
#elif defined(__i386__)
#define AT_R_JUMP_SLOT R_386_JMP_SLOT
#define AT_R_GLOB_DAT R_386_GLOB_DAT
#else
#error "attach: unknown architecture (GOT relocation types)"
#endif

#if __ELF_NATIVE_CLASS == 64
#define AT_R_SYM ELF64_R_SYM
#define AT_R_TYPE ELF64_R_TYPE
#else
#define AT_R_SYM ELF32_R_SYM
#define AT_R_TYPE ELF32_R_TYPE
#endif

/* ---- the functions whose slots are rewritten ---- */

typedef struct at_fn {
    const char *name;
    const char *version;   /* NULL: the default version */
    uint32_t hash;
    bool lazy_ok;          /* an unbound lazy slot would bind to `real` */
    void *hook;            /* our definition */
    void *real;            /* what the program's slots hold; our hook forwards there */
} at_fn;

#define AT_MALLOC_FNS(X)                                                                   \
    X(malloc, "malloc") X(free, "free") X(calloc, "calloc") X(realloc, "realloc")          \
    X(reallocarray, "reallocarray") X(posix_memalign, "posix_memalign")                    \
    X(aligned_alloc, "aligned_alloc") X(memalign, "memalign") X(valloc, "valloc")          \
    X(pvalloc, "pvalloc") X(usable_size, "malloc_usable_size") X(free_sized, "free_sized") \
    X(free_aligned_sized, "free_aligned_sized")

enum {
#define X(field, name) AT_M_##field,
    AT_MALLOC_FNS(X)
#undef X
    AT_N_MALLOC
};
enum { AT_LOCK0 = AT_N_MALLOC, AT_DLOPEN = AT_LOCK0 + LK_NFNS, AT_NFNS };

static at_fn at_fns[AT_NFNS] = {
#define X(field, nm) [AT_M_##field] = {.name = nm, .lazy_ok = true},
    AT_MALLOC_FNS(X)
#undef X
#define X(id, nm, ver) [AT_LOCK0 + LK_##id] = {.name = nm, .version = ver, .lazy_ok = !ver},
    LK_FNS(X)
#undef X
    [AT_DLOPEN] = {.name = "dlopen", .lazy_ok = true},
};

static uint32_t at_hash(const char *s)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* ---- state ---- */

typedef struct at_patch {
    void **slot;
    void *orig;
    void *hook;
} at_patch;
#define AT_MAX_PATCHES 65536

static at_patch *at_patches;
static size_t at_npatches;
static mp_spinlock at_lock;           /* patches, scans */
static _Atomic int at_attached;        /* memprof_attach succeeded, no detach yet */
static _Atomic int at_ever;            /* this process was attached at least once */
static uintptr_t at_self_base, at_ldso_base, at_vdso;
static uint32_t at_scanned_gen;        /* module generation of the last scan */
static uint64_t at_time_ns;

bool mp_attach_active(void)
{
    return atomic_load_explicit(&at_attached, memory_order_relaxed) != 0;
}

uint64_t mp_attach_time_ns(void)
{
    return atomic_load(&at_ever) ? at_time_ns : 0;
}

/* ---- one object's dynamic section ---- */

typedef struct at_obj {
    uintptr_t base;
    const ElfW(Phdr) *phdr;
    int phnum;
    const ElfW(Sym) *symtab;
    const char *strtab;
    uintptr_t jmprel, pltrelsz, rela, relasz, rel, relsz;
    bool plt_is_rela;
} at_obj;

/* glibc relocates most d_ptr values of a loaded object's dynamic section in
 * place, but not where that section is read-only (the vdso, some linkers). */
static uintptr_t at_ptr(uintptr_t base, uintptr_t v)
{
    return v && v < base ? v + base : v;
}

static bool at_read_dynamic(const struct dl_phdr_info *info, at_obj *o)
{
    memset(o, 0, sizeof(*o));
    o->base = info->dlpi_addr;
    o->phdr = info->dlpi_phdr;
    o->phnum = info->dlpi_phnum;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (!dyn)
        return false;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        uintptr_t v = dyn->d_un.d_ptr;
        switch (dyn->d_tag) {
        case DT_SYMTAB: o->symtab = (const ElfW(Sym) *)at_ptr(o->base, v); break;
        case DT_STRTAB: o->strtab = (const char *)at_ptr(o->base, v); break;
        case DT_JMPREL: o->jmprel = at_ptr(o->base, v); break;
        case DT_PLTRELSZ: o->pltrelsz = dyn->d_un.d_val; break;
        case DT_PLTREL: o->plt_is_rela = dyn->d_un.d_val == DT_RELA; break;
        case DT_RELA: o->rela = at_ptr(o->base, v); break;
        case DT_RELASZ: o->relasz = dyn->d_un.d_val; break;
        case DT_REL: o->rel = at_ptr(o->base, v); break;
        case DT_RELSZ: o->relsz = dyn->d_un.d_val; break;
        default: break;
        }
    }
    return o->symtab && o->strtab;
}

/* True when p lies in one of the object's executable segments: an unbound
 * JUMP_SLOT points at the object's own PLT. */
static bool at_in_text(const at_obj *o, uintptr_t p)
{
    for (int i = 0; i < o->phnum; i++) {
        const ElfW(Phdr) *ph = &o->phdr[i];
        uintptr_t lo = o->base + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && p - lo < ph->p_memsz)
            return true;
    }
    return false;
}

/* The protection the loader left on the page holding p: read-only inside
 * PT_GNU_RELRO (glibc protects its whole pages), else the segment's. */
static int at_prot_of(const at_obj *o, uintptr_t p)
{
    uintptr_t page = (uintptr_t)getpagesize();
    int prot = PROT_READ;
    for (int i = 0; i < o->phnum; i++) {
        const ElfW(Phdr) *ph = &o->phdr[i];
        uintptr_t lo = o->base + ph->p_vaddr;
        if (ph->p_type == PT_GNU_RELRO) {
            uintptr_t start = lo & ~(page - 1), end = (lo + ph->p_memsz) & ~(page - 1);
            if (p >= start && p < end)
                return PROT_READ;
        }
        if (ph->p_type == PT_LOAD && p - lo < ph->p_memsz)
            prot = ((ph->p_flags & PF_R) ? PROT_READ : 0) | ((ph->p_flags & PF_W) ? PROT_WRITE : 0) |
                   ((ph->p_flags & PF_X) ? PROT_EXEC : 0);
    }
    return prot;
}

static bool at_store(const at_obj *o, void **slot, void *value)
{
    int prot = at_prot_of(o, (uintptr_t)slot);
    if (prot & PROT_WRITE) {
        __atomic_store_n(slot, value, __ATOMIC_RELEASE);
        return true;
    }
    uintptr_t pagesz = (uintptr_t)getpagesize();
    void *page = (void *)((uintptr_t)slot & ~(pagesz - 1));
    if (mprotect(page, pagesz, prot | PROT_WRITE) != 0)
        return false;
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    mprotect(page, pagesz, prot);
    return true;
}

/* ---- walking relocations ---- */

typedef void (*at_visit_fn)(const at_obj *o, void **slot, int type, at_fn *fn);

static at_fn *at_find(const char *name)
{
    uint32_t h = at_hash(name);
    for (int i = 0; i < AT_NFNS; i++)
        if (at_fns[i].hash == h && at_fns[i].hook && strcmp(at_fns[i].name, name) == 0)
            return &at_fns[i];
    return NULL;
}

static void at_walk(const at_obj *o, uintptr_t table, uintptr_t bytes, bool rela, at_visit_fn visit)
{
    size_t entsz = rela ? sizeof(ElfW(Rela)) : sizeof(ElfW(Rel));
    for (uintptr_t off = 0; table && off + entsz <= bytes; off += entsz) {
        /* Rel is a prefix of Rela: offset and info come first in both. */
        const ElfW(Rel) *r = (const ElfW(Rel) *)(table + off);
        int type = (int)AT_R_TYPE(r->r_info);
        size_t sym = AT_R_SYM(r->r_info);
        if ((type != AT_R_JUMP_SLOT && type != AT_R_GLOB_DAT) || sym == 0)
            continue;
        at_fn *fn = at_find(o->strtab + o->symtab[sym].st_name);
        if (fn)
            visit(o, (void **)(o->base + r->r_offset), type, fn);
    }
}

static void at_walk_object(const at_obj *o, at_visit_fn visit)
{
    at_walk(o, o->jmprel, o->pltrelsz, o->plt_is_rela, visit);
    at_walk(o, o->rela, o->relasz, true, visit);
    at_walk(o, o->rel, o->relsz, false, visit);
}

/* Objects of the base namespace only: another namespace has its own libc,
 * whose allocator must not be mixed with ours. */
static bool at_in_base_namespace(const struct dl_phdr_info *info)
{
    const void *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const void *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    for (const struct link_map *l = _r_debug.r_map; l; l = l->l_next)
        if ((const void *)l->l_ld == dyn)
            return true;
    return false;
}

/* Runs inside dl_iterate_phdr, which holds the loader's list lock: the
 * object cannot be unmapped under us. Nothing here may call into the
 * loader (dlsym would wait for the lock a concurrent dlopen holds while it
 * waits for ours). */
static int at_each_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t phdr = (uintptr_t)info->dlpi_phdr;
    if (info->dlpi_addr == at_self_base || info->dlpi_addr == at_ldso_base ||
        (at_vdso && phdr - at_vdso < 65536) || !at_in_base_namespace(info))
        return 0;
    at_obj o;
    if (at_read_dynamic(info, &o))
        at_walk_object(&o, (at_visit_fn)arg);
    return 0;
}

/* ---- patching and restoring ---- */

static void at_patch_slot(const at_obj *o, void **slot, int type, at_fn *fn)
{
    void *cur = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (cur == fn->hook || !fn->real)
        return;
    bool lazy = type == AT_R_JUMP_SLOT && fn->lazy_ok && at_in_text(o, (uintptr_t)cur);
    if (cur != fn->real && !lazy)
        return;   /* bound to another definition: not ours to redirect */
    if (at_npatches == AT_MAX_PATCHES)
        return;
    at_patches[at_npatches] = (at_patch){slot, cur, fn->hook};
    if (at_store(o, slot, fn->hook))
        at_npatches++;
}

/* Newest record first: a library unloaded and another loaded at the same
 * address was recorded again. */
static void at_restore_slot(const at_obj *o, void **slot, int type, at_fn *fn)
{
    (void)type;
    if (__atomic_load_n(slot, __ATOMIC_ACQUIRE) != fn->hook)
        return;
    for (size_t i = at_npatches; i-- > 0;) {
        if (at_patches[i].slot == slot) {
            at_store(o, slot, at_patches[i].orig);
            return;
        }
    }
    at_store(o, slot, fn->real);
}

static void at_scan(at_visit_fn visit)
{
    mp_guard++;
    mp_spin_lock(&at_lock);
    at_scanned_gen = atomic_load(&mp_module_generation);
    /* A dlopen that began before a detach must not patch after it. */
    if (visit != at_patch_slot || mp_attach_active())
        dl_iterate_phdr(at_each_object, (void *)visit);
    mp_spin_unlock(&at_lock);
    mp_guard--;
}

/* Libraries loaded since the last scan get their slots too. Called by the
 * collector after its module rescans; cheap when nothing changed. */
void mp_attach_rescan(void)
{
    if (mp_attach_active() && atomic_load(&mp_module_generation) != at_scanned_gen)
        at_scan(at_patch_slot);
}

/* ---- dlopen: patch what it loaded ---- */

/* glibc searches the *calling* object's RUNPATH/RPATH (and $ORIGIN) for a
 * name without a slash; called from here, the caller would be us. Such a
 * call goes straight through (a sibling call: the return address is the
 * program's) and the collector's rescan patches the library a moment later. */
static bool at_caller_matters(const char *file, const void *caller)
{
    Dl_info info;
    struct link_map *lm = NULL;
    if (!file || (strchr(file, '/') && !strchr(file, '$')))
        return false;
    if (!dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
        return true;
    for (const ElfW(Dyn) *d = lm->l_ld; d->d_tag != DT_NULL; d++)
        if (d->d_tag == DT_RUNPATH || d->d_tag == DT_RPATH)
            return true;
    return strchr(file, '$') != NULL;
}

static void *at_dlopen(const char *file, int mode)
{
    void *(*real)(const char *, int) = (void *(*)(const char *, int))at_fns[AT_DLOPEN].real;
    if (!mp_attach_active() || at_caller_matters(file, __builtin_return_address(0)))
        return real(file, mode);
    void *h = real(file, mode);
    int err = errno;
    if (h)
        at_scan(at_patch_slot);
    errno = err;
    return h;
}

/* ---- start and stop ---- */

/* Whether this copy of the library was loaded after start-up (dlopen'd by
 * memprof attach) rather than preloaded. RTLD_DEFAULT would not tell: from
 * inside a library it searches that library's own scope too. The main
 * program's handle searches the objects loaded at start, preloads
 * included. A failed lookup's dlerror message is cleared, since the
 * program may look at dlerror itself. */
bool mp_attach_loaded_late(void)
{
    void *main_handle = dlopen(NULL, RTLD_LAZY | RTLD_NOLOAD);
    void *p = main_handle ? dlsym(main_handle, "memprof_attach") : NULL;
    if (!p)
        dlerror();
    if (main_handle)
        dlclose(main_handle);
    return p == NULL;
}

/* Our own definitions and the program's, for every entry of the table.
 * RTLD_NEXT is no use here: for a library dlopen'd into a process, it
 * searches a scope we are not in. */
static int at_resolve(void)
{
    Dl_info self;
    struct link_map *lm = NULL;
    if (!dladdr1((void *)mp_attach_rescan, &self, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
        return -1;
    void *handle = dlopen(self.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!handle)
        return -1;
    at_self_base = lm->l_addr;
    at_ldso_base = getauxval(AT_BASE);
    at_vdso = getauxval(AT_SYSINFO_EHDR);
    for (int i = 0; i < AT_NFNS; i++) {
        at_fn *f = &at_fns[i];
        f->hash = at_hash(f->name);
        f->real = f->version ? dlvsym(RTLD_DEFAULT, f->name, f->version)
                             : dlsym(RTLD_DEFAULT, f->name);
        f->hook = i == AT_DLOPEN ? (void *)at_dlopen : dlsym(handle, f->name);
        if (f->real == f->hook)
            f->real = NULL;   /* cannot happen unless we are global after all */
    }
    dlerror();
    dlclose(handle);
    if (!at_fns[AT_M_malloc].real || !at_fns[AT_M_free].real)
        return -1;
    /* The hooks forward to exactly what the slots held. */
    mp_real_fns r = {0};
#define X(field, name) *(void **)&r.field = at_fns[AT_M_##field].real;
    AT_MALLOC_FNS(X)
#undef X
    mp_real = r;
    for (int i = 0; i < LK_NFNS; i++)
        if (at_fns[AT_LOCK0 + i].real)
            atomic_store(&lk_fn[i], at_fns[AT_LOCK0 + i].real);
    return 0;
}

/* "sample=N;interval=S;locks=0|1;out=DIR" (out last: DIR may hold ';'). */
static int at_parse_config(const char *s)
{
    if (!s)
        return -1;
    while (*s) {
        const char *eq = strchr(s, '=');
        if (!eq)
            return -1;
        size_t klen = (size_t)(eq - s);
        const char *v = eq + 1;
        if (klen == 3 && strncmp(s, "out", 3) == 0) {
            if (v[0] != '/' || strlen(v) >= sizeof(mp_cfg.out_dir))
                return -1;
            snprintf(mp_cfg.out_dir, sizeof(mp_cfg.out_dir), "%s", v);
            return 0;
        }
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || end == v || (*end && *end != ';'))
            return -1;
        if (klen == 6 && strncmp(s, "sample", 6) == 0 && n >= 1)
            mp_cfg.sample_bytes = n;
        else if (klen == 8 && strncmp(s, "interval", 8) == 0)
            mp_cfg.interval_s = (unsigned)n;
        else if (klen == 5 && strncmp(s, "locks", 5) == 0 && n <= 1)
            mp_cfg.locks = (int)n;
        else
            return -1;
        s = *end ? end + 1 : end;
    }
    return mp_cfg.out_dir[0] ? 0 : -1;
}

static void at_name_program(void)
{
    const char *prog = program_invocation_short_name;
    snprintf(mp_cfg.prog, sizeof(mp_cfg.prog), "%s", prog && *prog ? prog : "unknown");
    for (char *c = mp_cfg.prog; *c; c++)
        if (*c == '/' || *c == ' ')
            *c = '_';
}

/* What a previous attach recorded is forgotten: counting restarts now.
 * Not the application side's lock table, which other threads' hold
 * records point into (a lock contended then keeps its entry, and its
 * acquisition counts go on from there). */
static void at_reset_for_reattach(void)
{
    mp_collector_drain_now();
    mp_stats_reset();
    mp_addrset_clear();
    mp_aggregates_reset();
    mp_locks_reset_aggregates();
}

/* Result codes, read by `memprof attach` (cmd_attach.c). */
enum { AT_OK = 0, AT_ALREADY = 1, AT_BAD_CONFIG = 2, AT_NO_MEMORY = 3, AT_NO_SYMBOLS = 4,
       AT_NO_THREAD = 5, AT_BUSY = 6 };

static int at_start(const char *config)
{
    if (!mp_attach_loaded_late() || mp_attach_active())
        return AT_ALREADY;
    int st = atomic_load(&mp_state);
    if (st != MP_STATE_OFF && st != MP_STATE_FINISHED)
        return AT_ALREADY;
    if (at_parse_config(config) != 0)
        return AT_BAD_CONFIG;
    at_name_program();
    if (at_resolve() != 0)
        return AT_NO_SYMBOLS;
    if (!at_patches)
        at_patches = mp_reserve(sizeof(at_patch) * AT_MAX_PATCHES);
    if (!at_patches || mp_stacktab_init() != 0 || mp_addrset_init() != 0)
        return AT_NO_MEMORY;
    bool again = atomic_load(&at_ever);
    if (again) {
        mp_collector_stop();   /* the previous collector is gone, socket and all */
        at_reset_for_reattach();
    }
    mp_pid = getpid();
    at_time_ns = mp_realtime_ns();
    mp_modules_refresh();
    mp_unwind_prepare();
    if (!again)
        mp_register_fork_handlers();
    atomic_store(&at_ever, 1);
    atomic_store(&mp_state, MP_STATE_READY);
    if (mp_collector_start() != 0) {
        atomic_store(&mp_state, MP_STATE_FINISHED);
        return AT_NO_THREAD;
    }
    atomic_store(&at_attached, 1);
    at_scan(at_patch_slot);
    return AT_OK;
}

/*
 * The entry point `memprof attach` calls (through gdb) once the library is
 * loaded. Returns one of the AT_* codes; on any failure the process is as
 * it was (nothing patched, no thread).
 */
__attribute__((visibility("default"))) int memprof_attach(const char *config)
{
    static mp_spinlock once;
    if (!mp_spin_trylock(&once))
        return AT_BUSY;
    mp_guard++;
    int rc = at_start(config);
    mp_guard--;
    mp_spin_unlock(&once);
    return rc;
}

/* Detach, on the collector thread: every slot back to what it held. From
 * here on, a thread still inside a hook passes straight through. */
void mp_attach_stop(void)
{
    if (!atomic_exchange(&at_attached, 0))
        return;
    at_scan(at_restore_slot);
    atomic_store(&mp_state, MP_STATE_FINISHED);
}
