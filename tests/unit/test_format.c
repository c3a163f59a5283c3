/*
 * test_format.c - the snapshot format's round trip and the reader's
 * rejection of corrupt files.
 *
 * Synthetic parts are serialised with the shim's writer (format_write.c),
 * written to a file and loaded with the analyzer's reader (reader.c): every
 * field must come back. Then every byte is flipped in turn, and the file
 * truncated at every length: each variant must be rejected with a message,
 * never accepted and never crash (run under ASan in the sanitizer build).
 * Finally, structurally corrupt files whose checksum was recomputed (so
 * only the structure checks stand between them and the analyzer) must be
 * rejected too.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "analyzer.h"
#include "check.h"
#include "format_write.h"

/* ---- synthetic parts ---- */
static const char strings[] = "\0prog\0/usr/bin/prog\0prog --flag x\0/usr/lib/libc.so.6";
enum { S_PROG = 1, S_EXE = 6, S_CMD = 20, S_LIBC = 34 };

static mp_module modules[2];
static uint64_t frames[6];
static mp_stack stacks[3];
static mp_heap_site heap[2];
static mp_lock locks[1];
static mp_lock_site lock_sites[2];
static mp_meta meta;

static mp_sections make_parts(void)
{
    mp_sections p;
    memset(&p, 0, sizeof(p));
    memset(&meta, 0, sizeof(meta));
    p.meta = &meta;
    p.n_meta = 1;
    meta.pid = 4242;
    meta.ppid = 1;
    meta.seq = 3;
    meta.trigger = MP_TRIGGER_SIGNAL;
    meta.time_ns = 1700000000123456789ull;
    meta.start_time_ns = 1700000000000000000ull;
    meta.sample_bytes = 524288;
    meta.max_depth = 64;
    meta.lock_profiling = 1;
    meta.generation = 2;
    meta.prog = S_PROG;
    meta.exe = S_EXE;
    meta.cmdline = S_CMD;
    uint64_t *c = (uint64_t *)&meta.counters;
    for (size_t i = 0; i < sizeof(meta.counters) / 8; i++)
        c[i] = 1000 + i;   /* distinct so a shifted field shows */
    /* flags took the counters' last reserved word: same bytes as before. */
    meta.flags = 1000 + sizeof(meta.counters) / 8;

    modules[0] = (mp_module){.start = 0x555555554000, .end = 0x555555556000, .file_offset = 0x1000,
                             .load_bias = 0x555555553000, .gen_loaded = 1, .gen_unloaded = 0,
                             .path = S_EXE, .build_id_len = 20};
    modules[1] = (mp_module){.start = 0x7ffff7c28000, .end = 0x7ffff7dbd000, .file_offset = 0x28000,
                             .load_bias = 0x7ffff7c00000, .gen_loaded = 1, .gen_unloaded = 2,
                             .path = S_LIBC, .build_id_len = 0};
    for (int i = 0; i < 20; i++)
        modules[0].build_id[i] = (uint8_t)(0xa0 + i);

    for (int i = 0; i < 6; i++)
        frames[i] = 0x555555554100 + 0x40 * (uint64_t)i;
    /* Stack 0 is the overflow stack (no frames), as the shim writes it. */
    stacks[0] = (mp_stack){.hash = 0, .first_frame = 0, .depth = 0, .generation = 1};
    stacks[1] = (mp_stack){.first_frame = 0, .depth = 4, .generation = 1};
    stacks[2] = (mp_stack){.first_frame = 4, .depth = 2, .generation = 2};
    for (int i = 1; i < 3; i++)
        stacks[i].hash = XXH3_64bits(&frames[stacks[i].first_frame], stacks[i].depth * 8);

    heap[0] = (mp_heap_site){.stack = 1, .live_samples = 12, .live_bytes = 6291456,
                             .live_count = 4096, .alloc_samples = 40, .alloc_bytes = 20971520,
                             .alloc_count = 9000};
    heap[1] = (mp_heap_site){.stack = 2, .live_samples = 1, .live_bytes = 524288,
                             .live_count = 1, .alloc_samples = 1, .alloc_bytes = 524288,
                             .alloc_count = 1};
    locks[0] = (mp_lock){.address = 0x7ffff0001040, .kind = MP_LOCK_MUTEX, .site_stack = 2,
                         .contentions = 77, .wait_ns = 123456789, .max_wait_ns = 9999999,
                         .contended_hold_ns = 55555, .contended_holds = 70,
                         .acquisitions = 300, .first_site = 0, .site_count = 2};
    lock_sites[0] = (mp_lock_site){.stack = 1, .role = MP_ROLE_WAITER, .contentions = 77,
                                   .wait_ns = 123456789};
    lock_sites[1] = (mp_lock_site){.stack = 2, .role = MP_ROLE_HOLDER, .contentions = 77,
                                   .wait_ns = 123456789};

    p.strings = strings;
    p.n_strings = sizeof(strings);
    p.modules = modules;
    p.n_modules = 2;
    p.stacks = stacks;
    p.n_stacks = 3;
    p.frames = frames;
    p.n_frames = 6;
    p.heap = heap;
    p.n_heap = 2;
    p.locks = locks;
    p.n_locks = 1;
    p.lock_sites = lock_sites;
    p.n_lock_sites = 2;
    return p;
}

/* ---- files ---- */
static char path[4096];

static void write_file(const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

/* Loads buf as a file; returns the reader's status, err holds its message. */
static int load(const uint8_t *buf, size_t len, mp_snapshot *snap, char *err, size_t errlen)
{
    write_file(buf, len);
    return mp_snapshot_load(path, snap, err, errlen);
}

/* Expects the reader to refuse buf with a message. */
static void expect_reject(const uint8_t *buf, size_t len, const char *what)
{
    mp_snapshot snap;
    char err[512] = "";
    int rc = load(buf, len, &snap, err, sizeof(err));
    CHECK(rc != 0, "%s: accepted", what);
    if (rc == 0)
        mp_snapshot_free(&snap);
    else
        CHECK(err[0] != '\0', "%s: rejected without a message", what);
}

/* Recomputes the checksum so only structural validation can catch a change. */
static void reseal(uint8_t *buf, size_t len)
{
    uint64_t sum = XXH3_64bits(buf + MP_CHECKSUM_START, len - MP_CHECKSUM_START);
    memcpy(buf + offsetof(mp_header, checksum), &sum, 8);
}

/* ---- the checks ---- */
#define SAME_ARRAY(got, n_got, want, n_want, what)                                        \
    CHECK((n_got) == (n_want) && memcmp((got), (want), (n_want) * sizeof(*(want))) == 0,  \
          "%s differ after the round trip", what)

static void round_trip(const uint8_t *buf, size_t len, const mp_sections *p)
{
    mp_snapshot s;
    char err[512];
    int rc = load(buf, len, &s, err, sizeof(err));
    CHECK(rc == 0, "a valid snapshot was rejected: %s", err);
    if (rc != 0)
        return;
    CHECK(s.size == len, "size %zu, wrote %zu", s.size, len);
    CHECK(memcmp(s.meta, p->meta, sizeof(mp_meta)) == 0, "meta differs after the round trip");
    CHECK(s.meta->pid == 4242 && s.meta->seq == 3 && s.meta->trigger == MP_TRIGGER_SIGNAL &&
              s.meta->sample_bytes == 524288 && s.meta->counters.threads_seen == 1009,
          "meta fields wrong");
    CHECK(s.n_strings == p->n_strings && memcmp(s.strings, p->strings, s.n_strings) == 0,
          "strings differ after the round trip");
    CHECK(strcmp(mp_snapshot_str(&s, s.meta->prog), "prog") == 0, "prog string");
    CHECK(strcmp(mp_snapshot_str(&s, s.meta->exe), "/usr/bin/prog") == 0, "exe string");
    CHECK(strcmp(mp_snapshot_str(&s, s.meta->cmdline), "prog --flag x") == 0, "cmdline string");
    CHECK(strcmp(mp_snapshot_str(&s, s.modules[1].path), "/usr/lib/libc.so.6") == 0,
          "module path string");
    CHECK(strcmp(mp_snapshot_str(&s, 0), "") == 0, "string 0 is not empty");
    SAME_ARRAY(s.modules, s.n_modules, p->modules, p->n_modules, "modules");
    SAME_ARRAY(s.stacks, s.n_stacks, p->stacks, p->n_stacks, "stacks");
    SAME_ARRAY(s.frames, s.n_frames, p->frames, p->n_frames, "frames");
    SAME_ARRAY(s.heap, s.n_heap, p->heap, p->n_heap, "heap sites");
    SAME_ARRAY(s.locks, s.n_locks, p->locks, p->n_locks, "locks");
    SAME_ARRAY(s.lock_sites, s.n_lock_sites, p->lock_sites, p->n_lock_sites, "lock sites");
    mp_snapshot_free(&s);
}

static void every_byte_flipped(uint8_t *buf, size_t len)
{
    char what[64];
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {   /* lowest and highest bit */
            buf[i] ^= (uint8_t)(1u << bit);
            snprintf(what, sizeof(what), "bit %d of byte %zu flipped", bit, i);
            expect_reject(buf, len, what);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
}

static void every_truncation(const uint8_t *buf, size_t len)
{
    char what[64];
    for (size_t n = 0; n < len; n++) {
        snprintf(what, sizeof(what), "truncated to %zu of %zu bytes", n, len);
        expect_reject(buf, n, what);
    }
    /* A byte too many is as wrong as a byte too few. */
    uint8_t *longer = calloc(1, len + 8);
    memcpy(longer, buf, len);
    expect_reject(longer, len + 1, "one trailing byte");
    expect_reject(longer, len + 8, "eight trailing zero bytes");
    free(longer);
}

/* Offset of section `type`'s table entry. */
static size_t section_entry(const uint8_t *buf, uint32_t type)
{
    mp_header h;
    memcpy(&h, buf, sizeof(h));
    for (size_t i = 0; i < h.section_count; i++) {
        mp_section s;
        size_t off = sizeof(mp_header) + i * sizeof(mp_section);
        memcpy(&s, buf + off, sizeof(s));
        if (s.type == type)
            return off;
    }
    fprintf(stderr, "section %u not found\n", type);
    exit(2);
}

static uint64_t section_offset(const uint8_t *buf, uint32_t type)
{
    mp_section s;
    memcpy(&s, buf + section_entry(buf, type), sizeof(s));
    return s.offset;
}

/* Applies one structural corruption to a copy, reseals it, expects rejection. */
#define CORRUPT(what, stmt)                                                               \
    do {                                                                                  \
        uint8_t *b = malloc(len);                                                         \
        memcpy(b, good, len);                                                             \
        stmt;                                                                             \
        reseal(b, len);                                                                   \
        expect_reject(b, len, what);                                                      \
        free(b);                                                                          \
    } while (0)

#define FIELD(type, sec, idx, field)                                                      \
    (*(__typeof__(((type *)0)->field) *)(b + section_offset(b, sec) + (idx) * sizeof(type) + \
                                         offsetof(type, field)))

static void structural(const uint8_t *good, size_t len)
{
    CORRUPT("version 2", ((mp_header *)b)->version = 2);
    CORRUPT("header size", ((mp_header *)b)->header_size = 8);
    CORRUPT("reserved header field", ((mp_header *)b)->reserved = 1);
    CORRUPT("section count beyond the table", ((mp_header *)b)->section_count = 1000000);
    CORRUPT("no sections", ((mp_header *)b)->section_count = 0);
    CORRUPT("heap count past the end",
            ((mp_section *)(b + section_entry(b, MP_SEC_HEAP)))->count = 1000000);
    CORRUPT("heap count overflowing", ((mp_section *)(b + section_entry(b, MP_SEC_HEAP)))->count =
                                          UINT64_MAX / 8);
    CORRUPT("misaligned section", ((mp_section *)(b + section_entry(b, MP_SEC_FRAMES)))->offset += 4);
    CORRUPT("section beyond the file",
            ((mp_section *)(b + section_entry(b, MP_SEC_FRAMES)))->offset = (uint64_t)len + 64);
    CORRUPT("section inside the header",
            ((mp_section *)(b + section_entry(b, MP_SEC_FRAMES)))->offset = 0);
    CORRUPT("overlapping sections",
            ((mp_section *)(b + section_entry(b, MP_SEC_HEAP)))->offset =
                section_offset(b, MP_SEC_STACKS));
    CORRUPT("wrong record size",
            ((mp_section *)(b + section_entry(b, MP_SEC_STACKS)))->record_size = 8);
    CORRUPT("no meta", ((mp_section *)(b + section_entry(b, MP_SEC_META)))->type = 99);
    CORRUPT("two meta sections", ((mp_section *)(b + section_entry(b, MP_SEC_LOCKS)))->type =
                                     MP_SEC_META);
    CORRUPT("strings not starting with NUL", b[section_offset(b, MP_SEC_STRINGS)] = 'x');
    CORRUPT("strings not NUL-terminated",
            b[section_offset(b, MP_SEC_STRINGS) + sizeof(strings) - 1] = 'x');
    CORRUPT("prog string out of range", FIELD(mp_meta, MP_SEC_META, 0, prog) = sizeof(strings));
    CORRUPT("sample_bytes 0", FIELD(mp_meta, MP_SEC_META, 0, sample_bytes) = 0);
    CORRUPT("module path out of range", FIELD(mp_module, MP_SEC_MODULES, 1, path) = 100000);
    CORRUPT("build ID too long", FIELD(mp_module, MP_SEC_MODULES, 0, build_id_len) = 33);
    CORRUPT("stack frames out of range", FIELD(mp_stack, MP_SEC_STACKS, 2, depth) = 3);
    CORRUPT("stack first frame out of range",
            FIELD(mp_stack, MP_SEC_STACKS, 1, first_frame) = UINT64_MAX - 1);
    CORRUPT("heap stack out of range", FIELD(mp_heap_site, MP_SEC_HEAP, 1, stack) = 3);
    CORRUPT("lock site stack out of range", FIELD(mp_lock, MP_SEC_LOCKS, 0, site_stack) = 3);
    CORRUPT("lock sites out of range", FIELD(mp_lock, MP_SEC_LOCKS, 0, site_count) = 3);
    CORRUPT("lock first site out of range",
            FIELD(mp_lock, MP_SEC_LOCKS, 0, first_site) = UINT64_MAX);
    CORRUPT("lock site role", FIELD(mp_lock_site, MP_SEC_LOCK_SITES, 1, role) = 7);
    CORRUPT("lock site stack", FIELD(mp_lock_site, MP_SEC_LOCK_SITES, 0, stack) = 0xfffffff0u);
}

/* The eight sections of version 1 (below). */
static size_t parts_as_list(const mp_sections *p, mp_section_src *out);

static void empty_sections(void)
{
    /* A process that allocated nothing sampled: empty sections are valid. */
    mp_sections p;
    mp_meta m = {.pid = 1, .seq = 1, .trigger = MP_TRIGGER_EXIT, .sample_bytes = 1};
    memset(&p, 0, sizeof(p));
    p.meta = &m;
    p.n_meta = 1;
    p.strings = "";
    p.n_strings = 1;
    mp_section_src list[16];
    size_t n = parts_as_list(&p, list);
    size_t len = mp_format_size_of(list, n);
    uint8_t *buf = calloc(1, len);
    mp_format_write_of(list, n, buf);
    CHECK(len == 464 && XXH3_64bits(buf, len) == 0x58c596d11881eae0ull,
          "version 1 bytes of an empty snapshot changed");
    mp_snapshot s;
    char err[512];
    int rc = load(buf, len, &s, err, sizeof(err));
    CHECK(rc == 0, "a snapshot with empty sections was rejected: %s", err);
    if (rc == 0) {
        CHECK(s.n_heap == 0 && s.n_stacks == 0 && s.n_locks == 0 && s.n_modules == 0,
              "empty sections came back non-empty");
        mp_snapshot_free(&s);
    }
    free(buf);
}

/*
 * Version 1's bytes are pinned: the synthetic parts, as the eight sections
 * of version 1 (parts_as_list), must serialise to exactly what the writer
 * produced before the section table was an X-macro (commit 7136adf). A
 * change here means files change: either undo it, or follow the version
 * policy in memprof_format.h and re-pin. Sections added since (MP_SEC_ANY,
 * by the policy) are not part of the pin: the writer appends them, which
 * an old reader skips.
 */
static void bytes_pinned(const mp_sections *p)
{
    mp_section_src list[16];
    size_t n = parts_as_list(p, list);
    size_t len = mp_format_size_of(list, n);
    uint8_t *buf = calloc(1, len);
    mp_format_write_of(list, n, buf);
    CHECK(len == 1048 && XXH3_64bits(buf, len) == 0x73940b7b17bce200ull,
          "version 1 bytes changed: %zu bytes, XXH3 %016llx", len,
          (unsigned long long)XXH3_64bits(buf, len));
    free(buf);
}

/* The eight sections of version 1 as its first writer wrote them, listed
 * independently of MP_SECTIONS: what an old file holds. */
static size_t parts_as_list(const mp_sections *p, mp_section_src *out)
{
    const mp_section_src all[] = {
        {MP_SEC_META, sizeof(mp_meta), p->meta, 1},
        {MP_SEC_STRINGS, 1, p->strings, p->n_strings},
        {MP_SEC_MODULES, sizeof(mp_module), p->modules, p->n_modules},
        {MP_SEC_STACKS, sizeof(mp_stack), p->stacks, p->n_stacks},
        {MP_SEC_FRAMES, sizeof(uint64_t), p->frames, p->n_frames},
        {MP_SEC_HEAP, sizeof(mp_heap_site), p->heap, p->n_heap},
        {MP_SEC_LOCKS, sizeof(mp_lock), p->locks, p->n_locks},
        {MP_SEC_LOCK_SITES, sizeof(mp_lock_site), p->lock_sites, p->n_lock_sites},
    };
    memcpy(out, all, sizeof(all));
    return sizeof(all) / sizeof(all[0]);
}

/* Writes the list (without section `drop`, 0 = none) and loads it. */
static int load_list(const mp_section_src *src, size_t n, uint32_t drop, mp_snapshot *snap,
                     char *err, size_t errlen)
{
    mp_section_src kept[32];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (src[i].type != drop)
            kept[k++] = src[i];
    size_t len = mp_format_size_of(kept, k);
    uint8_t *buf = calloc(1, len);
    mp_format_write_of(kept, k, buf);
    int rc = load(buf, len, snap, err, errlen);
    free(buf);
    return rc;
}

/*
 * The version policy, both ways: a file without an optional section (an
 * older writer's, for sections added later) reads with that section empty;
 * a file with sections this reader does not know (a newer writer's) reads,
 * the unknown ones skipped; a missing required section is refused.
 */
static void sections_optional_and_unknown(const mp_sections *p)
{
    mp_section_src list[16];
    size_t n = parts_as_list(p, list);
    mp_snapshot s;
    char err[512];
    for (unsigned i = 0; i < MP_SEC_COUNT; i++) {
        const mp_section_desc *d = mp_section_at(i);
        /* Dropping stacks, frames or lock sites alone leaves references
         * into them dangling: only sections nothing else points into may
         * go alone. */
        if (d->type == MP_SEC_STACKS || d->type == MP_SEC_FRAMES ||
            d->type == MP_SEC_LOCK_SITES)
            continue;
        int rc = load_list(list, n, d->type, &s, err, sizeof(err));
        if (d->rule == MP_SEC_ANY) {
            CHECK(rc == 0, "file without optional section %s rejected: %s", d->name, err);
            if (rc == 0)
                mp_snapshot_free(&s);
        } else {
            CHECK(rc != 0, "file without required section %s accepted", d->name);
            if (rc == 0)
                mp_snapshot_free(&s);
            CHECK(strstr(err, d->name) != NULL, "missing %s: message '%s' does not name it",
                  d->name, err);
        }
    }
    /* No locks at all (LOCKS and LOCK_SITES gone, an old file's view of
     * any pair of new sections): empty arrays. Modules gone: too. */
    mp_section_src fewer[16];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (list[i].type != MP_SEC_LOCKS && list[i].type != MP_SEC_LOCK_SITES &&
            list[i].type != MP_SEC_MODULES)
            fewer[k++] = list[i];
    int rc = load_list(fewer, k, 0, &s, err, sizeof(err));
    CHECK(rc == 0, "file without lock and module sections rejected: %s", err);
    if (rc == 0) {
        CHECK(s.locks == NULL && s.n_locks == 0 && s.lock_sites == NULL &&
                  s.n_lock_sites == 0 && s.n_modules == 0 && s.n_heap == p->n_heap,
              "absent sections did not read as empty");
        mp_snapshot_free(&s);
    }
    /* Two sections from the future (types this build does not know, one
     * of them twice), between known ones. */
    static const uint64_t future[3] = {1, 2, 3};
    mp_section_src more[20];
    k = 0;
    for (size_t i = 0; i < n; i++) {
        more[k++] = list[i];
        if (i == 2)
            more[k++] = (mp_section_src){200, 8, future, 3};
    }
    more[k++] = (mp_section_src){201, 24, future, 1};
    more[k++] = (mp_section_src){200, 8, future, 2};
    rc = load_list(more, k, 0, &s, err, sizeof(err));
    CHECK(rc == 0, "file with unknown sections rejected: %s", err);
    if (rc == 0) {
        SAME_ARRAY(s.heap, s.n_heap, p->heap, p->n_heap, "heap sites beside unknown sections");
        SAME_ARRAY(s.lock_sites, s.n_lock_sites, p->lock_sites, p->n_lock_sites,
                   "lock sites beside unknown sections");
        mp_snapshot_free(&s);
    }
    /* A known section twice is corrupt, not new. */
    more[0] = list[0];
    k = 0;
    for (size_t i = 0; i < n; i++)
        more[k++] = list[i];
    more[k++] = list[5];
    rc = load_list(more, k, 0, &s, err, sizeof(err));
    CHECK(rc != 0 && strstr(err, "HEAP") != NULL, "HEAP twice: rc %d, '%s'", rc, err);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof(path), "%s/memprof-unit-format.%d.mprof", tmp && *tmp ? tmp : "/tmp",
             (int)getpid());

    mp_sections p = make_parts();
    size_t len = mp_format_size(&p);
    uint8_t *buf = malloc(len);
    memset(buf, 0xee, len);
    mp_format_write(&p, buf);
    CHECK(len % 8 == 0, "file size %zu is not a multiple of 8", len);

    bytes_pinned(&p);
    round_trip(buf, len, &p);
    empty_sections();
    sections_optional_and_unknown(&p);
    every_byte_flipped(buf, len);
    every_truncation(buf, len);
    structural(buf, len);
    /* The buffer is intact again after all the flips: still loads. */
    round_trip(buf, len, &p);
    printf("round trip ok; %zu-byte file: %zu flips, %zu truncations rejected\n", len, 2 * len,
           len);
    unlink(path);
    free(buf);
    CHECK_DONE();
}
