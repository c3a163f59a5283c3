/*
 * symbolize.c - turn a snapshot stack's return addresses into named frames.
 *
 * Three caches, from coarse to fine:
 *   file      one mp_elffile per ELF file (keyed by build ID, else by path;
 *             elffile.c opens it), so the same file loaded by many processes
 *             at different ASLR addresses is opened once;
 *   addrent   one per (file, vaddr): the function/file:line chain for that
 *             address with inlined callers expanded - DWARF scope walks are
 *             the expensive part, and hot addresses recur across stacks;
 *   snapstate one per snapshot content: the module record of every frame
 *             (modindex.c, one sweep over the generations), the file of
 *             each module record and each symbolized stack.
 *
 * Every string handed out is interned in the symbolizer's table, so frames
 * stay valid until mp_symbolizer_free and compare by pointer.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyzer.h"
#include "cuindex.h"
#include "elffile.h"
#include "hashmap.h"
#include "modindex.h"
#include "rustscopes.h"
#include "strtab.h"
#include "util.h"

/* A function as a frame names it (all interned; NULL, 0 when unknown). */
typedef struct fn_name {
    const char *name;       /* demangled */
    const char *sys;        /* linkage name (mp_frame.system_name) */
    int start_line;         /* DW_AT_decl_line */
} fn_name;

/* One function in an address's inline chain, innermost first. */
typedef struct chain_frame {
    const char *function;   /* interned, demangled */
    const char *system_name;
    int start_line;
    const char *file;       /* interned or NULL */
    int line;
    const char *keypart;    /* interned symbolic identity of this frame */
} chain_frame;

typedef struct addrent {
    const mp_elffile *mf;
    uint64_t vaddr;
    uint32_t n;             /* 0: no symbol known */
    chain_frame *chain;
} addrent;

typedef struct snapstate {
    uint64_t ident, size;   /* checksum and file size of the snapshot */
    size_t n_modules, n_stacks;
    uint32_t *frame_mod;    /* module record of each frame, MP_NO_MODULE */
    mp_elffile **mods;      /* per module record, resolved lazily */
    bool *mods_done;
    mp_symstack **stacks;   /* per stack index, built lazily */
} snapstate;

typedef struct rust_unit {
    const Dwarf_Die *cu;
    mp_rustscopes *ix;      /* NULL: not a Rust unit */
} rust_unit;

struct mp_symbolizer {
    mp_strtab *strs;
    mp_elffile **files;
    size_t n_files, cap_files;
    mp_hashmap file_index;       /* interned key -> files[] */
    addrent *addrs;              /* dense; addr_index maps (mf, vaddr) here */
    size_t n_addrs, cap_addrs;
    mp_hashmap addr_index;
    snapstate **snaps;
    size_t n_snaps, cap_snaps;
    mp_strbuf buf;               /* scratch for building keys and paths */
    mp_cuindex **cuix;           /* modules whose aranges libdwfl misreads */
    size_t n_cuix, cap_cuix;
    struct rust_unit *rust;      /* units where dwarf_getscopes found nothing */
    size_t n_rust, cap_rust;
    mp_hashmap rust_index;       /* unit -> rust[] */
};

mp_symbolizer *mp_symbolizer_new(void)
{
    mp_symbolizer *s = mp_xcalloc(1, sizeof(*s));
    s->strs = mp_strtab_new();
    mp_hashmap_init(&s->addr_index, 2048);
    return s;
}

static void snapstate_free(snapstate *ss)
{
    for (size_t i = 0; i < ss->n_stacks; i++) {
        if (ss->stacks[i])
            free(ss->stacks[i]->frames);
        free(ss->stacks[i]);
    }
    free(ss->stacks);
    free(ss->frame_mod);
    free(ss->mods);
    free(ss->mods_done);
    free(ss);
}

void mp_symbolizer_free(mp_symbolizer *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_cuix; i++)
        mp_cuindex_free(s->cuix[i]);
    free(s->cuix);
    for (size_t i = 0; i < s->n_rust; i++)
        mp_rustscopes_free(s->rust[i].ix);
    free(s->rust);
    mp_hashmap_free(&s->rust_index);
    for (size_t i = 0; i < s->n_files; i++)
        mp_elffile_free(s->files[i]);
    for (size_t i = 0; i < s->n_addrs; i++)
        free(s->addrs[i].chain);
    for (size_t i = 0; i < s->n_snaps; i++)
        snapstate_free(s->snaps[i]);
    free(s->files);
    free(s->addrs);
    mp_hashmap_free(&s->addr_index);
    mp_hashmap_free(&s->file_index);
    free(s->snaps);
    mp_strbuf_free(&s->buf);
    mp_strtab_free(s->strs);
    free(s);
}

/* Interns the scratch buffer's contents. */
static const char *buf_intern(mp_symbolizer *s)
{
    return mp_strtab_intern_n(s->strs, s->buf.s ? s->buf.s : "", s->buf.len);
}

typedef struct file_key {
    const mp_symbolizer *s;
    const char *key;   /* interned: equal keys are the same pointer */
} file_key;

static bool file_eq(const void *ctx, uint32_t id)
{
    const file_key *k = ctx;
    return k->s->files[id]->key == k->key;
}

static mp_elffile *modfile_get(mp_symbolizer *s, const mp_module *m, const char *path)
{
    mp_strbuf_reset(&s->buf);
    if (m->build_id_len) {
        mp_strbuf_printf(&s->buf, "b:");
        for (uint32_t i = 0; i < m->build_id_len; i++)
            mp_strbuf_printf(&s->buf, "%02x", m->build_id[i]);
    } else {
        mp_strbuf_printf(&s->buf, "p:%s", path);
    }
    file_key k = {s, buf_intern(s)};
    /* hashed: a file may name tens of thousands of distinct modules */
    uint64_t h = mp_hashmap_hash_u64((uint64_t)(uintptr_t)k.key);
    uint32_t id = mp_hashmap_find(&s->file_index, h, file_eq, &k);
    if (id != MP_HASHMAP_NONE)
        return s->files[id];
    mp_elffile *mf = mp_elffile_open(k.key, m, path);
    mp_grow((void **)&s->files, &s->cap_files, s->n_files + 1, sizeof(mp_elffile *));
    mp_hashmap_insert(&s->file_index, h, (uint32_t)s->n_files);
    s->files[s->n_files++] = mf;
    return mf;
}

/* ---- names, lines and inline chains ---- */

/* The line a subprogram (or, through its abstract origin or declaration,
 * an inlined instance) is declared at, as Go's Function.start_line. */
static int die_start_line(Dwarf_Die *die)
{
    int line = 0;
    return dwarf_decl_line(die, &line) == 0 && line > 0 ? line : 0;
}

/* A subprogram or inlined instance's name, following abstract origins:
 * the linkage name when it has one (C++), else its plain name (C). */
static fn_name die_function(mp_symbolizer *s, Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *raw = NULL;
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
        dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
        raw = dwarf_formstring(&attr);
    if (!raw && dwarf_attr_integrate(die, DW_AT_name, &attr))
        raw = dwarf_formstring(&attr);
    const char *name = mp_strtab_intern_symbol(s->strs, raw);
    /* Rust's v0 mangling where strtab.c reads only plain paths (an impl's
       method, "_RNvMs_NtCs..."): the plain name ("allocate") reads better
       than the code */
    if (name && name[0] == '_' && name[1] == 'R' && dwarf_attr_integrate(die, DW_AT_name, &attr) &&
        dwarf_formstring(&attr))
        name = mp_strtab_intern_symbol(s->strs, dwarf_formstring(&attr));
    return (fn_name){name, mp_strtab_intern_linkage(s->strs, raw), die_start_line(die)};
}

static const char *die_name(mp_symbolizer *s, Dwarf_Die *die)
{
    return die_function(s, die).name;
}

/* A source file name as interned: DWARF keeps names relative to the
 * compilation directory when the compiler was given a relative path
 * (`gcc ../src/x.c`), which only resolves from that directory; joined with
 * an absolute DW_AT_comp_dir, `go tool pprof -list` and editors find the
 * file from anywhere. */
static const char *source_name(mp_symbolizer *s, const char *file, const char *comp_dir)
{
    if (!file)
        return NULL;
    if (file[0] == '/' || !comp_dir || comp_dir[0] != '/')
        return mp_strtab_intern(s->strs, file);
    mp_strbuf_reset(&s->buf);
    mp_strbuf_printf(&s->buf, "%s/%s", comp_dir, file);
    return buf_intern(s);
}

/*
 * An inlined lambda's DWARF name is a bare "operator()" (its class has no
 * name, and GCC gives it no linkage name): such a name is qualified with
 * the function it is inlined into, the next scope out, as the demangler
 * names an out-of-line lambda ("build_index::{lambda}::operator()").
 */
static const char *qualify_bare(mp_symbolizer *s, const char *name, Dwarf_Die *scopes, int i,
                                int n, const char *symname)
{
    if (!name || strcmp(name, "operator()") != 0)
        return name;
    const char *outer = NULL;
    for (int j = i + 1; j < n && !outer; j++) {
        int tag = dwarf_tag(&scopes[j]);
        if (tag == DW_TAG_inlined_subroutine)
            outer = die_name(s, &scopes[j]);
        else if (tag == DW_TAG_subprogram)
            outer = symname ? symname : die_name(s, &scopes[j]);
    }
    if (!outer)
        return name;
    size_t len = strcspn(outer, "(");   /* the function's name without its parameters */
    mp_strbuf_reset(&s->buf);
    mp_strbuf_printf(&s->buf, "%.*s::{lambda}::operator()", (int)len, outer);
    return buf_intern(s);
}

/* Where an inlined instance was called from: its DW_AT_call_file/line. */
static void call_site(mp_symbolizer *s, Dwarf_Die *inl, const char **file, int *line)
{
    Dwarf_Attribute attr;
    Dwarf_Word idx = 0, ln = 0;
    Dwarf_Die cu;
    Dwarf_Files *files;
    size_t nfiles;
    *file = NULL;
    *line = 0;
    if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_line, &attr), &ln) == 0 && ln <= INT32_MAX)
        *line = (int)ln;
    if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_file, &attr), &idx) != 0 ||
        !dwarf_diecu(inl, &cu, NULL, NULL) || dwarf_getsrcfiles(&cu, &files, &nfiles) != 0 ||
        idx >= nfiles)
        return;
    const char *f = dwarf_filesrc(files, idx, NULL, NULL);
    *file = source_name(s, f, dwarf_formstring(dwarf_attr(&cu, DW_AT_comp_dir, &attr)));
}

static void chain_push(mp_symbolizer *s, addrent *e, size_t *cap, const fn_name *fn,
                       const char *file, int line, uint64_t symoff)
{
    mp_grow((void **)&e->chain, cap, e->n + 1, sizeof(chain_frame));
    chain_frame *f = &e->chain[e->n++];
    f->function = fn->name ? fn->name : mp_strtab_intern(s->strs, "??");
    f->system_name = fn->name ? fn->sys : NULL;
    f->start_line = fn->start_line;
    f->file = file;
    f->line = file ? line : 0;
    /* Without a line, the offset into the symbol keeps distinct call sites
       of one function apart, and is still independent of ASLR. */
    mp_strbuf_reset(&s->buf);
    if (file)
        mp_strbuf_printf(&s->buf, "%s|%s:%d", f->function, file, f->line);
    else
        mp_strbuf_printf(&s->buf, "%s+0x%" PRIx64, f->function, symoff);
    f->keypart = buf_intern(s);
}

/* ---- Rust units: their functions indexed once (rustscopes.c) ---- */

typedef struct rust_key {
    const mp_symbolizer *s;
    const Dwarf_Die *cu;
} rust_key;

static bool rust_eq(const void *ctx, uint32_t id)
{
    const rust_key *k = ctx;
    return k->s->rust[id].cu == k->cu;
}

/* dwarf_getscopes for a unit where it found nothing: a Rust unit's, from
 * its index (built on first use; NULL for other languages, which have
 * nothing more to find). */
static int rust_getscopes(mp_symbolizer *s, Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die **scopes)
{
    rust_key k = {s, cu};
    uint64_t h = mp_hashmap_hash_u64((uint64_t)(uintptr_t)cu);
    uint32_t id = mp_hashmap_find(&s->rust_index, h, rust_eq, &k);
    if (id == MP_HASHMAP_NONE) {
        mp_grow((void **)&s->rust, &s->cap_rust, s->n_rust + 1, sizeof(*s->rust));
        s->rust[s->n_rust] = (rust_unit){cu, mp_rustscopes_build(cu)};
        id = (uint32_t)s->n_rust++;
        mp_hashmap_insert(&s->rust_index, h, id);
    }
    *scopes = NULL;
    return s->rust[id].ix ? mp_rustscopes_get(s->rust[id].ix, pc, scopes) : 0;
}

/*
 * Walks the DWARF scopes containing vaddr from the innermost out: each
 * DW_TAG_inlined_subroutine is a frame located at the current position,
 * and its call_file/call_line become the position of the next frame out,
 * ending with the real (out-of-line) subprogram. Same output as
 * `addr2line -i`.
 */
static void expand_inlines(mp_symbolizer *s, addrent *e, size_t *cap, Dwarf_Die *cu,
                           Dwarf_Addr bias, const char *file, int line, const fn_name *sym,
                           uint64_t symoff)
{
    Dwarf_Die *scopes = NULL;
    int n = cu ? dwarf_getscopes(cu, e->vaddr - bias, &scopes) : 0;
    if (n > 0) {
        /* dwarf_getscopes continues outward from an inlined instance through
           its abstract definition; the concrete nesting (who inlined it
           where) comes from the scopes containing the innermost DIE. */
        Dwarf_Die inner = scopes[0];
        free(scopes);
        scopes = NULL;
        n = dwarf_getscopes_die(&inner, &scopes);
    } else if (cu) {
        free(scopes);
        scopes = NULL;
        n = rust_getscopes(s, cu, e->vaddr - bias, &scopes);
    }
    for (int i = 0; i < n; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag == DW_TAG_inlined_subroutine) {
            fn_name fn = die_function(s, &scopes[i]);
            const char *plain = fn.name;
            fn.name = qualify_bare(s, plain, scopes, i, n, sym->name);
            if (fn.name != plain)   /* a lambda: no linkage name to give */
                fn.sys = NULL;
            chain_push(s, e, cap, &fn, file, line, 0);
            call_site(s, &scopes[i], &file, &line);
        } else if (tag == DW_TAG_subprogram) {
            /* the symbol table names the out-of-line function as nm and
               pprof do; DWARF is the fallback when it has no symbol */
            fn_name fn = sym->name ? *sym : die_function(s, &scopes[i]);
            fn.start_line = die_start_line(&scopes[i]);
            chain_push(s, e, cap, &fn, file, line, symoff);
            break;
        }
    }
    free(scopes);
    if (e->n == 0 && (sym->name || file))
        chain_push(s, e, cap, sym, file, line, symoff);
}

/*
 * The compilation unit holding vaddr. libdwfl's unit must contain the
 * address; where it does not (partial .debug_aranges, cuindex.c: a cgo
 * program's Go function read as "runtime.asmcgocall (gcc_mmap.c:37)"),
 * the units' own ranges decide, indexed once per module.
 */
static Dwarf_Die *addr_cu(mp_symbolizer *s, Dwfl_Module *mod, Dwarf_Addr vaddr, Dwarf_Addr *bias)
{
    Dwarf_Die *cu = dwfl_module_addrdie(mod, vaddr, bias);
    if (!cu || dwarf_haspc(cu, vaddr - *bias) > 0)
        return cu;
    size_t i = 0;
    while (i < s->n_cuix && mp_cuindex_module(s->cuix[i]) != mod)
        i++;
    if (i == s->n_cuix) {
        mp_grow((void **)&s->cuix, &s->cap_cuix, s->n_cuix + 1, sizeof(mp_cuindex *));
        s->cuix[s->n_cuix++] = mp_cuindex_build(mod);
    }
    return mp_cuindex_find(s->cuix[i], vaddr, bias);
}

static void resolve_addr(mp_symbolizer *s, const mp_elffile *mf, addrent *e)
{
    if (!mf->mod)
        return;
    const mp_funcsym *fs = mp_elffile_symbol(mf, e->vaddr);
    fn_name sym = {0};
    if (fs)
        sym = (fn_name){mp_strtab_intern_symbol(s->strs, fs->name),
                        mp_strtab_intern_linkage(s->strs, fs->name), 0};
    uint64_t symoff = fs ? e->vaddr - fs->addr : 0;
    const char *file = NULL;
    int line = 0;
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = addr_cu(s, mf->mod, e->vaddr, &bias);
    Dwarf_Line *dl = cu ? dwarf_getsrc_die(cu, e->vaddr - bias) : NULL;
    if (dl) {
        Dwarf_Attribute attr;
        const char *f = dwarf_linesrc(dl, NULL, NULL);
        if (dwarf_lineno(dl, &line) != 0)
            line = 0;
        file = source_name(s, f, dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr)));
    }
    size_t cap = 0;
    expand_inlines(s, e, &cap, cu, bias, file, line, &sym, symoff);
}

typedef struct addr_key {
    const mp_symbolizer *s;
    const mp_elffile *mf;
    uint64_t vaddr;
} addr_key;

static bool addr_eq(const void *ctx, uint32_t id)
{
    const addr_key *k = ctx;
    const addrent *e = &k->s->addrs[id];
    return e->mf == k->mf && e->vaddr == k->vaddr;
}

/* The cached inline chain of one address; the pointer is valid until the
   next lookup (the array may grow). */
static const addrent *addr_lookup(mp_symbolizer *s, const mp_elffile *mf, uint64_t vaddr)
{
    addr_key k = {s, mf, vaddr};
    uint64_t h = mp_hashmap_hash_u64((uint64_t)(uintptr_t)mf * 0x9e3779b97f4a7c15ull ^ vaddr);
    uint32_t id = mp_hashmap_find(&s->addr_index, h, addr_eq, &k);
    if (id != MP_HASHMAP_NONE)
        return &s->addrs[id];
    mp_grow((void **)&s->addrs, &s->cap_addrs, s->n_addrs + 1, sizeof(addrent));
    addrent *e = &s->addrs[s->n_addrs];
    *e = (addrent){.mf = mf, .vaddr = vaddr};
    mp_hashmap_insert(&s->addr_index, h, (uint32_t)s->n_addrs++);
    resolve_addr(s, mf, e);
    return e;
}

/* ---- per-snapshot state ---- */

typedef struct frame_sweep {
    const mp_snapshot *snap;
    uint32_t *frame_mod;
} frame_sweep;

/* Resolves the frames of stack q against its generation's modules. */
static void resolve_stack_frames(void *ctx, size_t q, const mp_modindex_live *live)
{
    const frame_sweep *fs = ctx;
    const mp_stack *st = &fs->snap->stacks[q];
    for (uint32_t i = 0; i < st->depth; i++) {
        uint64_t addr = fs->snap->frames[st->first_frame + i];
        /* A return address points after the call; the call itself is at -1. */
        long mi = addr ? mp_modindex_find(live, addr - 1) : -1;
        fs->frame_mod[st->first_frame + i] = mi < 0 ? MP_NO_MODULE : (uint32_t)mi;
    }
}

/* The module record of every frame: the one containing it in its stack's
   generation (the reader made sure there is at most one). */
static uint32_t *frame_modules(const mp_snapshot *snap)
{
    uint32_t *fm = mp_xmalloc((snap->n_frames ? snap->n_frames : 1) * sizeof(uint32_t));
    for (size_t i = 0; i < snap->n_frames; i++)
        fm[i] = MP_NO_MODULE;
    uint64_t *gens = mp_xcalloc(snap->n_stacks, sizeof(uint64_t));
    for (size_t i = 0; i < snap->n_stacks; i++)
        gens[i] = snap->stacks[i].generation;
    frame_sweep fs = {snap, fm};
    uint32_t pair[2];
    mp_modindex_sweep(snap->modules, snap->n_modules, gens, snap->n_stacks,
                      resolve_stack_frames, &fs, pair);
    free(gens);
    return fm;
}

/*
 * Identified by content (checksum and size), not by pointer: the same
 * struct may be freed and reloaded with another file, while the same file
 * loaded twice can share everything.
 */
static snapstate *snapstate_get(mp_symbolizer *s, const mp_snapshot *snap)
{
    mp_header h = {0};
    if (snap->data && snap->size >= sizeof(h))
        memcpy(&h, snap->data, sizeof(h));
    else
        h.checksum = (uint64_t)(uintptr_t)snap;
    for (size_t i = 0; i < s->n_snaps; i++) {
        snapstate *ss = s->snaps[i];
        if (ss->ident == h.checksum && ss->size == snap->size &&
            ss->n_modules == snap->n_modules && ss->n_stacks == snap->n_stacks)
            return ss;
    }
    snapstate *ss = mp_xcalloc(1, sizeof(*ss));
    ss->ident = h.checksum;
    ss->size = snap->size;
    ss->n_modules = snap->n_modules;
    ss->n_stacks = snap->n_stacks;
    ss->frame_mod = frame_modules(snap);
    ss->mods = mp_xcalloc(snap->n_modules, sizeof(mp_elffile *));
    ss->mods_done = mp_xcalloc(snap->n_modules, sizeof(bool));
    ss->stacks = mp_xcalloc(snap->n_stacks, sizeof(mp_symstack *));
    mp_grow((void **)&s->snaps, &s->cap_snaps, s->n_snaps + 1, sizeof(snapstate *));
    s->snaps[s->n_snaps++] = ss;
    return ss;
}

static mp_elffile *module_file(mp_symbolizer *s, snapstate *ss, const mp_snapshot *snap, long mi)
{
    if (!ss->mods_done[mi]) {
        const mp_module *m = &snap->modules[mi];
        ss->mods[mi] = modfile_get(s, m, mp_snapshot_str(snap, m->path));
        ss->mods_done[mi] = true;
    }
    return ss->mods[mi];
}

/* ---- building a stack ---- */

typedef struct stack_builder {
    mp_frame *frames;
    size_t n, cap;
    const char **keys;   /* keypart per frame */
    size_t keys_cap;
} stack_builder;

static void emit(stack_builder *b, const mp_frame *f, const char *keypart)
{
    mp_grow((void **)&b->frames, &b->cap, b->n + 1, sizeof(mp_frame));
    mp_grow((void **)&b->keys, &b->keys_cap, b->n + 1, sizeof(char *));
    b->keys[b->n] = keypart;
    b->frames[b->n++] = *f;
}

/* Appends the frame(s) of one return address: several when inlined. */
static void symbolize_frame(mp_symbolizer *s, snapstate *ss, const mp_snapshot *snap,
                            uint64_t frame, stack_builder *b)
{
    uint64_t addr = snap->frames[frame];
    uint64_t pc = addr ? addr - 1 : 0;
    long mi = ss->frame_mod[frame] == MP_NO_MODULE ? -1 : (long)ss->frame_mod[frame];
    mp_frame f = {.address = addr, .function = mp_strtab_intern(s->strs, "??"), .line = 0,
                  .module_index = mi < 0 ? MP_NO_MODULE : (uint32_t)mi};
    mp_strbuf_reset(&s->buf);
    if (mi < 0) {
        f.module = f.function;
        mp_strbuf_printf(&s->buf, "??+0x%" PRIx64, addr);
        emit(b, &f, buf_intern(s));
        return;
    }
    const mp_module *m = &snap->modules[mi];
    f.module = mp_strtab_intern(s->strs, mp_snapshot_str(snap, m->path));
    f.elf_address = addr - m->load_bias;
    if (!*f.module)
        f.module = f.function;
    mp_elffile *mf = module_file(s, ss, snap, mi);
    const addrent *e = addr_lookup(s, mf, pc - m->load_bias);
    for (uint32_t i = 0; i < e->n; i++) {
        f.function = e->chain[i].function;
        f.system_name = e->chain[i].system_name;
        f.start_line = e->chain[i].start_line;
        f.file = e->chain[i].file;
        f.line = e->chain[i].line;
        emit(b, &f, e->chain[i].keypart);
    }
    if (e->n == 0) {
        mp_strbuf_reset(&s->buf);
        mp_strbuf_printf(&s->buf, "%s+0x%" PRIx64, mp_basename(f.module), pc - m->start + m->file_offset);
        emit(b, &f, buf_intern(s));
    }
}

static bool is_allocator_name(const char *fn)
{
    static const char *const names[] = {
        "malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign",
        "aligned_alloc", "memalign", "valloc", "pvalloc",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(fn, names[i]) == 0)
            return true;
    return strncmp(fn, "operator new", 12) == 0;
}

/* Allocator entry points and the shim are how we got here, not where the
   program allocated; they would make every site look alike. */
static bool is_allocator_frame(const mp_frame *f)
{
    return is_allocator_name(f->function) ||
           strncmp(mp_basename(f->module), "libmemprof", 10) == 0;
}

static mp_symstack *build_stack(mp_symbolizer *s, snapstate *ss, const mp_snapshot *snap,
                                const mp_stack *st)
{
    stack_builder b = {0};
    for (uint32_t i = 0; i < st->depth; i++)
        symbolize_frame(s, ss, snap, st->first_frame + i, &b);
    size_t skip = 0;
    while (skip < b.n && is_allocator_frame(&b.frames[skip]))
        skip++;
    mp_strbuf_reset(&s->buf);
    for (size_t i = skip; i < b.n; i++)
        mp_strbuf_printf(&s->buf, "%s%s", i > skip ? ";" : "", b.keys[i]);
    mp_symstack *out = mp_xcalloc(1, sizeof(*out));
    out->key = buf_intern(s);
    out->n = b.n - skip;
    out->frames = mp_xcalloc(out->n, sizeof(mp_frame));
    if (out->n)
        memcpy(out->frames, b.frames + skip, out->n * sizeof(mp_frame));
    free(b.frames);
    free(b.keys);
    return out;
}

const mp_symstack *mp_symbolize_stack(mp_symbolizer *s, const mp_snapshot *snap,
                                      uint32_t stack_index)
{
    static const mp_symstack empty = {0, NULL, ""};
    if (!s || !snap || stack_index >= snap->n_stacks)
        return &empty;
    snapstate *ss = snapstate_get(s, snap);
    if (!ss->stacks[stack_index])
        ss->stacks[stack_index] = build_stack(s, ss, snap, &snap->stacks[stack_index]);
    return ss->stacks[stack_index];
}
