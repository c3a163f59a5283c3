/*
 * unwind_table.c - compact unwind rules for return addresses, from the
 * modules' own .eh_frame, for the fast unwinder (unwind_fast.c).
 *
 * libunwind interprets DWARF CFI for every frame it has not cached and
 * keeps its caches behind locks; a sample then costs ~1.8 us. Almost every
 * frame of compiled code follows one of a few rules on x86-64: the
 * canonical frame address (CFA) is SP or BP plus a constant, the return
 * address is at CFA-8, and BP is either untouched or saved at CFA+k. So a
 * frame's rule fits in one word (mp_uwrule), found once per return address
 * by binary search in the module's .eh_frame_hdr table plus a run of its
 * FDE's CFA program, and then kept in a process-wide direct-mapped cache
 * that an unwind only reads. Anything else (signal frames, CFA
 * expressions, registers saved in registers, no FDE) is MP_UW_OTHER, and
 * the caller lets libunwind unwind the whole stack instead.
 *
 * Modules: the table of executable mappings with their .eh_frame_hdr is
 * rebuilt when the loader's dlpi_adds/dlpi_subs change (asked only when a
 * return address is in no known module) or when modules.c's generation
 * moves (dlclose); in a frozen process (modules.c), from /proc/self/maps
 * (modules_maps.c) on such a miss, with a back-off when a rebuild found
 * nothing new. A rebuilt table goes into a fresh array: an unwind on
 * another thread may still be reading the previous one, which stays valid
 * (arrays are reused round-robin, after MOD_ARRAYS rebuilds). Cache
 * entries carry the generation they were computed in, so a rule of an
 * unloaded module is never applied to one loaded at the same address.
 */
#include "unwind_fast.h"

#include <link.h>
#include <string.h>

#define MOD_MAX 1024
#define MOD_ARRAYS 8

typedef struct uw_module {
    uintptr_t start, end;           /* executable segment */
    const uint8_t *hdr;             /* .eh_frame_hdr, NULL: none */
} uw_module;

typedef struct uw_modtab {
    size_t n;
    unsigned long long adds, subs;
    uint32_t gen;
    uw_module m[MOD_MAX];
} uw_modtab;

static uw_modtab *_Atomic current;
static uw_modtab *arrays[MOD_ARRAYS];
static unsigned next_array;
static mp_spinlock rebuild_lock;

mp_uwcache_entry *mp_uwtable_cache;

/* ---- reading DWARF encodings (bounded by end) ---- */

typedef struct uw_cursor {
    const uint8_t *p, *end;
    bool bad;
} uw_cursor;

static uint64_t read_uleb(uw_cursor *c)
{
    uint64_t v = 0;
    for (unsigned shift = 0; c->p < c->end && shift < 64; shift += 7) {
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    c->bad = true;
    return 0;
}

static int64_t read_sleb(uw_cursor *c)
{
    int64_t v = 0;
    unsigned shift = 0;
    uint8_t b = 0x80;
    while (c->p < c->end && shift < 64 && (b & 0x80)) {
        b = *c->p++;
        v |= (int64_t)(b & 0x7f) << shift;
        shift += 7;
    }
    if (b & 0x80) {
        c->bad = true;
        return 0;
    }
    if (shift < 64 && (b & 0x40))
        v |= -((int64_t)1 << shift);
    return v;
}

static uint64_t read_fixed(uw_cursor *c, size_t n)
{
    if ((size_t)(c->end - c->p) < n) {
        c->bad = true;
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, c->p, n);   /* little-endian */
    c->p += n;
    if (n < 8 && (v >> (n * 8 - 1)) & 1)   /* sign-extend the s* forms */
        v |= ~(uint64_t)0 << (n * 8);
    return v;
}

/* A DW_EH_PE_* encoded pointer: absolute or pc-relative, the forms
 * GCC and LLVM emit in .eh_frame. data_base is .eh_frame_hdr's address. */
static uint64_t read_encoded(uw_cursor *c, uint8_t enc, uintptr_t data_base)
{
    if (enc == 0xff)   /* DW_EH_PE_omit */
        return 0;
    uintptr_t here = (uintptr_t)c->p;
    uint64_t v;
    switch (enc & 0x0f) {
    case 0x00: v = read_fixed(c, 8); break;          /* absptr */
    case 0x01: v = read_uleb(c); break;
    case 0x09: v = (uint64_t)read_sleb(c); break;
    case 0x02: case 0x0a: v = read_fixed(c, 2); break;
    case 0x03: case 0x0b: v = read_fixed(c, 4); break;
    case 0x04: case 0x0c: v = read_fixed(c, 8); break;
    default: c->bad = true; return 0;
    }
    if ((enc & 0x0f) == 0x02 || (enc & 0x0f) == 0x03)   /* unsigned forms */
        v &= (enc & 0x0f) == 0x02 ? 0xffff : 0xffffffff;
    switch (enc & 0x70) {
    case 0x00: break;
    case 0x10: v += here; break;        /* pcrel */
    case 0x30: v += data_base; break;   /* datarel */
    default: c->bad = true; return 0;
    }
    if (enc & 0x80)   /* indirect: never in the tables we read */
        c->bad = true;
    return v;
}

/* ---- the module table ---- */

typedef struct scan_arg {
    uw_modtab *t;
} scan_arg;

static int scan_module(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uw_modtab *t = ((scan_arg *)arg)->t;
    t->adds = info->dlpi_adds;
    t->subs = info->dlpi_subs;
    const uint8_t *hdr = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
            hdr = (const uint8_t *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    for (int i = 0; i < info->dlpi_phnum && t->n < MOD_MAX; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uw_module *m = &t->m[t->n++];
        m->start = info->dlpi_addr + ph->p_vaddr;
        m->end = m->start + ph->p_memsz;
        m->hdr = hdr;
    }
    return 0;
}

static int peek_counts(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    unsigned long long *c = arg;
    c[0] = info->dlpi_adds;
    c[1] = info->dlpi_subs;
    return 1;
}

/* A frozen process (modules.c) cannot ask the loader whether anything
 * changed: a return address in no known module rebuilds from the maps,
 * unless the last such rebuild found nothing new (a JIT region, or a bad
 * address: each miss would read the maps again) less than a back-off ago:
 * 100 times what that scan took, at least MAPS_BACKOFF_NS, so that misses
 * cost at most ~1% of one thread. Under rebuild_lock. */
#define MAPS_BACKOFF_NS 20000000ull
static uint64_t maps_fruitless_ns, maps_backoff_ns;

static bool maps_rebuild_due(const uw_modtab *t, uint32_t gen)
{
    return !t || t->gen != gen || !maps_fruitless_ns ||
           mp_now_ns() - maps_fruitless_ns >= maps_backoff_ns;
}

/* False when the maps cannot be read: the current table stands. */
static bool scan_frozen(uw_modtab *nt, const uw_modtab *t, uint32_t gen)
{
    static mp_maps_scratch maps;   /* under rebuild_lock */
    scan_arg a = {nt};
    uint64_t t0 = mp_now_ns();
    if (mp_maps_iterate(&maps, scan_module, &a) < 0)
        return false;
    uint64_t t1 = mp_now_ns();
    bool fruitless = t && t->gen == gen && nt->n <= t->n;
    maps_fruitless_ns = fruitless ? t1 | 1 : 0;
    maps_backoff_ns = (t1 - t0) * 100 > MAPS_BACKOFF_NS ? (t1 - t0) * 100 : MAPS_BACKOFF_NS;
    return true;
}

/* Rebuilds when the loader or the generation says something changed;
 * only one thread at a time (the others keep the current table). */
static void maybe_rebuild(uw_modtab *t, uint32_t gen)
{
    bool frozen = mp_modules_frozen();   /* no dl_iterate_phdr (shim.h) */
    unsigned long long counts[2] = {0, 0};
    if (!frozen) {
        dl_iterate_phdr(peek_counts, counts);
        if (t && t->gen == gen && t->adds == counts[0] && t->subs == counts[1])
            return;
    }
    if (!mp_spin_trylock(&rebuild_lock))
        return;
    if (frozen && !maps_rebuild_due(t, gen)) {
        mp_spin_unlock(&rebuild_lock);
        return;
    }
    unsigned k = next_array++ % MOD_ARRAYS;
    if (!arrays[k])
        arrays[k] = mp_pages(sizeof(uw_modtab));
    uw_modtab *nt = arrays[k];
    if (nt && nt != t) {
        nt->n = 0;
        nt->gen = gen;
        bool ok = true;
        if (frozen) {
            ok = scan_frozen(nt, t, gen);
        } else {
            scan_arg a = {nt};
            dl_iterate_phdr(scan_module, &a);
        }
        if (ok)
            atomic_store_explicit(&current, nt, memory_order_release);
    }
    mp_spin_unlock(&rebuild_lock);
}

static const uw_module *find_in(const uw_modtab *t, uintptr_t pc)
{
    if (!t)
        return NULL;
    for (size_t i = 0; i < t->n; i++)
        if (pc >= t->m[i].start && pc < t->m[i].end)
            return &t->m[i];
    return NULL;
}

static const uw_module *find_module(uintptr_t pc, uint32_t gen)
{
    uw_modtab *t = atomic_load_explicit(&current, memory_order_acquire);
    const uw_module *m = t && t->gen == gen ? find_in(t, pc) : NULL;
    if (m)
        return m;
    maybe_rebuild(t, gen);
    t = atomic_load_explicit(&current, memory_order_acquire);
    return find_in(t, pc);
}

/* ---- .eh_frame_hdr search and the CFA program ---- */

/* The FDE covering pc, from the sorted table (datarel sdata4 pairs, what
 * every linker writes); NULL when none. */
static const uint8_t *find_fde(const uint8_t *hdr, uintptr_t pc)
{
    if (hdr[0] != 1 || hdr[3] != 0x3b)
        return NULL;
    uw_cursor c = {hdr + 4, hdr + 4 + 16, false};
    read_encoded(&c, hdr[1], (uintptr_t)hdr);   /* eh_frame_ptr */
    uint64_t count = read_encoded(&c, hdr[2], (uintptr_t)hdr);
    if (c.bad || count == 0)
        return NULL;
    const int32_t *tab = (const int32_t *)c.p;
    uint64_t lo = 0, hi = count;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)hdr + tab[2 * mid] <= pc)
            lo = mid;
        else
            hi = mid;
    }
    if ((uintptr_t)hdr + tab[2 * lo] > pc)
        return NULL;
    return hdr + tab[2 * lo + 1];
}

/* What the interpreter tracks: the CFA and the rules for BP and RA. */
typedef struct uw_state {
    int cfa_reg;          /* 7 = SP, 6 = BP, else unsupported */
    int64_t cfa_off;
    int bp_kind;          /* 0 same value, 1 saved at CFA+bp_off, 2 unsupported */
    int64_t bp_off;
    int ra_kind;          /* 0 at CFA+ra_off, 1 undefined, 2 unsupported */
    int64_t ra_off;
} uw_state;

typedef struct uw_cie {
    uint64_t code_align;
    int64_t data_align;
    uint64_t ra_reg;
    uint8_t fde_enc;
    bool has_aug;
    bool signal_frame;
    const uint8_t *insns, *insns_end;
} uw_cie;

static bool parse_cie(const uint8_t *p, uw_cie *cie, uintptr_t hdr)
{
    uint32_t len;
    memcpy(&len, p, 4);
    if (len == 0 || len == 0xffffffff)
        return false;
    uw_cursor c = {p + 8, p + 4 + len, false};
    uint8_t version = c.p < c.end ? *c.p++ : 0;
    const char *aug = (const char *)c.p;
    while (c.p < c.end && *c.p)
        c.p++;
    c.p++;
    if (version != 1 && version != 3)
        return false;
    cie->code_align = read_uleb(&c);
    cie->data_align = read_sleb(&c);
    cie->ra_reg = version == 1 ? (c.p < c.end ? *c.p++ : 0) : read_uleb(&c);
    cie->fde_enc = 0;
    cie->has_aug = false;
    cie->signal_frame = false;
    if (aug[0] == 'z') {
        cie->has_aug = true;
        uint64_t alen = read_uleb(&c);
        const uint8_t *aend = c.p + alen;
        for (const char *a = aug + 1; *a && !c.bad; a++) {
            if (*a == 'R')
                cie->fde_enc = c.p < aend ? *c.p++ : 0;
            else if (*a == 'P') {
                uint8_t enc = c.p < aend ? *c.p++ : 0xff;
                read_encoded(&c, enc & 0x7f, hdr);
            } else if (*a == 'L')
                c.p++;
            else if (*a == 'S')
                cie->signal_frame = true;
            else if (*a != 'B')
                return false;
        }
        c.p = aend;
    } else if (aug[0]) {
        return false;
    }
    cie->insns = c.p;
    cie->insns_end = c.end;
    return !c.bad && cie->ra_reg == 16 && c.p <= c.end;
}

/* Register numbers: 6 RBP, 7 RSP, 16 the return address. */
static void set_offset_rule(uw_state *s, uint64_t reg, int64_t off)
{
    if (reg == 6) {
        s->bp_kind = 1;
        s->bp_off = off;
    } else if (reg == 16) {
        s->ra_kind = 0;
        s->ra_off = off;
    }
}

static void set_other_rule(uw_state *s, uint64_t reg, int kind_bp, int kind_ra)
{
    if (reg == 6)
        s->bp_kind = kind_bp;
    else if (reg == 16)
        s->ra_kind = kind_ra;
}

#define UW_STACK 8

/* Runs the CFA instructions in [c) until the location passes pc. Returns
 * false on anything it does not model for BP, SP, RA or the CFA. */
static bool run_cfa(uw_cursor *c, const uw_cie *cie, uintptr_t loc, uintptr_t pc, uw_state *s,
                    const uw_state *initial, uintptr_t hdr)
{
    uw_state saved[UW_STACK];
    int depth = 0;
    while (c->p < c->end && !c->bad) {
        uint8_t op = *c->p++;
        uint8_t low = op & 0x3f;
        switch (op >> 6) {
        case 1:
            loc += low * cie->code_align;
            if (loc > pc)
                return true;
            continue;
        case 2:
            set_offset_rule(s, low, (int64_t)read_uleb(c) * cie->data_align);
            continue;
        case 3:
            if (low == 6) { s->bp_kind = initial->bp_kind; s->bp_off = initial->bp_off; }
            if (low == 16) { s->ra_kind = initial->ra_kind; s->ra_off = initial->ra_off; }
            continue;
        }
        uint64_t reg, delta;
        switch (op) {
        case 0x00: break;                                          /* nop */
        case 0x01: loc = read_encoded(c, cie->fde_enc, hdr); if (loc > pc) return true; break;
        case 0x02: delta = read_fixed(c, 1) & 0xff; goto advance;
        case 0x03: delta = read_fixed(c, 2) & 0xffff; goto advance;
        case 0x04: delta = read_fixed(c, 4) & 0xffffffff; goto advance;
        advance:
            loc += delta * cie->code_align;
            if (loc > pc)
                return true;
            break;
        case 0x05: reg = read_uleb(c); set_offset_rule(s, reg, (int64_t)read_uleb(c) * cie->data_align); break;
        case 0x11: reg = read_uleb(c); set_offset_rule(s, reg, read_sleb(c) * cie->data_align); break;
        case 0x06: reg = read_uleb(c);                             /* restore_extended */
            if (reg == 6) { s->bp_kind = initial->bp_kind; s->bp_off = initial->bp_off; }
            if (reg == 16) { s->ra_kind = initial->ra_kind; s->ra_off = initial->ra_off; }
            break;
        case 0x07: set_other_rule(s, read_uleb(c), 2, 1); break;    /* undefined */
        case 0x08: set_other_rule(s, read_uleb(c), 0, 2); break;    /* same_value */
        case 0x09: reg = read_uleb(c); read_uleb(c); set_other_rule(s, reg, 2, 2); break;
        case 0x0a: if (depth == UW_STACK) return false; saved[depth++] = *s; break;
        case 0x0b: if (depth == 0) return false; *s = saved[--depth]; break;  /* restore_state */
        case 0x0c: s->cfa_reg = (int)read_uleb(c); s->cfa_off = (int64_t)read_uleb(c); break;
        case 0x0d: s->cfa_reg = (int)read_uleb(c); break;
        case 0x0e: s->cfa_off = (int64_t)read_uleb(c); break;
        case 0x12: s->cfa_reg = (int)read_uleb(c); s->cfa_off = read_sleb(c) * cie->data_align; break;
        case 0x13: s->cfa_off = read_sleb(c) * cie->data_align; break;
        case 0x0f: return false;                                    /* def_cfa_expression */
        case 0x10: case 0x16:                                       /* (val_)expression */
            reg = read_uleb(c);
            delta = read_uleb(c);
            if ((uint64_t)(c->end - c->p) < delta)
                return false;
            c->p += delta;
            set_other_rule(s, reg, 2, 2);
            break;
        case 0x14: reg = read_uleb(c); read_uleb(c); set_other_rule(s, reg, 2, 2); break;
        case 0x15: reg = read_uleb(c); read_sleb(c); set_other_rule(s, reg, 2, 2); break;
        case 0x2e: read_uleb(c); break;                             /* GNU_args_size */
        case 0x2f: reg = read_uleb(c); set_offset_rule(s, reg, -(int64_t)read_uleb(c) * cie->data_align); break;
        default: return false;
        }
    }
    return !c->bad;
}

/* Packs a modelled state into a rule; MP_UW_OTHER when it does not fit. */
static mp_uwrule pack(const uw_state *s)
{
    if (s->ra_kind == 1)
        return MP_UW_END;
    if ((s->cfa_reg != 7 && s->cfa_reg != 6) || s->ra_kind != 0 || s->ra_off != -8 ||
        s->cfa_off < 8 || s->cfa_off >= (1 << 20) || s->bp_kind == 2)
        return MP_UW_OTHER;
    if (s->bp_kind == 1 && (s->bp_off >= 0 || s->bp_off < -2048 * 8 || s->bp_off % 8))
        return MP_UW_OTHER;
    mp_uwrule r = MP_UW_KIND_FRAME | (s->cfa_reg == 6 ? MP_UW_CFA_BP : 0) |
                  ((mp_uwrule)s->cfa_off << MP_UW_OFF_SHIFT);
    if (s->bp_kind == 1)
        r |= MP_UW_BP_SAVED | ((mp_uwrule)(-s->bp_off / 8) << MP_UW_BPOFF_SHIFT);
    return r;
}

static mp_uwrule compute(uintptr_t pc, uint32_t gen)
{
    const uw_module *m = find_module(pc, gen);
    if (!m)
        return MP_UW_NONE;
    if (!m->hdr)
        return MP_UW_OTHER;
    const uint8_t *fde = find_fde(m->hdr, pc);
    if (!fde)
        return MP_UW_OTHER;
    uint32_t len, cie_off;
    memcpy(&len, fde, 4);
    memcpy(&cie_off, fde + 4, 4);
    if (len == 0 || len == 0xffffffff || cie_off == 0)
        return MP_UW_OTHER;
    uw_cie cie;
    if (!parse_cie(fde + 4 - cie_off, &cie, (uintptr_t)m->hdr) || cie.signal_frame)
        return MP_UW_OTHER;
    uw_cursor c = {fde + 8, fde + 4 + len, false};
    uintptr_t begin = read_encoded(&c, cie.fde_enc, (uintptr_t)m->hdr);
    uintptr_t range = read_encoded(&c, cie.fde_enc & 0x0f, (uintptr_t)m->hdr);
    if (c.bad || pc < begin || pc >= begin + range)
        return MP_UW_OTHER;
    if (cie.has_aug) {
        uint64_t alen = read_uleb(&c);
        c.p += alen;
    }
    uw_state s = {.cfa_reg = -1, .bp_kind = 0, .ra_kind = 2};
    uw_cursor ci = {cie.insns, cie.insns_end, false};
    if (!run_cfa(&ci, &cie, begin, UINTPTR_MAX, &s, &s, (uintptr_t)m->hdr))
        return MP_UW_OTHER;
    uw_state initial = s;
    if (!run_cfa(&c, &cie, begin, pc, &s, &initial, (uintptr_t)m->hdr))
        return MP_UW_OTHER;
    return pack(&s);
}

/* ---- the cache ---- */

void mp_uwtable_after_fork_child(void)
{
    atomic_store(&rebuild_lock.v, 0);   /* a thread that no longer exists */
}

int mp_uwtable_init(void)
{
    if (!mp_uwtable_cache)
        mp_uwtable_cache = mp_reserve(sizeof(mp_uwcache_entry) << MP_UW_CACHE_BITS);
    return mp_uwtable_cache ? 0 : -1;
}

mp_uwrule mp_uwtable_slow(uintptr_t pc, uintptr_t lookup_pc, uint32_t gen)
{
    mp_uwrule r = compute(lookup_pc, gen);
    if (mp_uwtable_cache && r != MP_UW_NONE) {
        mp_uwcache_entry *e = &mp_uwtable_cache[mp_uwtable_slot(pc)];
        atomic_store_explicit(&e->pc, pc, memory_order_relaxed);
        atomic_store_explicit(&e->rule, r | (mp_uwtable_check(pc, gen) << MP_UW_CHECK_SHIFT),
                              memory_order_relaxed);
    }
    return r;
}

