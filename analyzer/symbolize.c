/*
 * symbolize.c - turn a snapshot stack's return addresses into named frames.
 *
 * Three caches, from coarse to fine:
 *   file      one mp_elffile per ELF file (keyed by build ID, else by path;
 *             elffile.c opens it), so the same file loaded by many processes
 *             at different ASLR addresses is opened once;
 *   addrent   one per (file, vaddr): the function/file:line chain for that
 *             address with inlined callers expanded (inlines.c) - DWARF
 *             scope walks are the expensive part, and hot addresses recur
 *             across stacks;
 *   snapstate one per snapshot content: the module record of every frame
 *             (modindex.c, one sweep over the generations), the file of
 *             each module record and each symbolized stack.
 *
 * Every string handed out is interned in the symbolizer's table, so frames
 * stay valid until mp_symbolizer_free and compare by pointer.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyzer.h"
#include "elffile.h"
#include "hashmap.h"
#include "inlines.h"
#include "modindex.h"
#include "strtab.h"
#include "util.h"

typedef struct addrent {
    const mp_elffile *mf;
    uint64_t vaddr;
    uint32_t n;             /* 0: no symbol known */
    mp_chain_frame *chain;  /* innermost first (inlines.c) */
} addrent;

typedef struct snapstate {
    uint64_t ident, size;   /* checksum and file size of the snapshot */
    size_t n_modules, n_stacks;
    uint32_t *frame_mod;    /* module record of each frame, MP_NO_MODULE */
    mp_elffile **mods;      /* per module record, resolved lazily */
    bool *mods_done;
    mp_symstack **stacks;   /* per stack index, built lazily */
} snapstate;

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
    mp_inlines *inlines;         /* the DWARF side of addrent (inlines.c) */
};

mp_symbolizer *mp_symbolizer_new(void)
{
    mp_symbolizer *s = mp_xcalloc(1, sizeof(*s));
    s->strs = mp_strtab_new();
    s->inlines = mp_inlines_new(s->strs);
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
    mp_inlines_free(s->inlines);
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
    e->chain = mp_inlines_resolve(s->inlines, mf, vaddr, &e->n);
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
