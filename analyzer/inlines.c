/*
 * inlines.c - one code address of an ELF file to its chain of functions,
 * innermost first: the inlined instances DWARF says the address is in,
 * each with the file:line it is at, out to the real (out-of-line)
 * function, as `addr2line -i` prints them. symbolize.c caches the result
 * per (file, address).
 *
 * Names come from the symbol table for the out-of-line function (as nm
 * and pprof name it) and from DWARF for inlined ones; units libdwfl
 * cannot place (partial .debug_aranges) are found through cuindex.c, and
 * Rust units whose scopes dwarf_getscopes misses through rustscopes.c,
 * each indexed once and kept here.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cuindex.h"
#include "hashmap.h"
#include "inlines.h"
#include "rustscopes.h"
#include "util.h"

/* A function as a frame names it (all interned; NULL, 0 when unknown). */
typedef struct fn_name {
    const char *name;       /* demangled */
    const char *sys;        /* linkage name (mp_frame.system_name) */
    int start_line;         /* DW_AT_decl_line */
} fn_name;

typedef struct rust_unit {
    const Dwarf_Die *cu;
    mp_rustscopes *ix;      /* NULL: not a Rust unit */
} rust_unit;

struct mp_inlines {
    mp_strtab *strs;             /* the symbolizer's: every string handed out */
    mp_strbuf buf;               /* scratch for building names and keys */
    mp_cuindex **cuix;           /* modules whose aranges libdwfl misreads */
    size_t n_cuix, cap_cuix;
    rust_unit *rust;             /* units where dwarf_getscopes found nothing */
    size_t n_rust, cap_rust;
    mp_hashmap rust_index;       /* unit -> rust[] */
};

/* The chain being built. */
typedef struct chain {
    mp_chain_frame *frames;
    uint32_t n;
    size_t cap;
} chain;

mp_inlines *mp_inlines_new(mp_strtab *strs)
{
    mp_inlines *in = mp_xcalloc(1, sizeof(*in));
    in->strs = strs;
    return in;
}

void mp_inlines_free(mp_inlines *in)
{
    if (!in)
        return;
    for (size_t i = 0; i < in->n_cuix; i++)
        mp_cuindex_free(in->cuix[i]);
    free(in->cuix);
    for (size_t i = 0; i < in->n_rust; i++)
        mp_rustscopes_free(in->rust[i].ix);
    free(in->rust);
    mp_hashmap_free(&in->rust_index);
    mp_strbuf_free(&in->buf);
    free(in);
}

/* Interns the scratch buffer's contents. */
static const char *buf_intern(mp_inlines *in)
{
    return mp_strtab_intern_n(in->strs, in->buf.s ? in->buf.s : "", in->buf.len);
}

/* ---- names and lines ---- */

/* The line a subprogram (or, through its abstract origin or declaration,
 * an inlined instance) is declared at, as Go's Function.start_line. */
static int die_start_line(Dwarf_Die *die)
{
    int line = 0;
    return dwarf_decl_line(die, &line) == 0 && line > 0 ? line : 0;
}

/* A subprogram or inlined instance's name, following abstract origins:
 * the linkage name when it has one (C++), else its plain name (C). */
static fn_name die_function(mp_inlines *in, Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *raw = NULL;
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
        dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
        raw = dwarf_formstring(&attr);
    if (!raw && dwarf_attr_integrate(die, DW_AT_name, &attr))
        raw = dwarf_formstring(&attr);
    const char *name = mp_strtab_intern_symbol(in->strs, raw);
    /* Rust's v0 mangling where strtab.c reads only plain paths (an impl's
       method, "_RNvMs_NtCs..."): the plain name ("allocate") reads better
       than the code */
    if (name && name[0] == '_' && name[1] == 'R' && dwarf_attr_integrate(die, DW_AT_name, &attr) &&
        dwarf_formstring(&attr))
        name = mp_strtab_intern_symbol(in->strs, dwarf_formstring(&attr));
    return (fn_name){name, mp_strtab_intern_linkage(in->strs, raw), die_start_line(die)};
}

static const char *die_name(mp_inlines *in, Dwarf_Die *die)
{
    return die_function(in, die).name;
}

/* A source file name as interned: DWARF keeps names relative to the
 * compilation directory when the compiler was given a relative path
 * (`gcc ../src/x.c`), which only resolves from that directory; joined with
 * an absolute DW_AT_comp_dir, `go tool pprof -list` and editors find the
 * file from anywhere. */
static const char *source_name(mp_inlines *in, const char *file, const char *comp_dir)
{
    if (!file)
        return NULL;
    if (file[0] == '/' || !comp_dir || comp_dir[0] != '/')
        return mp_strtab_intern(in->strs, file);
    mp_strbuf_reset(&in->buf);
    mp_strbuf_printf(&in->buf, "%s/%s", comp_dir, file);
    return buf_intern(in);
}

/*
 * An inlined lambda's DWARF name is a bare "operator()" (its class has no
 * name, and GCC gives it no linkage name): such a name is qualified with
 * the function it is inlined into, the next scope out, as the demangler
 * names an out-of-line lambda ("build_index::{lambda}::operator()").
 */
static const char *qualify_bare(mp_inlines *in, const char *name, Dwarf_Die *scopes, int i,
                                int n, const char *symname)
{
    if (!name || strcmp(name, "operator()") != 0)
        return name;
    const char *outer = NULL;
    for (int j = i + 1; j < n && !outer; j++) {
        int tag = dwarf_tag(&scopes[j]);
        if (tag == DW_TAG_inlined_subroutine)
            outer = die_name(in, &scopes[j]);
        else if (tag == DW_TAG_subprogram)
            outer = symname ? symname : die_name(in, &scopes[j]);
    }
    if (!outer)
        return name;
    size_t len = strcspn(outer, "(");   /* the function's name without its parameters */
    mp_strbuf_reset(&in->buf);
    mp_strbuf_printf(&in->buf, "%.*s::{lambda}::operator()", (int)len, outer);
    return buf_intern(in);
}

/* Where an inlined instance was called from: its DW_AT_call_file/line. */
static void call_site(mp_inlines *in, Dwarf_Die *inl, const char **file, int *line)
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
    *file = source_name(in, f, dwarf_formstring(dwarf_attr(&cu, DW_AT_comp_dir, &attr)));
}

static void chain_push(mp_inlines *in, chain *c, const fn_name *fn, const char *file, int line,
                       uint64_t symoff)
{
    mp_grow((void **)&c->frames, &c->cap, c->n + 1, sizeof(mp_chain_frame));
    mp_chain_frame *f = &c->frames[c->n++];
    f->function = fn->name ? fn->name : mp_strtab_intern(in->strs, "??");
    f->system_name = fn->name ? fn->sys : NULL;
    f->start_line = fn->start_line;
    f->file = file;
    f->line = file ? line : 0;
    /* Without a line, the offset into the symbol keeps distinct call sites
       of one function apart, and is still independent of ASLR. */
    mp_strbuf_reset(&in->buf);
    if (file)
        mp_strbuf_printf(&in->buf, "%s|%s:%d", f->function, file, f->line);
    else
        mp_strbuf_printf(&in->buf, "%s+0x%" PRIx64, f->function, symoff);
    f->keypart = buf_intern(in);
}

/* ---- Rust units: their functions indexed once (rustscopes.c) ---- */

typedef struct rust_key {
    const mp_inlines *in;
    const Dwarf_Die *cu;
} rust_key;

static bool rust_eq(const void *ctx, uint32_t id)
{
    const rust_key *k = ctx;
    return k->in->rust[id].cu == k->cu;
}

/* dwarf_getscopes for a unit where it found nothing: a Rust unit's, from
 * its index (built on first use; NULL for other languages, which have
 * nothing more to find). */
static int rust_getscopes(mp_inlines *in, Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die **scopes)
{
    rust_key k = {in, cu};
    uint64_t h = mp_hashmap_hash_u64((uint64_t)(uintptr_t)cu);
    uint32_t id = mp_hashmap_find(&in->rust_index, h, rust_eq, &k);
    if (id == MP_HASHMAP_NONE) {
        mp_grow((void **)&in->rust, &in->cap_rust, in->n_rust + 1, sizeof(*in->rust));
        in->rust[in->n_rust] = (rust_unit){cu, mp_rustscopes_build(cu)};
        id = (uint32_t)in->n_rust++;
        mp_hashmap_insert(&in->rust_index, h, id);
    }
    *scopes = NULL;
    return in->rust[id].ix ? mp_rustscopes_get(in->rust[id].ix, pc, scopes) : 0;
}

/*
 * Walks the DWARF scopes containing vaddr from the innermost out: each
 * DW_TAG_inlined_subroutine is a frame located at the current position,
 * and its call_file/call_line become the position of the next frame out,
 * ending with the real (out-of-line) subprogram. Same output as
 * `addr2line -i`.
 */
static void expand_inlines(mp_inlines *in, chain *c, uint64_t vaddr, Dwarf_Die *cu,
                           Dwarf_Addr bias, const char *file, int line, const fn_name *sym,
                           uint64_t symoff)
{
    Dwarf_Die *scopes = NULL;
    int n = cu ? dwarf_getscopes(cu, vaddr - bias, &scopes) : 0;
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
        n = rust_getscopes(in, cu, vaddr - bias, &scopes);
    }
    for (int i = 0; i < n; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag == DW_TAG_inlined_subroutine) {
            fn_name fn = die_function(in, &scopes[i]);
            const char *plain = fn.name;
            fn.name = qualify_bare(in, plain, scopes, i, n, sym->name);
            if (fn.name != plain)   /* a lambda: no linkage name to give */
                fn.sys = NULL;
            chain_push(in, c, &fn, file, line, 0);
            call_site(in, &scopes[i], &file, &line);
        } else if (tag == DW_TAG_subprogram) {
            /* the symbol table names the out-of-line function as nm and
               pprof do; DWARF is the fallback when it has no symbol */
            fn_name fn = sym->name ? *sym : die_function(in, &scopes[i]);
            fn.start_line = die_start_line(&scopes[i]);
            chain_push(in, c, &fn, file, line, symoff);
            break;
        }
    }
    free(scopes);
    if (c->n == 0 && (sym->name || file))
        chain_push(in, c, sym, file, line, symoff);
}

/*
 * The compilation unit holding vaddr. libdwfl's unit must contain the
 * address; where it does not (partial .debug_aranges, cuindex.c: a cgo
 * program's Go function read as "runtime.asmcgocall (gcc_mmap.c:37)"),
 * the units' own ranges decide, indexed once per module.
 */
static Dwarf_Die *addr_cu(mp_inlines *in, Dwfl_Module *mod, Dwarf_Addr vaddr, Dwarf_Addr *bias)
{
    Dwarf_Die *cu = dwfl_module_addrdie(mod, vaddr, bias);
    if (!cu || dwarf_haspc(cu, vaddr - *bias) > 0)
        return cu;
    size_t i = 0;
    while (i < in->n_cuix && mp_cuindex_module(in->cuix[i]) != mod)
        i++;
    if (i == in->n_cuix) {
        mp_grow((void **)&in->cuix, &in->cap_cuix, in->n_cuix + 1, sizeof(mp_cuindex *));
        in->cuix[in->n_cuix++] = mp_cuindex_build(mod);
    }
    return mp_cuindex_find(in->cuix[i], vaddr, bias);
}

mp_chain_frame *mp_inlines_resolve(mp_inlines *in, const mp_elffile *mf, uint64_t vaddr,
                                   uint32_t *n)
{
    chain c = {0};
    *n = 0;
    if (!mf->mod)
        return NULL;
    const mp_funcsym *fs = mp_elffile_symbol(mf, vaddr);
    fn_name sym = {0};
    if (fs)
        sym = (fn_name){mp_strtab_intern_symbol(in->strs, fs->name),
                        mp_strtab_intern_linkage(in->strs, fs->name), 0};
    uint64_t symoff = fs ? vaddr - fs->addr : 0;
    const char *file = NULL;
    int line = 0;
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = addr_cu(in, mf->mod, vaddr, &bias);
    Dwarf_Line *dl = cu ? dwarf_getsrc_die(cu, vaddr - bias) : NULL;
    if (dl) {
        Dwarf_Attribute attr;
        const char *f = dwarf_linesrc(dl, NULL, NULL);
        if (dwarf_lineno(dl, &line) != 0)
            line = 0;
        file = source_name(in, f, dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr)));
    }
    expand_inlines(in, &c, vaddr, cu, bias, file, line, &sym, symoff);
    *n = c.n;
    return c.frames;
}
