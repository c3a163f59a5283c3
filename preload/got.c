/*
 * got.c - the GOT patcher behind `memprof attach` (attach.c starts it).
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
#define GOT_R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define GOT_R_GLOB_DAT R_X86_64_GLOB_DAT
#elif defined(__aarch64__)
#define GOT_R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define GOT_R_GLOB_DAT R_AARCH64_GLOB_DAT
#elif defined(__i386__)
#define GOT_R_JUMP_SLOT R_386_JMP_SLOT
#define GOT_R_GLOB_DAT R_386_GLOB_DAT
#else
#error "attach: unknown architecture (GOT relocation types)"
#endif

#if __ELF_NATIVE_CLASS == 64
#define GOT_R_SYM ELF64_R_SYM
#define GOT_R_TYPE ELF64_R_TYPE
#else
#define GOT_R_SYM ELF32_R_SYM
#define GOT_R_TYPE ELF32_R_TYPE
#endif

/* ---- the functions whose slots are rewritten ---- */

typedef struct got_fn {
    const char *name;
    const char *version;   /* NULL: the default version */
    uint32_t hash;
    bool lazy_ok;          /* an unbound lazy slot would bind to `real` */
    void *hook;            /* our definition */
    void *real;            /* what the program's slots hold; our hook forwards there */
} got_fn;

#define GOT_MALLOC_FNS(X)                                                                   \
    X(malloc, "malloc") X(free, "free") X(calloc, "calloc") X(realloc, "realloc")          \
    X(reallocarray, "reallocarray") X(posix_memalign, "posix_memalign")                    \
    X(aligned_alloc, "aligned_alloc") X(memalign, "memalign") X(valloc, "valloc")          \
    X(pvalloc, "pvalloc") X(usable_size, "malloc_usable_size") X(free_sized, "free_sized") \
    X(free_aligned_sized, "free_aligned_sized")

/* A server that drops privileges after the attach (nginx's new workers
 * after a reload) must still get its uid-<uid> directory (privdrop.c). */
#define GOT_PRIVDROP_FNS(X) X(setuid) X(seteuid) X(setreuid) X(setresuid)

enum {
#define X(field, name) GOT_M_##field,
    GOT_MALLOC_FNS(X)
#undef X
#define X(fn) GOT_P_##fn,
    GOT_PRIVDROP_FNS(X)
#undef X
#define X(field, fn, version, ...) GOT_L_##field,
    LK_FNS(X)
#undef X
    GOT_DLOPEN,
    GOT_NFNS
};

/* A lazy slot of a versioned function (the condvars) might bind to the
 * old version: only bound slots of those are taken. */
static got_fn got_fns[GOT_NFNS] = {
#define X(field, nm) [GOT_M_##field] = {.name = nm, .lazy_ok = true},
    GOT_MALLOC_FNS(X)
#undef X
#define X(fn) [GOT_P_##fn] = {.name = #fn, .lazy_ok = true},
    GOT_PRIVDROP_FNS(X)
#undef X
#define X(field, fn, ver, ...) [GOT_L_##field] = {.name = #fn, .version = ver, .lazy_ok = !ver},
    LK_FNS(X)
#undef X
    [GOT_DLOPEN] = {.name = "dlopen", .lazy_ok = true},
};

static uint32_t got_hash(const char *s)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* ---- state ---- */

typedef struct got_patch {
    void **slot;
    void *orig;
    void *hook;
} got_patch;
#define GOT_MAX_PATCHES 65536

static got_patch *got_patches;
static size_t got_npatches;
static mp_spinlock got_lock;           /* patches, scans */
static _Atomic int got_attached;        /* memprof_attach succeeded, no detach yet */
static uintptr_t got_self_base, got_ldso_base, got_vdso;
static uint32_t got_scanned_gen;        /* module generation of the last scan */

bool mp_got_active(void)
{
    return atomic_load_explicit(&got_attached, memory_order_relaxed) != 0;
}

/* ---- one object's dynamic section ---- */

typedef struct got_obj {
    uintptr_t base;
    const ElfW(Phdr) *phdr;
    int phnum;
    const ElfW(Sym) *symtab;
    const char *strtab;
    uintptr_t jmprel, pltrelsz, rela, relasz, rel, relsz;
    bool plt_is_rela;
} got_obj;

/* glibc relocates most d_ptr values of a loaded object's dynamic section in
 * place, but not where that section is read-only (the vdso, some linkers). */
static uintptr_t got_ptr(uintptr_t base, uintptr_t v)
{
    return v && v < base ? v + base : v;
}

static bool got_read_dynamic(const struct dl_phdr_info *info, got_obj *o)
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
        case DT_SYMTAB: o->symtab = (const ElfW(Sym) *)got_ptr(o->base, v); break;
        case DT_STRTAB: o->strtab = (const char *)got_ptr(o->base, v); break;
        case DT_JMPREL: o->jmprel = got_ptr(o->base, v); break;
        case DT_PLTRELSZ: o->pltrelsz = dyn->d_un.d_val; break;
        case DT_PLTREL: o->plt_is_rela = dyn->d_un.d_val == DT_RELA; break;
        case DT_RELA: o->rela = got_ptr(o->base, v); break;
        case DT_RELASZ: o->relasz = dyn->d_un.d_val; break;
        case DT_REL: o->rel = got_ptr(o->base, v); break;
        case DT_RELSZ: o->relsz = dyn->d_un.d_val; break;
        default: break;
        }
    }
    return o->symtab && o->strtab;
}

/* True when p lies in one of the object's executable segments: an unbound
 * JUMP_SLOT points at the object's own PLT. */
static bool got_in_text(const got_obj *o, uintptr_t p)
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
static int got_prot_of(const got_obj *o, uintptr_t p)
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

static bool got_store(const got_obj *o, void **slot, void *value)
{
    int prot = got_prot_of(o, (uintptr_t)slot);
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

typedef void (*got_visit_fn)(const got_obj *o, void **slot, int type, got_fn *fn);

static got_fn *got_find(const char *name)
{
    uint32_t h = got_hash(name);
    for (int i = 0; i < GOT_NFNS; i++)
        if (got_fns[i].hash == h && got_fns[i].hook && strcmp(got_fns[i].name, name) == 0)
            return &got_fns[i];
    return NULL;
}

static void got_walk(const got_obj *o, uintptr_t table, uintptr_t bytes, bool rela, got_visit_fn visit)
{
    size_t entsz = rela ? sizeof(ElfW(Rela)) : sizeof(ElfW(Rel));
    for (uintptr_t off = 0; table && off + entsz <= bytes; off += entsz) {
        /* Rel is a prefix of Rela: offset and info come first in both. */
        const ElfW(Rel) *r = (const ElfW(Rel) *)(table + off);
        int type = (int)GOT_R_TYPE(r->r_info);
        size_t sym = GOT_R_SYM(r->r_info);
        if ((type != GOT_R_JUMP_SLOT && type != GOT_R_GLOB_DAT) || sym == 0)
            continue;
        got_fn *fn = got_find(o->strtab + o->symtab[sym].st_name);
        if (fn)
            visit(o, (void **)(o->base + r->r_offset), type, fn);
    }
}

static void got_walk_object(const got_obj *o, got_visit_fn visit)
{
    got_walk(o, o->jmprel, o->pltrelsz, o->plt_is_rela, visit);
    got_walk(o, o->rela, o->relasz, true, visit);
    got_walk(o, o->rel, o->relsz, false, visit);
}

/* Objects of the base namespace only: another namespace has its own libc,
 * whose allocator must not be mixed with ours. */
static bool got_in_base_namespace(const struct dl_phdr_info *info)
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
static int got_each_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t phdr = (uintptr_t)info->dlpi_phdr;
    if (info->dlpi_addr == got_self_base || info->dlpi_addr == got_ldso_base ||
        (got_vdso && phdr - got_vdso < 65536) || !got_in_base_namespace(info))
        return 0;
    got_obj o;
    if (got_read_dynamic(info, &o))
        got_walk_object(&o, (got_visit_fn)arg);
    return 0;
}

/* ---- patching and restoring ---- */

static void got_patch_slot(const got_obj *o, void **slot, int type, got_fn *fn)
{
    void *cur = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (cur == fn->hook || !fn->real)
        return;
    bool lazy = type == GOT_R_JUMP_SLOT && fn->lazy_ok && got_in_text(o, (uintptr_t)cur);
    if (cur != fn->real && !lazy)
        return;   /* bound to another definition: not ours to redirect */
    if (got_npatches == GOT_MAX_PATCHES)
        return;
    got_patches[got_npatches] = (got_patch){slot, cur, fn->hook};
    if (got_store(o, slot, fn->hook))
        got_npatches++;
}

/* Newest record first: a library unloaded and another loaded at the same
 * address was recorded again. */
static void got_restore_slot(const got_obj *o, void **slot, int type, got_fn *fn)
{
    (void)type;
    if (__atomic_load_n(slot, __ATOMIC_ACQUIRE) != fn->hook)
        return;
    for (size_t i = got_npatches; i-- > 0;) {
        if (got_patches[i].slot == slot) {
            got_store(o, slot, got_patches[i].orig);
            return;
        }
    }
    got_store(o, slot, fn->real);
}

/* Not in a fork child of a multi-threaded process (modules.c): the
 * loader's list lock another thread of the parent held at the fork stays
 * held there, and dl_iterate_phdr would never return (a dlopen of a
 * library already loaded still works there, and came to us through the
 * hook). Such a child keeps the slots it inherited, patched; a library it
 * loads itself goes unpatched, and its detach leaves the hooks in place,
 * passing through. */
static void got_scan(got_visit_fn visit)
{
    if (mp_modules_frozen())
        return;
    mp_guard++;
    mp_spin_lock(&got_lock);
    got_scanned_gen = atomic_load(&mp_module_generation);
    /* A dlopen that began before a detach must not patch after it. */
    if (visit != got_patch_slot || mp_got_active())
        dl_iterate_phdr(got_each_object, (void *)visit);
    mp_spin_unlock(&got_lock);
    mp_guard--;
}

/* Libraries loaded since the last scan get their slots too. Called by the
 * collector after its module rescans; cheap when nothing changed. */
void mp_got_rescan(void)
{
    if (mp_got_active() && atomic_load(&mp_module_generation) != got_scanned_gen)
        got_scan(got_patch_slot);
}

/* ---- dlopen: patch what it loaded ---- */

/* glibc searches the *calling* object's RUNPATH/RPATH (and $ORIGIN) for a
 * name without a slash; called from here, the caller would be us. Such a
 * call goes straight through (a sibling call: the return address is the
 * program's) and the collector's rescan patches the library a moment later. */
static bool got_caller_matters(const char *file, const void *caller)
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

static void *got_dlopen(const char *file, int mode)
{
    void *(*real)(const char *, int) = (void *(*)(const char *, int))got_fns[GOT_DLOPEN].real;
    if (!mp_got_active() || got_caller_matters(file, __builtin_return_address(0)))
        return real(file, mode);
    void *h = real(file, mode);
    int err = errno;
    if (h)
        got_scan(got_patch_slot);
    errno = err;
    return h;
}

/* ---- canonical PLT entries ---- */

/*
 * A non-PIE executable that takes a function's address (Debian's
 * /usr/bin/python3.11 takes malloc's) makes its own PLT entry the
 * function's canonical address: every object's slot for the name resolves
 * to that stub, and so does dlsym. The stub jumps through the executable's
 * JUMP_SLOT, which holds the real definition, and through which all of the
 * executable's own calls go. So `real` is what that slot holds: the slot
 * gets the hook, and the slots holding the stub are left alone (they reach
 * the hook through it, and the program's comparisons of function pointers
 * still hold). A slot still unbound cannot tell the definition: the
 * function is not hooked (forwarding to the stub would come back to us).
 */
static void got_look_behind_plt(const got_obj *o, void **slot, int type, got_fn *fn)
{
    if (type != GOT_R_JUMP_SLOT || !fn->real || !got_in_text(o, (uintptr_t)fn->real))
        return;
    void *cur = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    fn->real = got_in_text(o, (uintptr_t)cur) ? NULL : cur;
}

/* The first object is the main program. */
static int got_main_program(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    got_obj o;
    if (got_read_dynamic(info, &o))
        got_walk_object(&o, got_look_behind_plt);
    return 1;
}

/* ---- start and stop ---- */

/* Whether this copy of the library was loaded after start-up (dlopen'd by
 * memprof attach) rather than preloaded. RTLD_DEFAULT would not tell: from
 * inside a library it searches that library's own scope too. The main
 * program's handle searches the objects loaded at start, preloads
 * included. A failed lookup's dlerror message is cleared, since the
 * program may look at dlerror itself. */
bool mp_got_loaded_late(void)
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
int mp_got_resolve(void)
{
    Dl_info self;
    struct link_map *lm = NULL;
    if (!dladdr1((void *)mp_got_rescan, &self, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
        return -1;
    void *handle = dlopen(self.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!handle)
        return -1;
    got_self_base = lm->l_addr;
    got_ldso_base = getauxval(AT_BASE);
    got_vdso = getauxval(AT_SYSINFO_EHDR);
    for (int i = 0; i < GOT_NFNS; i++) {
        got_fn *f = &got_fns[i];
        f->hash = got_hash(f->name);
        f->real = f->version ? dlvsym(RTLD_DEFAULT, f->name, f->version)
                             : dlsym(RTLD_DEFAULT, f->name);
        f->hook = i == GOT_DLOPEN ? (void *)got_dlopen : dlsym(handle, f->name);
        if (f->real == f->hook)
            f->real = NULL;   /* cannot happen unless we are global after all */
    }
    dlerror();
    dlclose(handle);
    dl_iterate_phdr(got_main_program, NULL);
    if (!got_fns[GOT_M_malloc].real || !got_fns[GOT_M_free].real)
        return -1;
    /* The hooks forward to exactly what the slots held. */
    mp_real_fns r = {0};
#define X(field, name) *(void **)&r.field = got_fns[GOT_M_##field].real;
    GOT_MALLOC_FNS(X)
#undef X
    mp_real = r;
    lk_real_fns l = {0};
#define X(field, fn, version, ...) *(void **)&l.field = got_fns[GOT_L_##field].real;
    LK_FNS(X)
#undef X
    lk_real_install(&l);
    return 0;
}

/* Every slot the program holds of the table's functions now points to our
 * hooks; -1 when there is no memory for the record of the originals. */
int mp_got_patch(void)
{
    if (!got_patches)
        got_patches = mp_reserve(sizeof(got_patch) * GOT_MAX_PATCHES);
    if (!got_patches)
        return -1;
    atomic_store(&got_attached, 1);
    got_scan(got_patch_slot);
    return 0;
}

/* Detach: every slot back to what it held. From here on, a thread still
 * inside a hook passes straight through. */
void mp_got_restore(void)
{
    if (atomic_exchange(&got_attached, 0))
        got_scan(got_restore_slot);
}
