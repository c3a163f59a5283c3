/*
 * cmd_pprof.c - `memprof pprof FILE [--what heap|alloc|locks] [-o OUT.pb.gz]`:
 * a gzipped profile.proto (google/pprof proto/profile.proto, fields 1-14).
 *
 * Heap and alloc write the same four columns Go writes (alloc_objects,
 * alloc_space, inuse_objects, inuse_space) and differ only in the default
 * sample type; values are the snapshot's estimates, already unsampled, with
 * period = the sampling rate. Locks write contentions and delay of every
 * waiter stack. Frames come symbolized, so functions and lines are written
 * and the mappings say so; pprof then does not try to re-symbolize.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "procset.h"
#include "protobuf.h"
#include "sites.h"
#include "stacktree.h"
#include "util.h"

/* profile.proto field numbers */
enum { P_SAMPLE_TYPE = 1, P_SAMPLE, P_MAPPING, P_LOCATION, P_FUNCTION, P_STRING,
       P_TIME = 9, P_DURATION, P_PERIOD_TYPE, P_PERIOD, P_COMMENT, P_DEFAULT_TYPE };
enum { VT_TYPE = 1, VT_UNIT };
enum { S_LOCATION = 1, S_VALUE, S_LABEL };
enum { L_KEY = 1, L_STR, L_NUM };
enum { M_ID = 1, M_START, M_LIMIT, M_OFFSET, M_FILENAME, M_BUILD_ID, M_HAS_FUNCTIONS,
       M_HAS_FILENAMES, M_HAS_LINES, M_HAS_INLINES };
enum { LOC_ID = 1, LOC_MAPPING, LOC_ADDRESS, LOC_LINE };
enum { LN_FUNCTION = 1, LN_LINE };
enum { F_ID = 1, F_NAME, F_SYSTEM_NAME, F_FILENAME, F_START_LINE };

typedef struct mapping_info {
    uint32_t id;                /* 0 = not referenced */
    bool functions, filenames, lines;
} mapping_info;

typedef struct loc_key { uint64_t address; uint32_t module; } loc_key;

typedef struct pprof {
    const mp_procset *ps;       /* every process added up (procset.h) */
    size_t *base;               /* per process: its first module in maps */
    const mp_snapshot *snap;    /* the process being added (the first, for the meta) */
    size_t cur;                 /* its index in ps */
    mp_symbolizer *sym;
    mp_pb samples, locations, functions, tmp, tmp2;
    char **strs;                /* string table, strs[0] = "" */
    size_t n_strs, cap_strs;
    mp_hashmap str_index, fn_index, loc_index;
    uint64_t *fn_keys;          /* name << 32 | filename, by function id - 1 */
    loc_key *loc_keys;          /* by location id - 1 */
    size_t n_fns, n_locs, cap_fns, cap_locs;
    mapping_info *maps;         /* by base[process] + module index */
    uint64_t *loc_ids;          /* scratch: one sample's location ids */
    size_t cap_loc_ids;
    int64_t k_program, k_pid, k_lock, v_program;
    int64_t (*user)[2];         /* --labels: (key, value) string ids */
    size_t n_user;
} pprof;

/* ---- tables ---- */

typedef struct str_key { const pprof *p; const char *s; } str_key;

static bool str_eq(const void *ctx, uint32_t id)
{
    const str_key *k = ctx;
    return strcmp(k->p->strs[id], k->s) == 0;
}

static int64_t intern(pprof *p, const char *s)
{
    str_key k = {p, s};
    uint64_t h = mp_hashmap_hash_str(s, 0);
    uint32_t id = mp_hashmap_find(&p->str_index, h, str_eq, &k);
    if (id != MP_HASHMAP_NONE)
        return id;
    mp_grow((void **)&p->strs, &p->cap_strs, p->n_strs + 1, sizeof(*p->strs));
    p->strs[p->n_strs] = mp_xstrdup(s);
    mp_hashmap_insert(&p->str_index, h, (uint32_t)p->n_strs);
    return (int64_t)p->n_strs++;
}

typedef struct fn_ctx { const pprof *p; uint64_t key; } fn_ctx;

static bool fn_eq(const void *ctx, uint32_t id)
{
    const fn_ctx *k = ctx;
    return k->p->fn_keys[id] == k->key;
}

/*
 * Function.system_name: the linkage name, as Go writes it (there, the
 * function's own name). pprof "demangles" system_name whenever it equals
 * name, and on a name that already reads as demangled C++ ("::", "<>", "[]")
 * its fallback strips every (...) and <...>; so such a name goes without a
 * system_name (equal to the name, it is no mangled form anyway). A C++
 * function's is its _Z... name, which differs; an inlined lambda has none.
 */
static int64_t system_name(pprof *p, const mp_frame *f, int64_t name)
{
    if (!f->system_name)
        return 0;
    if (strcmp(f->system_name, f->function) == 0)
        return strpbrk(f->function, "<>[]") || strstr(f->function, "::") ? 0 : name;
    return intern(p, f->system_name);
}

/* One Function per name and file (pprof merges by them, so one id for
 * what one name means); its system_name and start_line are those of the
 * first frame seen: two linkage names of one demangled name (a C++
 * constructor's complete and base object copies, C1 and C2) are one
 * function in the source. */
static uint64_t function_id(pprof *p, const mp_frame *f)
{
    int64_t name = intern(p, f->function), file = intern(p, f->file ? f->file : "");
    fn_ctx k = {p, (uint64_t)name << 32 | (uint64_t)file};
    uint64_t h = mp_hashmap_hash_u64(k.key);
    uint32_t id = mp_hashmap_find(&p->fn_index, h, fn_eq, &k);
    if (id != MP_HASHMAP_NONE)
        return id + 1;
    mp_grow((void **)&p->fn_keys, &p->cap_fns, p->n_fns + 1, sizeof(*p->fn_keys));
    p->fn_keys[p->n_fns] = k.key;
    mp_hashmap_insert(&p->fn_index, h, (uint32_t)p->n_fns);
    uint64_t fid = ++p->n_fns;
    mp_pb_clear(&p->tmp);
    mp_pb_varint_field(&p->tmp, F_ID, fid);
    mp_pb_opt(&p->tmp, F_NAME, (uint64_t)name);
    mp_pb_opt(&p->tmp, F_SYSTEM_NAME, (uint64_t)system_name(p, f, name));
    mp_pb_opt(&p->tmp, F_FILENAME, (uint64_t)file);
    mp_pb_opt(&p->tmp, F_START_LINE, f->start_line > 0 ? (uint64_t)f->start_line : 0);
    mp_pb_message(&p->functions, P_FUNCTION, &p->tmp);
    return fid;
}


typedef struct loc_ctx { const pprof *p; loc_key k; } loc_ctx;

static bool loc_eq(const void *ctx, uint32_t id)
{
    const loc_ctx *c = ctx;
    const loc_key *o = &c->p->loc_keys[id];
    return o->address == c->k.address && o->module == c->k.module;
}

static bool same_frame(const mp_frame *a, const mp_frame *b)
{
    return a->line == b->line && strcmp(a->function, b->function) == 0 &&
           (a->file == b->file || (a->file && b->file && strcmp(a->file, b->file) == 0));
}

/*
 * Frames [i, end) that form one Location: the symbolizer expands an inlined
 * call chain into several frames with the same address. Plain recursion also
 * repeats an address, but then the chain repeats too, so a group ends where
 * its first frame comes again.
 */
static size_t group_end(const mp_symstack *st, size_t i)
{
    size_t j = i + 1;
    while (j < st->n && st->frames[j].address == st->frames[i].address &&
           !same_frame(&st->frames[j], &st->frames[i]))
        j++;
    return j;
}

static void encode_location(pprof *p, uint64_t id, uint32_t module,
                            const mp_frame *f, size_t n)
{
    mp_pb_clear(&p->tmp2);
    mp_pb_varint_field(&p->tmp2, LOC_ID, id);
    if (module != MP_NO_MODULE)
        mp_pb_opt(&p->tmp2, LOC_MAPPING, p->maps[module].id);
    /* A return address points after the call; -1 lands inside it. */
    mp_pb_opt(&p->tmp2, LOC_ADDRESS, f[0].address ? f[0].address - 1 : 0);
    /* No Line for an unknown function: pprof then shows the address,
     * which tells more than a "??" shared by every such frame. */
    if (n == 1 && strcmp(f[0].function, "??") == 0)
        n = 0;
    for (size_t i = 0; i < n; i++) {   /* callee first, like the symbolizer */
        uint64_t fid = function_id(p, &f[i]);
        mp_pb_clear(&p->tmp);
        mp_pb_varint_field(&p->tmp, LN_FUNCTION, fid);
        mp_pb_opt(&p->tmp, LN_LINE, f[i].line > 0 ? (uint64_t)f[i].line : 0);
        mp_pb_message(&p->tmp2, LOC_LINE, &p->tmp);
    }
    mp_pb_message(&p->locations, P_LOCATION, &p->tmp2);
}

static uint64_t location_id(pprof *p, const mp_frame *f, size_t n, uint32_t module)
{
    loc_ctx c = {p, {f[0].address, module}};
    uint64_t h = mp_hashmap_hash_u64(f[0].address ^ mp_hashmap_hash_u64(module));
    uint32_t id = mp_hashmap_find(&p->loc_index, h, loc_eq, &c);
    if (id != MP_HASHMAP_NONE)
        return id + 1;
    mp_grow((void **)&p->loc_keys, &p->cap_locs, p->n_locs + 1, sizeof(*p->loc_keys));
    p->loc_keys[p->n_locs] = c.k;
    mp_hashmap_insert(&p->loc_index, h, (uint32_t)p->n_locs);
    uint64_t lid = ++p->n_locs;
    encode_location(p, lid, module, f, n);
    return lid;
}

/* ---- mappings: only modules that a written frame lies in ---- */

static bool has_values(const mp_value_rec *r)
{
    const mp_heap_site *h = r->heap;
    return h ? (h->alloc_count | h->alloc_bytes | h->live_count | h->live_bytes) != 0
             : (r->value | r->count) != 0;
}

static void mark_modules(void *ctx, const mp_value_rec *r)
{
    pprof *p = ctx;
    if (!has_values(r))
        return;
    const mp_symstack *st = mp_sites_stack(p->sym, p->snap, r->stack);
    for (size_t i = 0; st && i < st->n; i++) {
        const mp_frame *f = &st->frames[i];
        if (f->module_index == MP_NO_MODULE)
            continue;
        size_t m = p->base[p->cur] + f->module_index;
        p->maps[m].id = 1;
        p->maps[m].functions |= strcmp(f->function, "??") != 0;
        p->maps[m].filenames |= f->file != NULL;
        p->maps[m].lines |= f->line > 0;
    }
}

/* pprof takes the first mapping for the main binary, so it goes first. */
static void number_mappings(pprof *p)
{
    uint32_t next = 1;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < p->ps->n; k++) {
            const mp_snapshot *s = &p->ps->snaps[k];
            const char *exe = mp_snapshot_str(s, s->meta->exe);
            for (size_t i = 0; i < s->n_modules; i++) {
                mapping_info *mi = &p->maps[p->base[k] + i];
                const char *path = mp_snapshot_str(s, s->modules[i].path);
                if (mi->id && (strcmp(path, exe) == 0) == (pass == 0))
                    mi->id = next++;
            }
        }
    }
}

static void encode_mapping(pprof *p, const mp_snapshot *s, const mp_module *m,
                           const mapping_info *mi)
{
    char bid[2 * MP_MAX_BUILD_ID + 1] = "";
    for (uint32_t i = 0; i < m->build_id_len && i < MP_MAX_BUILD_ID; i++)
        sprintf(bid + 2 * i, "%02x", m->build_id[i]);
    mp_pb *t = &p->tmp;
    mp_pb_clear(t);
    mp_pb_varint_field(t, M_ID, mi->id);
    mp_pb_opt(t, M_START, m->start);
    mp_pb_opt(t, M_LIMIT, m->end);
    mp_pb_opt(t, M_OFFSET, m->file_offset);
    mp_pb_opt(t, M_FILENAME, (uint64_t)intern(p, mp_snapshot_str(s, m->path)));
    mp_pb_opt(t, M_BUILD_ID, (uint64_t)intern(p, bid));
    mp_pb_opt(t, M_HAS_FUNCTIONS, mi->functions);
    mp_pb_opt(t, M_HAS_FILENAMES, mi->filenames);
    mp_pb_opt(t, M_HAS_LINES, mi->lines);
    mp_pb_opt(t, M_HAS_INLINES, mi->functions);  /* libdw expands inlines */
}

static void encode_mappings(pprof *p, mp_pb *prof)
{
    size_t n = p->base[p->ps->n];
    for (uint32_t id = 1;; id++) {
        size_t g = 0, k = 0;
        while (g < n && p->maps[g].id != id)
            g++;
        if (g == n)
            return;
        while (p->base[k + 1] <= g)
            k++;
        const mp_snapshot *s = &p->ps->snaps[k];
        encode_mapping(p, s, &s->modules[g - p->base[k]], &p->maps[g]);
        mp_pb_message(prof, P_MAPPING, &p->tmp);
    }
}

/* ---- samples ---- */

static size_t sample_locations(pprof *p, uint32_t stack)
{
    static const mp_frame unknown = {.function = "[unknown]", .module = "??",
                                     .module_index = MP_NO_MODULE};
    const mp_symstack *st = mp_sites_stack(p->sym, p->snap, stack);
    size_t n = 0;
    mp_grow((void **)&p->loc_ids, &p->cap_loc_ids, (st ? st->n : 0) + 1, sizeof(uint64_t));
    for (size_t i = 0, j; st && i < st->n; i = j) {   /* leaf first, as pprof wants */
        j = group_end(st, i);
        uint32_t m = st->frames[i].module_index;
        if (m != MP_NO_MODULE)
            m = (uint32_t)(p->base[p->cur] + m);
        p->loc_ids[n++] = location_id(p, &st->frames[i], j - i, m);
    }
    if (n == 0)   /* keep the value visible under a name rather than lose it */
        p->loc_ids[n++] = location_id(p, &unknown, 1, MP_NO_MODULE);
    return n;
}

static void add_label(pprof *p, mp_pb *sample, int64_t key, int64_t str, uint64_t num)
{
    mp_pb_clear(&p->tmp);
    mp_pb_varint_field(&p->tmp, L_KEY, (uint64_t)key);
    mp_pb_opt(&p->tmp, L_STR, (uint64_t)str);
    mp_pb_opt(&p->tmp, L_NUM, num);
    mp_pb_message(sample, S_LABEL, &p->tmp);
}

static void add_sample(void *ctx, const mp_value_rec *r)
{
    pprof *p = ctx;
    if (!has_values(r))
        return;
    uint64_t v[4] = {r->count, r->value};
    size_t nv = 2;
    if (r->heap) {   /* Go's column order */
        const mp_heap_site *h = r->heap;
        v[0] = h->alloc_count, v[1] = h->alloc_bytes, v[2] = h->live_count, v[3] = h->live_bytes;
        nv = 4;
    }
    size_t n = sample_locations(p, r->stack);
    mp_pb *s = &p->tmp2;
    mp_pb_clear(s);
    mp_pb_packed(s, S_LOCATION, p->loc_ids, n);
    mp_pb_packed(s, S_VALUE, v, nv);
    add_label(p, s, p->k_program, p->v_program, 0);
    for (size_t i = 0; i < p->n_user; i++)
        add_label(p, s, p->user[i][0], p->user[i][1], 0);
    add_label(p, s, p->k_pid, 0, p->snap->meta->pid);
    if (r->lock) {
        char addr[32];
        snprintf(addr, sizeof(addr), "0x%" PRIx64, r->lock->address);
        add_label(p, s, p->k_lock, intern(p, addr), 0);
    }
    mp_pb_message(&p->samples, P_SAMPLE, s);
}

/* ---- the profile ---- */

static void value_type(pprof *p, mp_pb *prof, uint32_t field, const char *type,
                       const char *unit)
{
    mp_pb_clear(&p->tmp);
    mp_pb_opt(&p->tmp, VT_TYPE, (uint64_t)intern(p, type));
    mp_pb_opt(&p->tmp, VT_UNIT, (uint64_t)intern(p, unit));
    mp_pb_message(prof, field, &p->tmp);
}

static void encode_types(pprof *p, mp_pb *prof, mp_what what)
{
    if (mp_stacktree_what_is_locks(what)) {
        value_type(p, prof, P_SAMPLE_TYPE, "contentions", "count");
        value_type(p, prof, P_SAMPLE_TYPE, "delay", "nanoseconds");
        value_type(p, prof, P_PERIOD_TYPE, "contentions", "count");
        mp_pb_varint_field(prof, P_PERIOD, 1);
        mp_pb_varint_field(prof, P_DEFAULT_TYPE, (uint64_t)intern(p, "delay"));
        return;
    }
    if (what == MP_WHAT_PEAK || what == MP_WHAT_TEMPORARY) {   /* count, bytes */
        bool peak = what == MP_WHAT_PEAK;
        value_type(p, prof, P_SAMPLE_TYPE, peak ? "inuse_objects" : "alloc_objects", "count");
        value_type(p, prof, P_SAMPLE_TYPE, peak ? "inuse_space" : "alloc_space", "bytes");
        value_type(p, prof, P_PERIOD_TYPE, "space", "bytes");
        mp_pb_opt(prof, P_PERIOD, p->snap->meta->sample_bytes);
        mp_pb_varint_field(prof, P_DEFAULT_TYPE,
                           (uint64_t)intern(p, peak ? "inuse_space" : "alloc_space"));
        return;
    }
    value_type(p, prof, P_SAMPLE_TYPE, "alloc_objects", "count");
    value_type(p, prof, P_SAMPLE_TYPE, "alloc_space", "bytes");
    value_type(p, prof, P_SAMPLE_TYPE, "inuse_objects", "count");
    value_type(p, prof, P_SAMPLE_TYPE, "inuse_space", "bytes");
    value_type(p, prof, P_PERIOD_TYPE, "space", "bytes");
    mp_pb_opt(prof, P_PERIOD, p->snap->meta->sample_bytes);
    const char *def = what == MP_WHAT_ALLOC ? "alloc_space" : "inuse_space";
    mp_pb_varint_field(prof, P_DEFAULT_TYPE, (uint64_t)intern(p, def));
}

static void add_comment(pprof *p, mp_pb *prof, const char *text)
{
    if (*text)
        mp_pb_varint_field(prof, P_COMMENT, (uint64_t)intern(p, text));
}

static void encode_meta(pprof *p, mp_pb *prof, mp_what what)
{
    const mp_meta *m = p->snap->meta;
    char buf[256];
    add_comment(p, prof, mp_snapshot_str(p->snap, m->cmdline));
    snprintf(buf, sizeof(buf), "memprof %s profile: pid %" PRIu64 ", snapshot %" PRIu64,
             mp_stacktree_what_name(what), m->pid, m->seq);
    add_comment(p, prof, buf);
    if (p->ps->n_files > 1) {
        char d[128];
        snprintf(buf, sizeof(buf), "added up: %s; samples carry their pid label",
                 mp_procset_describe(p->ps, d, sizeof(d)));
        add_comment(p, prof, buf);
    }
    if (!mp_stacktree_what_is_locks(what)) {
        if (m->sample_bytes <= 1)
            snprintf(buf, sizeof(buf), "every allocation recorded (MEMPROF_SAMPLE=1); "
                     "values are exact");
        else
            snprintf(buf, sizeof(buf), "heap sampled every %" PRIu64 " bytes on average; "
                     "values are unbiased estimates", m->sample_bytes);
        add_comment(p, prof, buf);
    }
    mp_pb_opt(prof, P_TIME, m->time_ns);
    if (m->start_time_ns && m->time_ns > m->start_time_ns)
        mp_pb_opt(prof, P_DURATION, m->time_ns - m->start_time_ns);
}

/* --labels "k=v,k2=v2", already checked by mp_opts_labels_ok. */
static void intern_user_labels(pprof *p, const char *list)
{
    char *copy = mp_xstrdup(list), *save = NULL;
    for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        *eq = '\0';
        p->user = mp_xrealloc(p->user, (p->n_user + 1) * sizeof(*p->user));
        p->user[p->n_user][0] = intern(p, kv);
        p->user[p->n_user++][1] = intern(p, eq + 1);
    }
    free(copy);
}

static void build_profile(pprof *p, mp_pb *prof, mp_what what, const char *labels)
{
    intern(p, "");   /* string_table[0] must be "" */
    p->k_program = intern(p, "program");
    p->k_pid = intern(p, "pid");
    p->k_lock = intern(p, "lock");
    if (labels)
        intern_user_labels(p, labels);
    for (p->cur = 0; p->cur < p->ps->n; p->cur++) {
        p->snap = &p->ps->snaps[p->cur];
        mp_stacktree_each_value(p->snap, what, mark_modules, p);
    }
    number_mappings(p);
    for (p->cur = 0; p->cur < p->ps->n; p->cur++) {
        p->snap = &p->ps->snaps[p->cur];
        p->v_program = intern(p, mp_snapshot_str(p->snap, p->snap->meta->prog));
        mp_stacktree_each_value(p->snap, what, add_sample, p);
    }
    p->snap = &p->ps->snaps[0];

    /* Field order does not matter on the wire, so the parts built above are
     * appended whole; the string table goes last, once it is complete. */
    encode_types(p, prof, what);
    mp_pb_append(prof, &p->samples);
    encode_mappings(p, prof);
    mp_pb_append(prof, &p->locations);
    mp_pb_append(prof, &p->functions);
    encode_meta(p, prof, what);
    for (size_t i = 0; i < p->n_strs; i++)
        mp_pb_string(prof, P_STRING, p->strs[i]);
}

static void pprof_free(pprof *p)
{
    mp_pb *bufs[] = {&p->samples, &p->locations, &p->functions, &p->tmp, &p->tmp2};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(*bufs); i++)
        mp_pb_free(bufs[i]);
    for (size_t i = 0; i < p->n_strs; i++)
        free(p->strs[i]);
    free(p->strs);
    mp_hashmap_free(&p->str_index);
    mp_hashmap_free(&p->fn_index);
    mp_hashmap_free(&p->loc_index);
    free(p->fn_keys);
    free(p->loc_keys);
    free(p->maps);
    free(p->loc_ids);
    free(p->user);
}

int cmd_pprof_main(const mp_opts *o)
{
    if (!o->out && isatty(STDOUT_FILENO)) {
        mp_error("pprof: refusing to write a binary profile to a terminal; use -o FILE");
        return MP_EXIT_USAGE;
    }
    mp_procset ps;
    mp_procset_load(&ps, o->files, o->n_files);
    pprof p = {.ps = &ps, .snap = &ps.snaps[0], .sym = mp_symbolizer_new()};
    p.base = mp_xcalloc(ps.n + 1, sizeof(*p.base));
    for (size_t k = 0; k < ps.n; k++)
        p.base[k + 1] = p.base[k] + ps.snaps[k].n_modules;
    p.maps = mp_xcalloc(p.base[ps.n] + 1, sizeof(*p.maps));
    mp_pb prof = {0};
    build_profile(&p, &prof, o->what, o->labels);
    int rc = MP_EXIT_USAGE;
    FILE *out = mp_opts_open_out(o);
    if (out) {
        bool failed = mp_pb_write_gzip(&prof, out) < 0;
        rc = mp_opts_close_out(o, out);   /* reports write errors */
        if (failed && rc == MP_EXIT_OK) {
            mp_error("pprof: compression failed");
            rc = MP_EXIT_USAGE;
        }
    }
    mp_pb_free(&prof);
    mp_symbolizer_free(p.sym);
    pprof_free(&p);
    free(p.base);
    mp_procset_free(&ps);
    return rc;
}
